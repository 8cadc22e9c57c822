"""Segments of samples -> a time-ordered split and windows, with the shared edge feature code.

A `Segment` is a run of consecutive samples of one cell: one weld when weld ids are known, else a
stretch of a cell's stream (or of a CSV) between gaps. Labels, when known, are per segment (a bad weld).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from edge_agent.features import (
    FeatureSpec,
    fill_missing,
    fit_feature_spec,
    pad_to_window,
    standardise,
    window_matrix,
    window_starts,
)

__all__ = ["Segment", "SegmentSplit", "WindowSet", "fit_spec", "split_segments", "windows_of"]


@dataclass(frozen=True)
class Segment:
    key: str
    """Unique name, e.g. `cell-01/cell-01-w000042` or `rows 0-9405`."""
    values: np.ndarray
    """(n_rows, n_signals) raw values, NaN where missing, in the order of the `signals` they were read with."""
    start: float = 0.0
    """Sort key for the time-ordered split (epoch ms, or the first row number)."""
    cell: str = ""
    weld_id: str | None = None
    label: int | None = None
    """1 when the whole segment is known anomalous, 0 known normal, None unknown (treated as normal)."""
    first_row: int = 0
    """Index of the segment's first row in the source (a CSV), to put row scores back in place."""

    @property
    def n_rows(self) -> int:
        return int(self.values.shape[0])

    @property
    def anomalous(self) -> bool:
        return self.label == 1


@dataclass(frozen=True)
class SegmentSplit:
    train: list[Segment]
    validation: list[Segment]
    holdout: list[Segment]

    def summary(self) -> dict[str, int]:
        return {
            "train_segments": len(self.train),
            "validation_segments": len(self.validation),
            "holdout_segments": len(self.holdout),
            "holdout_anomalous_segments": sum(s.anomalous for s in self.holdout),
        }


def split_segments(
    segments: Sequence[Segment], val_fraction: float = 0.2, holdout_fraction: float = 0.3
) -> SegmentSplit:
    """Time-ordered split, never random: the first `1 - holdout_fraction` of the normal segments (by start
    time) train and validate (the last `val_fraction` of those validate); everything after, plus every
    segment labelled anomalous, is held out for evaluation, so anomalous segments never train. Raises
    when too few normal segments remain to train."""
    if not 0 < val_fraction < 1 or not 0 <= holdout_fraction < 1:
        raise ValueError("val_fraction must be in (0, 1) and holdout_fraction in [0, 1)")
    ordered = sorted(segments, key=lambda s: (s.start, s.key))
    normal = [s for s in ordered if s.label != 1]
    known_bad = [s for s in ordered if s.label == 1]
    n_fit = len(normal) - round(len(normal) * holdout_fraction)
    if n_fit < 2:
        raise ValueError(f"{len(normal)} normal segments: too few to train and validate (need at least 2)")
    fit, holdout = normal[:n_fit], normal[n_fit:]
    n_val = min(max(1, round(n_fit * val_fraction)), n_fit - 1)
    return SegmentSplit(
        train=fit[:-n_val],
        validation=fit[-n_val:],
        holdout=sorted(holdout + known_bad, key=lambda s: (s.start, s.key)),
    )


def fit_spec(
    train: Sequence[Segment],
    signals: Sequence[str],
    window: int,
    stride: int,
    sample_interval_ms: float | None = None,
) -> FeatureSpec:
    """Centre and scale from the training segments only; signals constant there are dropped."""
    rows = np.concatenate([fill_missing(s.values) for s in train]) if train else np.empty((0, len(signals)))
    return fit_feature_spec(rows, signals, window, stride, sample_interval_ms=sample_interval_ms)


def _column_index(spec: FeatureSpec, signals: Sequence[str]) -> list[int]:
    position = {name: i for i, name in enumerate(signals)}
    missing = [s for s in spec.signals if s not in position]
    if missing:
        raise ValueError(f"the data lacks the model's signals {missing}")
    return [position[s] for s in spec.signals]


@dataclass(frozen=True)
class WindowSet:
    """Flattened windows and where each came from."""

    windows: np.ndarray  # (m, window * n_signals) float32
    segment: np.ndarray  # (m,) index into the segment list
    start: np.ndarray  # (m,) first row of the window within its segment (after padding: may be negative)
    keys: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.windows)


def windows_of(
    segments: Sequence[Segment],
    spec: FeatureSpec,
    signals: Sequence[str],
    stride: int | None = None,
    pad_short: bool = False,
) -> WindowSet:
    """Standardised windows of every segment (stride defaults to the spec's), via the edge feature code.

    `pad_short` repeats the first row of a segment shorter than a window so that it still gets one.
    """
    columns = _column_index(spec, signals)
    stride = stride or spec.stride
    parts, owners, starts = [], [], []
    for index, seg in enumerate(segments):
        values = fill_missing(seg.values[:, columns])
        added = 0
        if pad_short:
            values, added = pad_to_window(values, spec.window)
        z = standardise(values, spec)
        first = window_starts(len(z), spec.window, stride)
        if first.size == 0:
            continue
        parts.append(window_matrix(z, spec.window, starts=first))
        owners.append(np.full(first.size, index, dtype=np.int64))
        starts.append(first - added)
    if not parts:
        return WindowSet(
            np.empty((0, spec.n_features), np.float32), np.empty(0, np.int64), np.empty(0, np.int64)
        )
    return WindowSet(
        np.concatenate(parts), np.concatenate(owners), np.concatenate(starts), [s.key for s in segments]
    )
