"""The evaluation set the quality gate scores every model on: the held-out segments, as raw samples."""

from __future__ import annotations

import polars as pl

from mlops_assets.lake import LakeStore
from mlops_assets.ml.dataset import Segment
from mlops_assets.ml.feature_table import WELD_FEATURES, read_segments
from mlops_assets.ml.labels import label_map
from mlops_assets.ml.steps import line_segments

__all__ = ["holdout_segments"]


def holdout_segments(store: LakeStore, line: str, telemetry: pl.DataFrame) -> tuple[list[Segment], list[str]]:
    """The segments `weld_features` held out (later normal welds and known-bad ones), with their signals.

    Raw samples, not the candidate's windows: the champion may use another window or other signals,
    and must be scored with its own feature spec. Every held-out weld of `gold/weld_segments`, also one
    too short for a window (its weld score is its duration); a lake from before that table falls back
    to the welds that have windows."""
    listed = read_segments(store, line, ["holdout"])
    if listed.height == 0:
        listed = store.read(WELD_FEATURES, line=line, where=pl.col("split") == "holdout", columns=["segment"])
    keys = set(listed["segment"].unique().to_list()) if listed.height else set()
    segments, signals = line_segments(telemetry, label_map(store, line))
    return [s for s in segments if s.key in keys], signals
