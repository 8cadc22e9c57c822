"""The labelled bad welds of a line's history, as raw samples: what the quality gate measures recall on
when the held-out welds hold none (a retrain on a new regime)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import polars as pl

from mlops_assets.lake import VALIDATED_TELEMETRY, LakeStore
from mlops_assets.ml.autoencoder.dataset import Segment
from mlops_assets.ml.training.labels import WELD_LABELS
from mlops_assets.ml.training.telemetry_segments import telemetry_segments, usable_signals

__all__ = ["HistorySet", "labelled_history"]


@dataclass(frozen=True)
class HistorySet:
    segments: list[Segment]
    """The welds found, each labelled bad, in (cell, time) order."""
    signals: list[str]
    """The columns of every segment's values (as `HoldoutSet.signals`)."""
    labels_version: int | None
    """The `weld_labels` version read (None: the table does not exist)."""
    labelled_bad: int
    """Welds of the line labelled bad at that version, found in the telemetry or not."""


def _bad_weld_ids(store: LakeStore, line: str, labels_version: int | None) -> tuple[list[str], int | None]:
    if labels_version is None:
        labels_version = store.version(WELD_LABELS)
        if labels_version is None:
            return [], None
    labels = store.read(WELD_LABELS, line=line, columns=["weld_id", "is_anomaly"], version=labels_version)
    if labels.height == 0:
        return [], labels_version
    return labels.filter(pl.col("is_anomaly"))["weld_id"].unique().sort().to_list(), labels_version


def labelled_history(
    store: LakeStore,
    line: str,
    *,
    telemetry_version: int,
    labels_version: int | None,
    signals: Sequence[str],
    max_welds: int,
) -> HistorySet:
    """The welds of `line` labelled bad in `weld_labels` at `labels_version` (None: its latest version),
    rebuilt from `validated_telemetry` at `telemetry_version`: the latest `max_welds` of them by start.

    Only those welds' rows are read, over every day of the line (a line's history never has to fit in
    memory, its bad welds do). Signals as `holdout_segments`: the models' spec signals that the table
    has, all null ones filled at scoring as the edge fills them; no signal with a value is a ValueError.
    A weld labelled bad but absent from the telemetry (labelled later, or outside the version) is not
    part of the set."""
    bad, version = _bad_weld_ids(store, line, labels_version)
    if not bad:
        return HistorySet([], [], version, 0)
    scan = (
        store.scan(VALIDATED_TELEMETRY, version=telemetry_version)
        .filter(pl.col("line") == line)
        .filter(pl.col("weld_id").is_in(bad))
    )
    latest = (
        scan.group_by("weld_id")
        .agg(pl.col("ts").min().alias("start"))
        .sort("start")
        .tail(max_welds)
        .collect()
    )
    if latest.height == 0:
        return HistorySet([], [], version, len(bad))
    rows = scan.filter(pl.col("weld_id").is_in(latest["weld_id"].to_list())).collect()
    wanted = [s for s in dict.fromkeys(signals) if s in rows.columns]
    if not wanted or not usable_signals(rows, wanted):
        raise ValueError(
            f"none of the signals {list(signals)} has a value in the labelled bad welds of line {line} in "
            f"{VALIDATED_TELEMETRY} version {telemetry_version}"
        )
    segments = telemetry_segments(rows, wanted, dict.fromkeys(bad, True))
    return HistorySet(segments, wanted, version, len(bad))
