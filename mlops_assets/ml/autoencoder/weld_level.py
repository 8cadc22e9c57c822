"""Weld-level scoring on the training side: fits the duration component and evaluates the weld score
of `edge_agent.features.weld_score`, so the threshold and evaluation steps, the quality gate and the
edge all use the same number."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from edge_agent.features import (
    MIN_DURATION_BOUND,
    DurationModel,
    WeldScorer,
    WeldScores,
    aggregate_groups,
    duration_scores,
    fit_duration,
)
from mlops_assets.ml.autoencoder.metrics import detection_metrics
from mlops_assets.ml.autoencoder.thresholds import fit_threshold

__all__ = ["WeldEvaluation", "WeldInputs", "evaluate_welds", "fit_weld_duration", "weld_inputs"]


def fit_weld_duration(
    train_lengths: np.ndarray, val_lengths: np.ndarray, method: str, params: Mapping[str, float]
) -> DurationModel:
    """The duration component: robust centre/scale of the TRAINING welds' lengths, the bound from the
    VALIDATION welds' duration scores with `fit_threshold` and the weld threshold's method and
    parameters (never below `MIN_DURATION_BOUND`)."""
    center, scale = fit_duration(train_lengths)
    fitted = fit_threshold(duration_scores(val_lengths, center, scale), method, **params)  # type: ignore[arg-type]
    found = dict(fitted.params)
    if fitted.value < MIN_DURATION_BOUND:
        found["floored_from"] = fitted.value
    return DurationModel(
        center=center,
        scale=scale,
        bound=max(fitted.value, MIN_DURATION_BOUND),
        method=fitted.method,
        params=found,
        n_fit=int(np.isfinite(np.asarray(train_lengths, dtype=np.float64)).sum()),
        n_scores=fitted.n_scores,
    )


@dataclass(frozen=True)
class WeldInputs:
    keys: np.ndarray
    labels: np.ndarray
    """1 = known anomalous."""
    shape: np.ndarray
    """Aggregated window score (NaN: the weld has no window)."""
    n_samples: np.ndarray
    """Length in samples (NaN: unknown, when the lake has no `weld_segments`)."""

    def __len__(self) -> int:
        return len(self.keys)


def weld_inputs(
    window_scores: np.ndarray, meta: pl.DataFrame, segments: pl.DataFrame | None, aggregation: str
) -> WeldInputs:
    """Per weld: from `segments` (every weld) when given, else from the windows' metadata (welds with
    windows only, length unknown)."""
    if len(window_scores):
        keys, shape = aggregate_groups(window_scores, meta["segment"].to_numpy(), aggregation)
    else:
        keys, shape = np.empty(0, dtype=object), np.empty(0)
    by_key = dict(zip(keys.tolist(), shape.tolist(), strict=True))
    if segments is None or segments.height == 0:
        labels_of = dict(zip(meta["segment"].to_list(), meta["label"].fill_null(0).to_list(), strict=True))
        return WeldInputs(
            keys=keys,
            labels=np.array([labels_of[k] == 1 for k in keys.tolist()], dtype=np.int8),
            shape=shape,
            n_samples=np.full(len(keys), np.nan),
        )
    weld_keys = segments["segment"].to_numpy()
    return WeldInputs(
        keys=weld_keys,
        labels=(segments["label"].fill_null(0).to_numpy() == 1).astype(np.int8),
        shape=np.array([by_key.get(k, np.nan) for k in weld_keys.tolist()], dtype=np.float64),
        n_samples=segments["n_samples"].cast(pl.Float64).to_numpy(),
    )


@dataclass(frozen=True)
class WeldEvaluation:
    metrics: dict[str, Any]
    """Of the weld score at 1, on every weld that has one; plus `alarms_<component>` counts."""
    components: dict[str, dict[str, Any]]
    """Of each component alone at 1, on the welds that have it."""
    scores: WeldScores
    labels: np.ndarray
    scored: np.ndarray
    """Mask of the welds with a weld score."""


def evaluate_welds(scorer: WeldScorer, inputs: WeldInputs) -> WeldEvaluation:
    """Detection metrics of the weld score at 1 (the alarm), and of each component alone."""
    if scorer.duration is not None and np.isnan(inputs.n_samples).any():
        raise ValueError("the weld-duration component needs every weld's length: materialise weld_features")
    scores = scorer.score_welds(inputs.shape, inputs.n_samples)
    scored = np.isfinite(scores.score)
    metrics: dict[str, Any] = dict(detection_metrics(inputs.labels[scored], scores.score[scored], 1.0))
    components = {}
    for name, values in scores.components.items():
        mine = np.isfinite(values)
        components[name] = dict(detection_metrics(inputs.labels[mine], values[mine], 1.0))
        metrics[f"alarms_{name}"] = int(np.sum(values[scored] > 1.0))
    metrics["welds_without_windows"] = int(np.isnan(inputs.shape).sum())
    return WeldEvaluation(metrics, components, scores, inputs.labels, scored)
