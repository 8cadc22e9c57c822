"""`model_evaluation`'s work: detection metrics of a model on the held-out windows and welds, with the
weld score the quality gate and the edge use (`mlops_assets.ml.autoencoder.weld_level`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from edge_agent.features import PackageThresholds
from mlops_assets.ml.autoencoder.metrics import detection_metrics
from mlops_assets.ml.autoencoder.model import WindowScorer
from mlops_assets.ml.autoencoder.scoring import score_windows
from mlops_assets.ml.autoencoder.weld_level import WeldEvaluation, evaluate_welds, weld_inputs

__all__ = ["HoldoutEvaluation", "evaluate_windows"]


@dataclass(frozen=True)
class HoldoutEvaluation:
    window: dict[str, Any]
    weld: dict[str, Any]
    """Metrics of the weld score (empty without a weld level)."""
    weld_components: dict[str, dict[str, Any]]
    arrays: dict[str, np.ndarray]
    welds: WeldEvaluation | None = None

    @property
    def level(self) -> str:
        """What the headline figures judge: welds when the line has weld ids, else windows."""
        return "weld" if self.weld else "window"

    @property
    def headline(self) -> dict[str, Any]:
        return self.weld or self.window

    def headline_scores(self) -> tuple[np.ndarray, np.ndarray]:
        """(labels, scores) of the headline level (weld scores are score / threshold: > 1 alarms)."""
        if self.weld:
            return self.arrays["weld_labels"], self.arrays["weld_scores"]
        return self.arrays["window_labels"], self.arrays["window_scores"]


def evaluate_windows(
    scorer: WindowScorer,
    windows: np.ndarray,
    meta: pl.DataFrame,
    thresholds: PackageThresholds,
    segments: pl.DataFrame | None = None,
) -> HoldoutEvaluation:
    """Window metrics on the held-out windows and weld metrics on the held-out welds (`segments`: the
    held-out rows of `gold/weld_segments`, needed by the duration component and to see welds without
    a window)."""
    scores, _ = score_windows(scorer, windows)
    labels = (meta["label"].fill_null(0).to_numpy() == 1).astype(np.int8)
    window_metrics = detection_metrics(labels, scores, thresholds.window.value)
    arrays = {"window_scores": scores, "window_labels": labels}
    weld_scorer = thresholds.weld_scorer
    if weld_scorer is None:
        return HoldoutEvaluation(dict(window_metrics), {}, {}, arrays)
    welds = evaluate_welds(weld_scorer, weld_inputs(scores, meta, segments, weld_scorer.aggregation))
    arrays.update(weld_scores=welds.scores.score[welds.scored], weld_labels=welds.labels[welds.scored])
    return HoldoutEvaluation(dict(window_metrics), welds.metrics, welds.components, arrays, welds)
