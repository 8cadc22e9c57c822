"""`anomaly_threshold`'s work: the window threshold, the weld score's components (shape and, with
`weld_duration`, duration; `edge_agent.features.weld_score`) and each signal's error threshold, fitted
on the validation windows and welds as the package's `threshold.json`."""

from __future__ import annotations

import numpy as np
import polars as pl

from edge_agent.features import FeatureSpec, PackageThresholds
from mlops_assets.ml.autoencoder.model import WindowScorer
from mlops_assets.ml.autoencoder.scoring import aggregate_groups, score_windows
from mlops_assets.ml.autoencoder.thresholds import fit_threshold
from mlops_assets.ml.autoencoder.weld_level import fit_weld_duration

__all__ = ["fit_thresholds", "signal_thresholds"]


def signal_thresholds(
    signal_errors: np.ndarray, spec: FeatureSpec, quantile: float = 0.99
) -> dict[str, float]:
    """Per signal, the quantile of its error on normal windows: an alert names the signals above theirs."""
    return {name: float(np.quantile(signal_errors[:, i], quantile)) for i, name in enumerate(spec.signals)}


def fit_thresholds(
    scorer: WindowScorer,
    spec: FeatureSpec,
    val: np.ndarray,
    meta: pl.DataFrame,
    method: str,
    params: dict[str, float],
    weld_aggregation: str,
    segments: pl.DataFrame | None = None,
    weld_duration: bool = True,
) -> tuple[PackageThresholds, np.ndarray, np.ndarray | None]:
    """threshold.json's content, validation window scores and validation weld (shape) scores.

    `segments`: the train and validation rows of `gold/weld_segments`; with `weld_duration` (and weld
    ids) the duration component is fitted on them: centre and scale on train, bound on validation."""
    scores, signal_errors = score_windows(scorer, val)
    window = fit_threshold(scores, method, **params)  # type: ignore[arg-type]
    weld = None
    welds = None
    duration = None
    if meta["weld_id"].null_count() < meta.height:
        _, welds = aggregate_groups(scores, meta["segment"].to_numpy(), weld_aggregation)
        weld = fit_threshold(welds, method, **params)  # type: ignore[arg-type]
        if weld_duration:
            if segments is None or segments.height == 0:
                raise ValueError(
                    "the weld-duration component needs gold/weld_segments: materialise weld_features "
                    "(or set weld_duration: false on anomaly_threshold)"
                )
            lengths = {
                name: segments.filter(pl.col("split") == name)["n_samples"].to_numpy()
                for name in ("train", "validation")
            }
            duration = fit_weld_duration(lengths["train"], lengths["validation"], method, params)
    thresholds = PackageThresholds(
        window=window,
        weld=weld,
        weld_aggregation=weld_aggregation,
        weld_duration=duration,
        signal_errors=signal_thresholds(signal_errors, spec),
    )
    return thresholds, scores, welds
