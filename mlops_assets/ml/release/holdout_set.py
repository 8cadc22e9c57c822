"""The set the quality gate scores every model on: the held-out segments of a line, as raw samples."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from mlops_assets.lake import VALIDATED_TELEMETRY, LakeStore
from mlops_assets.ml.autoencoder.dataset import Segment
from mlops_assets.ml.training.feature_table import read_model_segments, read_model_windows
from mlops_assets.ml.training.labels import label_map
from mlops_assets.ml.training.telemetry import telemetry_slice
from mlops_assets.ml.training.telemetry_segments import telemetry_segments, usable_signals

__all__ = ["HoldoutSet", "holdout_segments"]


@dataclass(frozen=True)
class HoldoutSet:
    segments: list[Segment]
    signals: list[str]
    """The columns of every segment's values: the signals asked for that the table has, in that order."""
    days: list[dt.date]
    """The telemetry days read: from the first held-out segment's day on."""


def holdout_segments(
    store: LakeStore, line: str, *, spec_id: str, telemetry_version: int, signals: Sequence[str]
) -> HoldoutSet:
    """The segments `weld_features` held out (later normal welds and known-bad ones) for the model cut
    with `spec_id`, rebuilt from `validated_telemetry` at the version `weld_features` read.

    Raw samples, not the candidate's windows: the champion may use another window or other signals, and
    must be scored with its own feature spec. Every held-out weld of `gold/weld_segments`, also one too
    short for a window (its weld score is its duration); a lake from before that table falls back to
    the welds that have windows. Only the days from the first held-out segment on are read.

    The segments hold `signals` (the models' spec signals), not those with values on these days: a
    signal a model was trained on may be all null here (the line stopped sending it), and is then
    filled as the edge fills a missing signal. A signal that is not a column of the table at all is left
    out (scoring a model that needs it raises, naming it); no signal with a value is a ValueError."""
    listed = read_model_segments(store, line, ["holdout"], spec_id)
    first_day = None
    if listed.height:
        first_day = listed["segment_start_ts"].min().date()  # type: ignore[union-attr]
    else:
        _, listed = read_model_windows(store, line, ["holdout"], spec_id)
    if listed.height == 0:
        raise ValueError(f"no held-out segments for line {line}")
    keys = set(listed["segment"].unique().to_list())
    telemetry = telemetry_slice(store, line, version=telemetry_version, from_day=first_day)
    # A signal with no column at all stays out: scoring then names it for the model that needs it.
    wanted = [s for s in dict.fromkeys(signals) if s in telemetry.frame.columns]
    if not wanted or not usable_signals(telemetry.frame, wanted):
        raise ValueError(
            f"none of the signals {list(signals)} has a value on the held-out days of line {line} in "
            f"{VALIDATED_TELEMETRY} version {telemetry_version}"
        )
    segments = telemetry_segments(telemetry.frame, wanted, label_map(store, line))
    held = [s for s in segments if s.key in keys]
    if len(held) != len(keys):
        missing = sorted(keys - {s.key for s in held})[:5]
        raise ValueError(
            f"{len(keys) - len(held)} held-out segments of line {line} are not in validated_telemetry "
            f"version {telemetry_version} (e.g. {missing})"
        )
    return HoldoutSet(held, wanted, telemetry.days)
