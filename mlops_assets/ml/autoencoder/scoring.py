"""Scores: windows through the scorer, window scores back onto rows, and onto welds."""

from __future__ import annotations

import numpy as np
import torch

from edge_agent.features import aggregate_groups  # the edge's implementation: one weld score for both
from mlops_assets.ml.autoencoder.model import WindowScorer

__all__ = ["aggregate_groups", "rows_from_windows", "score_windows"]


def score_windows(
    scorer: WindowScorer, windows: np.ndarray, batch: int = 8192
) -> tuple[np.ndarray, np.ndarray]:
    """(score per window, error per window and signal) as float64 arrays."""
    scorer.eval()
    scores, signal_errors = [], []
    with torch.no_grad():
        for start in range(0, len(windows), batch):
            score, errors, _ = scorer(torch.from_numpy(np.ascontiguousarray(windows[start : start + batch])))
            scores.append(score.numpy())
            signal_errors.append(errors.numpy())
    if not scores:
        return np.empty(0), np.empty((0, scorer.n_signals))
    return np.concatenate(scores).astype(np.float64), np.concatenate(signal_errors).astype(np.float64)


def rows_from_windows(window_scores: np.ndarray, n_rows: int, window: int) -> np.ndarray:
    """Score per row from the scores of the stride-1 windows of a segment of `n_rows` (>= window) rows:
    the mean of every window that covers the row (window j covers rows j .. j + window - 1)."""
    n_windows = n_rows - window + 1
    if n_windows < 1 or len(window_scores) != n_windows:
        raise ValueError(f"{len(window_scores)} windows do not fit {n_rows} rows with window {window}")
    cumulative = np.concatenate([[0.0], np.cumsum(window_scores)])
    rows = np.arange(n_rows)
    first = np.maximum(rows - window + 1, 0)
    last = np.minimum(rows, n_windows - 1)
    return (cumulative[last + 1] - cumulative[first]) / (last - first + 1)
