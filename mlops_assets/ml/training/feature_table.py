"""The gold tables `weld_features` writes (one row per window, one per segment, the feature specs) and
the readers of the later steps, which refuse windows cut with another spec than their model's."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence

import numpy as np
import polars as pl

from edge_agent.features import FeatureSpec
from mlops_assets.lake import LakeStore, TableRef
from mlops_assets.ml.autoencoder.dataset import Segment, WindowSet

__all__ = [
    "FEATURE_SPECS",
    "WELD_FEATURES",
    "WELD_SEGMENTS",
    "FeaturesMismatch",
    "read_model_segments",
    "read_model_windows",
    "read_segments",
    "read_spec",
    "read_windows",
    "segments_frame",
    "spec_id_of",
    "windows_frame",
    "write_spec",
]

WELD_FEATURES = TableRef("gold", "weld_features")
"""Partitioned by line: line, spec_id, split (train / validation / holdout), cell, weld_id, segment,
window_start (row within the segment), window_start_ts, label (1 known bad, 0 known good, null unknown),
features (list of float32, time-major). A materialisation replaces its line."""
FEATURE_SPECS = TableRef("gold", "feature_specs")
"""spec_id, line, spec_json, created_at: the spec the edge package ships verbatim."""
WELD_SEGMENTS = TableRef("gold", "weld_segments")
"""Partitioned by line: one row per segment of every split, with its length in samples and its number
of windows, so that weld-level steps see every weld, including one too short for a window (the
weld-duration component scores it); replaced with `weld_features`."""


def spec_id_of(spec: FeatureSpec) -> str:
    return hashlib.sha256(spec.to_json().encode()).hexdigest()[:16]


def windows_frame(
    line: str, spec_id: str, split: str, segments: Sequence[Segment], windows: WindowSet
) -> pl.DataFrame:
    owners = [segments[i] for i in windows.segment]
    start_ms = np.array([s.start for s in owners], dtype=np.float64)
    return pl.DataFrame(
        {
            "line": [line] * len(windows),
            "spec_id": [spec_id] * len(windows),
            "split": [split] * len(windows),
            "cell": [s.cell for s in owners],
            "weld_id": [s.weld_id for s in owners],
            "segment": [s.key for s in owners],
            "window_start": windows.start.astype(np.int32),
            "segment_start_ts": pl.Series(start_ms.astype(np.int64))
            .cast(pl.Datetime("ms", "UTC"))
            .cast(pl.Datetime("us", "UTC")),
            "label": pl.Series([s.label for s in owners], dtype=pl.Int8),
            "features": pl.Series(windows.windows).cast(pl.List(pl.Float32))
            if len(windows)
            else pl.Series([], dtype=pl.List(pl.Float32)),
        }
    )


def segments_frame(
    line: str, spec_id: str, split: str, segments: Sequence[Segment], windows: WindowSet
) -> pl.DataFrame:
    """One row per segment: where it belongs, its label, its length in samples and its window count."""
    counts = np.bincount(windows.segment, minlength=len(segments)) if len(segments) else np.empty(0, int)
    start_ms = np.array([s.start for s in segments], dtype=np.int64)
    return pl.DataFrame(
        {
            "line": pl.Series([line] * len(segments), dtype=pl.String),
            "spec_id": pl.Series([spec_id] * len(segments), dtype=pl.String),
            "split": pl.Series([split] * len(segments), dtype=pl.String),
            "cell": pl.Series([s.cell for s in segments], dtype=pl.String),
            "weld_id": pl.Series([s.weld_id for s in segments], dtype=pl.String),
            "segment": pl.Series([s.key for s in segments], dtype=pl.String),
            "segment_start_ts": pl.Series(start_ms)
            .cast(pl.Datetime("ms", "UTC"))
            .cast(pl.Datetime("us", "UTC")),
            "label": pl.Series([s.label for s in segments], dtype=pl.Int8),
            "n_samples": pl.Series([s.n_rows for s in segments], dtype=pl.Int64),
            "n_windows": pl.Series(counts.astype(np.int64), dtype=pl.Int64),
        }
    )


def read_segments(store: LakeStore, line: str, splits: Sequence[str]) -> pl.DataFrame:
    """The segments of some splits of a line (empty frame when `weld_features` predates the table)."""
    return store.read(WELD_SEGMENTS, line=line, where=pl.col("split").is_in(list(splits)))


def read_windows(store: LakeStore, line: str, splits: Sequence[str]) -> tuple[np.ndarray, pl.DataFrame]:
    """(windows (n, n_features) float32, their metadata) of some splits of a line, in table order."""
    frame = store.read(WELD_FEATURES, line=line, where=pl.col("split").is_in(list(splits)))
    if frame.height == 0:
        return np.empty((0, 0), dtype=np.float32), frame
    width = frame["features"].list.len().max()
    windows = frame["features"].list.to_array(int(width)).to_numpy().astype(np.float32)  # type: ignore[arg-type]
    return windows, frame.drop("features")


class FeaturesMismatch(ValueError):
    """`gold/weld_features` no longer holds the windows a model was trained for."""


def _check_spec(store: LakeStore, table: TableRef, line: str, found: pl.DataFrame, spec_id: str) -> None:
    ids = found["spec_id"].unique().to_list() if found.height else []
    if not ids:  # none of the splits asked for: the line's table still tells which spec cut it
        line_rows = store.read(table, line=line, columns=["spec_id"])
        ids = line_rows["spec_id"].unique().to_list() if line_rows.height else []
    if ids and sorted(ids) != [spec_id]:
        raise FeaturesMismatch(
            f"{table} of line {line} was cut with feature spec {sorted(ids)}, the model uses {spec_id} "
            "(weld_features was materialised again since this model was trained): materialise the "
            "chain from weld_features"
        )


def read_model_windows(
    store: LakeStore, line: str, splits: Sequence[str], spec_id: str
) -> tuple[np.ndarray, pl.DataFrame]:
    """`read_windows`, refusing a table cut with another spec than the model's (`spec_id_of(model spec)`):
    scoring with another centre/scale, or on what are now the model's training welds, is silently wrong."""
    windows, meta = read_windows(store, line, splits)
    _check_spec(store, WELD_FEATURES, line, meta, spec_id)
    return windows, meta


def read_model_segments(store: LakeStore, line: str, splits: Sequence[str], spec_id: str) -> pl.DataFrame:
    """`read_segments`, refusing a table cut with another spec than the model's (empty when the lake
    predates `gold/weld_segments`)."""
    frame = read_segments(store, line, splits)
    _check_spec(store, WELD_SEGMENTS, line, frame, spec_id)
    return frame


def write_spec(store: LakeStore, line: str, spec: FeatureSpec) -> str:
    spec_id = spec_id_of(spec)
    row = pl.DataFrame(
        {
            "spec_id": [spec_id],
            "line": [line],
            "spec_json": [spec.to_json()],
            "created_at": [dt.datetime.now(dt.UTC)],
        },
        schema={
            "spec_id": pl.String,
            "line": pl.String,
            "spec_json": pl.String,
            "created_at": pl.Datetime("us", "UTC"),
        },
    )
    store.merge_new_rows(FEATURE_SPECS, row, keys=["spec_id", "line"])
    return spec_id


def read_spec(store: LakeStore, line: str, spec_id: str) -> FeatureSpec:
    found = store.read(FEATURE_SPECS, line=line, where=pl.col("spec_id") == spec_id)
    if found.height == 0:
        raise LookupError(f"feature spec {spec_id} of line {line} is not in {FEATURE_SPECS}")
    return FeatureSpec.from_json(found["spec_json"][0])
