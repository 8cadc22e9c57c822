"""`weld_features`' work: one line's telemetry cut into segments, split by time, and written as windows."""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from edge_agent.features import FeatureSpec
from mlops_assets.lake import LakeStore, signal_columns
from mlops_assets.ml.autoencoder.dataset import Segment, SegmentSplit, fit_spec, split_segments, windows_of
from mlops_assets.ml.training.feature_table import (
    WELD_FEATURES,
    WELD_SEGMENTS,
    segments_frame,
    windows_frame,
    write_spec,
)
from mlops_assets.ml.training.telemetry_segments import telemetry_segments, usable_signals

__all__ = ["FeatureBuild", "build_features", "line_segments"]


@dataclass(frozen=True)
class FeatureBuild:
    spec: FeatureSpec
    spec_id: str
    split: SegmentSplit
    windows: dict[str, int]
    table_version: int | None


def line_segments(telemetry: pl.DataFrame, labels: dict[str, bool]) -> tuple[list[Segment], list[str]]:
    signals = usable_signals(telemetry, signal_columns(telemetry.columns))
    if not signals:
        raise ValueError("the line's telemetry has no signal with values")
    return telemetry_segments(telemetry, signals, labels), signals


def build_features(
    store: LakeStore,
    line: str,
    telemetry: pl.DataFrame,
    labels: dict[str, bool],
    *,
    window: int,
    stride: int,
    val_fraction: float,
    holdout_fraction: float,
) -> FeatureBuild:
    """Split the line's welds by time, fit the spec on training welds only, write every window."""
    segments, signals = line_segments(telemetry, labels)
    split = split_segments(segments, val_fraction, holdout_fraction)
    interval = telemetry["sample_interval_ms"].median()
    spec = fit_spec(split.train, signals, window, stride, float(interval) if interval is not None else None)  # type: ignore[arg-type]
    spec_id = write_spec(store, line, spec)
    frames, segment_frames, counts = [], [], {}
    for name, part in (("train", split.train), ("validation", split.validation), ("holdout", split.holdout)):
        windows = windows_of(part, spec, signals)
        counts[name] = len(windows)
        frames.append(windows_frame(line, spec_id, name, part, windows))
        segment_frames.append(segments_frame(line, spec_id, name, part, windows))
    if counts["train"] == 0 or counts["validation"] == 0:
        raise ValueError(
            f"no training or validation windows of {window} samples: {counts} (welds shorter than a window?)"
        )
    where = f"line = '{line}'"
    store.replace_where(WELD_SEGMENTS, pl.concat(segment_frames), where, partition_by=["line"])
    result = store.replace_where(WELD_FEATURES, pl.concat(frames), where, partition_by=["line"])
    return FeatureBuild(spec, spec_id, split, counts, result.version)
