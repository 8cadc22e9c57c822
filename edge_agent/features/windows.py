"""Samples -> standardised, flattened windows: the one implementation the edge and training share.

A segment is a run of consecutive samples of one cell (one weld, or one stretch of a historian export),
as an array `(n_samples, n_signals)` with the spec's signals in the spec's order. Windows never cross
segments. A window's feature vector is time-major: `feature[t * n_signals + s]`.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from edge_agent.features.spec import FeatureSpec

__all__ = [
    "fill_missing",
    "pad_to_window",
    "select_signals",
    "standardise",
    "window_matrix",
    "window_starts",
]


def select_signals(columns: Mapping[str, np.ndarray], spec: FeatureSpec) -> np.ndarray:
    """Stack the spec's signals, in its order, into `(n, n_signals)` float64; a missing one is all NaN."""
    lengths = {len(v) for v in columns.values()}
    if len(lengths) > 1:
        raise ValueError(f"signals differ in length: {sorted(lengths)}")
    n = lengths.pop() if lengths else 0
    out = np.full((n, spec.n_signals), np.nan, dtype=np.float64)
    for index, name in enumerate(spec.signals):
        if name in columns:
            out[:, index] = np.asarray(columns[name], dtype=np.float64)
    return out


def fill_missing(values: np.ndarray) -> np.ndarray:
    """Carry the last valid value forward per signal (a historian holds the last value); leading gaps stay NaN.

    Remaining NaNs become the signal's centre in `standardise`.
    """
    values = np.array(values, dtype=np.float64, copy=True)
    missing = ~np.isfinite(values)
    if not missing.any():
        return values
    n = values.shape[0]
    index = np.where(missing, 0, np.arange(n)[:, None])
    np.maximum.accumulate(index, axis=0, out=index)
    filled = np.take_along_axis(values, index, axis=0)
    # Rows before the first valid value took row 0, which may itself be missing: that stays NaN.
    return np.where(np.isfinite(filled), filled, np.nan)


def standardise(values: np.ndarray, spec: FeatureSpec) -> np.ndarray:
    """(x - centre) / scale per signal, float32; missing -> 0 (the centre); clipped to +-spec.clip."""
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 2 or values.shape[1] != spec.n_signals:
        raise ValueError(f"expected (n, {spec.n_signals}) values for {spec.signals}, got {values.shape}")
    z: np.ndarray = (values - np.asarray(spec.center)) / np.asarray(spec.scale)
    z = np.nan_to_num(z, nan=0.0, posinf=spec.clip, neginf=-spec.clip)
    np.clip(z, -spec.clip, spec.clip, out=z)
    return z.astype(np.float32)


def pad_to_window(values: np.ndarray, window: int) -> tuple[np.ndarray, int]:
    """Repeat the first row in front of a segment shorter than `window`; returns (values, rows added)."""
    missing = window - values.shape[0]
    if missing <= 0 or values.shape[0] == 0:
        return values, 0
    return np.concatenate([np.repeat(values[:1], missing, axis=0), values]), missing


def _check_window(window: int, stride: int) -> None:
    # A zero window has no samples and a zero stride never advances: refuse both before numpy does
    # something obscure with them (an empty view, a ZeroDivisionError).
    if window < 1 or stride < 1:
        raise ValueError(f"window and stride must be >= 1, got {window} and {stride}")


def window_starts(n_samples: int, window: int, stride: int) -> np.ndarray:
    """Start index of every window of a segment of `n_samples`: 0, stride, 2*stride, ..."""
    _check_window(window, stride)
    if n_samples < window:
        return np.empty(0, dtype=np.int64)
    return np.arange(0, n_samples - window + 1, stride, dtype=np.int64)


def window_matrix(
    z: np.ndarray, window: int, stride: int = 1, starts: np.ndarray | None = None
) -> np.ndarray:
    """Flattened windows of standardised samples `z` (n, n_signals): `(n_windows, window * n_signals)`."""
    _check_window(window, stride)
    if starts is None:
        starts = window_starts(z.shape[0], window, stride)
    if starts.size == 0:
        return np.empty((0, window * z.shape[1]), dtype=np.float32)
    view = np.lib.stride_tricks.sliding_window_view(z, window, axis=0)  # (n - w + 1, s, w)
    picked = view[starts].transpose(0, 2, 1)  # (m, w, s): time-major
    return np.ascontiguousarray(picked, dtype=np.float32).reshape(len(starts), -1)
