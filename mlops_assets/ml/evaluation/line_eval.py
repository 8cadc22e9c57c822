"""One line's training chain on a lake (the assets' steps), and its weld-level figures with and without
the duration component: `shape` (the weld score before it), `combined` (the product's weld score) and
the duration component alone (`duration_alone`). Used by `flash_butt_eval` and `simulator_eval`."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import polars as pl

from edge_agent.features import PackageThresholds
from mlops_assets.lake import LakeStore
from mlops_assets.ml.autoencoder.metrics import detection_metrics
from mlops_assets.ml.autoencoder.model import AutoencoderConfig, WindowScorer
from mlops_assets.ml.autoencoder.scoring import score_windows
from mlops_assets.ml.training.feature_table import read_model_segments, read_model_windows
from mlops_assets.ml.training.features import build_features
from mlops_assets.ml.training.holdout_evaluation import evaluate_windows
from mlops_assets.ml.training.labels import label_map
from mlops_assets.ml.training.run_model import train_from_lake
from mlops_assets.ml.training.telemetry import telemetry_slice
from mlops_assets.ml.training.threshold_fit import fit_thresholds

__all__ = ["REPORTED", "auc_standard_error", "evaluate_line"]

REPORTED = (
    "n",
    "n_anomalous",
    "tp",
    "fp",
    "precision",
    "recall",
    "f1",
    "false_alarm_rate",
    "roc_auc",
    "average_precision",
)


def auc_standard_error(labels: np.ndarray, scores: np.ndarray, rounds: int = 1000) -> float | None:
    """Bootstrap standard error of the ROC-AUC (welds resampled, seed 0)."""
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(0)
    found = []
    for _ in range(rounds):
        pick = rng.integers(0, len(labels), len(labels))
        if 0 < labels[pick].sum() < len(pick):
            found.append(roc_auc_score(labels[pick], scores[pick]))
    return float(np.std(found)) if found else None


def _weld_figures(
    scorer: WindowScorer,
    fitted: Mapping[str, PackageThresholds],
    windows: np.ndarray,
    meta: pl.DataFrame,
    segments: pl.DataFrame,
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, thresholds in fitted.items():
        evaluation = evaluate_windows(scorer, windows, meta, thresholds, segments)
        welds = evaluation.welds
        if welds is None:
            raise ValueError("the line has no weld ids: no weld-level figures")
        figures = {k: evaluation.weld[k] for k in REPORTED}
        figures["roc_auc_se"] = auc_standard_error(
            welds.labels[welds.scored], welds.scores.score[welds.scored]
        )
        out[name] = figures
        if "duration" in evaluation.weld_components:
            out["duration_alone"] = {k: evaluation.weld_components["duration"][k] for k in REPORTED}
            out["alarms_by_component"] = {
                c: evaluation.weld[f"alarms_{c}"] for c in evaluation.weld_components
            }
    return out


def evaluate_line(
    store: LakeStore,
    line: str,
    *,
    window: int = 32,
    stride: int = 8,
    config: AutoencoderConfig | None = None,
    threshold_method: str = "quantile",
    threshold_params: Mapping[str, float] | None = None,
    aggregations: Sequence[str] = ("mean",),
    subsets: Mapping[str, set[str]] | None = None,
) -> dict[str, Any]:
    """Train on the line's telemetry and labels in `store`; figures on the held-out welds, and on each
    of `subsets` (weld ids within the held-out welds) with the first aggregation."""
    build = build_features(
        store,
        line,
        telemetry_slice(store, line).frame,
        label_map(store, line),
        window=window,
        stride=stride,
        val_fraction=0.2,
        holdout_fraction=0.3,
    )
    started = time.monotonic()
    result, spec, spec_id = train_from_lake(store, line, config or AutoencoderConfig())
    val, val_meta = read_model_windows(store, line, ["validation"], spec_id)
    test, test_meta = read_model_windows(store, line, ["holdout"], spec_id)
    fit_segments = read_model_segments(store, line, ["train", "validation"], spec_id)
    test_segments = read_model_segments(store, line, ["holdout"], spec_id)
    figures: dict[str, Any] = {
        "welds": build.split.summary(),
        "windows": build.windows,
        "epochs": len(result.history),
        "best_epoch": result.best_epoch,
        "train_seconds": round(time.monotonic() - started, 1),
        "signals": list(spec.signals),
        "window": window,
        "stride": stride,
        "fit_weld_ids": {
            name: set(fit_segments.filter(pl.col("split") == name)["weld_id"].to_list())
            for name in ("train", "validation")
        },
    }
    fitted: dict[str, dict[str, PackageThresholds]] = {}
    figures["holdout"] = {}
    for aggregation in aggregations:
        fitted[aggregation] = {
            score: fit_thresholds(
                result.scorer,
                spec,
                val,
                val_meta,
                threshold_method,
                dict(threshold_params or {}),
                aggregation,
                fit_segments,
                weld_duration=score == "combined",
            )[0]
            for score in ("shape", "combined")
        }
        figures["holdout"][aggregation] = _weld_figures(
            result.scorer, fitted[aggregation], test, test_meta, test_segments
        )
    figures["weld_duration"] = fitted[aggregations[0]]["combined"].to_dict()["weld_duration"]
    figures["subsets"] = {}
    for name, ids in (subsets or {}).items():
        keep = test_meta["weld_id"].is_in(sorted(ids)).to_numpy()
        figures["subsets"][name] = _weld_figures(
            result.scorer,
            fitted[aggregations[0]],
            test[keep],
            test_meta.filter(pl.Series(keep)),
            test_segments.filter(pl.col("weld_id").is_in(sorted(ids))),
        )
    scores, _ = score_windows(result.scorer, test)
    labels = (test_meta["label"].fill_null(0).to_numpy() == 1).astype(np.int8)
    figures["window_roc_auc"] = detection_metrics(labels, scores, float("inf"))["roc_auc"]
    return figures
