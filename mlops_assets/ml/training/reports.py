"""Evaluation figures as the Dagster UI shows them: a markdown table of the headline metrics per level
(window, weld, and each weld-score component alone)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from mlops_assets.ml.autoencoder.metrics import HEADLINE_METRICS

if TYPE_CHECKING:  # torch-bound: the code location imports this module without torch
    from mlops_assets.ml.training.holdout_evaluation import HoldoutEvaluation

__all__ = ["fmt", "metrics_markdown"]


def fmt(value: object) -> str:
    """A metric as a table cell: 4 decimals for floats, `-` when it could not be computed."""
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4f}" if math.isfinite(value) else str(value)
    return str(value)


def metrics_markdown(evaluation: HoldoutEvaluation) -> str:
    """One row per headline metric (and the threshold), one column per level and component."""
    components = evaluation.weld_components
    header = " | ".join(["metric", "window", "weld", *(f"weld: {c} alone" for c in components)])
    rows = [
        "| "
        + " | ".join(
            [key, fmt(evaluation.window.get(key)), fmt(evaluation.weld.get(key))]
            + [fmt(components[c].get(key)) for c in components]
        )
        + " |"
        for key in (*HEADLINE_METRICS, "threshold")
    ]
    return f"| {header} |\n|{' --- |' * (3 + len(components))}\n" + "\n".join(rows)
