"""What the training chain records in MLflow: one run per trained model, which the threshold and the
evaluation steps add to. No Dagster here; the assets call these and report what they return.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edge_agent.features import FeatureSpec, PackageThresholds
from mlops_assets.ml.autoencoder.config import AutoencoderConfig
from mlops_assets.ml.registry import ModelRegistry
from mlops_assets.ml.training import plots

if (
    TYPE_CHECKING
):  # torch-bound (and `record_training` imports run_model): the location loads this without torch
    from mlops_assets.ml.autoencoder.trainer import TrainResult
    from mlops_assets.ml.training.holdout_evaluation import HoldoutEvaluation

__all__ = [
    "experiment_for",
    "record_evaluation",
    "record_thresholds",
    "record_training",
    "start_training_run",
]


def experiment_for(line: str) -> str:
    return f"weld-anomaly/{line}"


def start_training_run(
    registry: ModelRegistry,
    line: str,
    *,
    dagster_run_id: str,
    config: AutoencoderConfig,
    features: Mapping[str, Any],
    commit: str,
    trigger: Mapping[str, str] | None = None,
) -> str:
    """A new MLflow run with the hyperparameters and the versions of the data and code it trains on
    (`features`: what `weld_features` reported; `since_ms` when it kept only the welds since then), and
    what started it (`trigger`, tags: `trigger` = drift, `drift_report_id`, ... for a drift retraining)."""
    run_id = registry.start_run(
        experiment_for(line),
        f"{line}-{dagster_run_id[:8]}",
        tags={"line": line, "dagster_run_id": dagster_run_id, "git_commit": commit, **(trigger or {})},
    )
    registry.log_params(
        run_id,
        {
            **config.as_params(),
            "line": line,
            "window": features["window"],
            "stride": features["stride"],
            "signals": features["signals"],
            "spec_id": features["spec_id"],
            "telemetry_delta_version": features["telemetry_version"],
            "features_delta_version": features["features_version"],
            "git_commit": commit,
            **({"since_ms": features["since_ms"]} if features.get("since_ms") is not None else {}),
        },
    )
    return run_id


def record_training(
    registry: ModelRegistry, run_id: str, result: TrainResult, config: AutoencoderConfig, spec: FeatureSpec
) -> bytes:
    """The model (with its feature spec), the loss curve and the summary metrics; returns the curve PNG."""
    from mlops_assets.ml.training.run_model import save_run_model

    save_run_model(registry, run_id, result.scorer, config, spec)
    curve = plots.loss_curve_png(
        [e.train_loss for e in result.history], [e.val_loss for e in result.history], result.best_epoch
    )
    _log_files(registry, run_id, "plots", {"loss_curve.png": curve})
    registry.log_metrics(
        run_id,
        {
            "best_val_loss": result.best_val_loss,
            "best_epoch": result.best_epoch,
            "train_seconds": result.seconds,
        },
    )
    return curve


def record_thresholds(
    registry: ModelRegistry,
    run_id: str,
    thresholds: PackageThresholds,
    histogram_png: bytes,
    settings: Mapping[str, Any],
) -> dict[str, tuple[str, str]]:
    """threshold.json, the histogram and the threshold metrics; the settings as params and as the tag
    `threshold_config`. Returns the settings whose param differs from the first fit (param: (first, now)).

    Re-tuning the thresholds of a trained model reuses its run, and MLflow params are immutable: the
    params keep the first fit, the tag always holds the current settings."""
    document = json.dumps(thresholds.to_dict(), indent=2).encode()
    _log_files(registry, run_id, "threshold", {"threshold.json": document})
    _log_files(registry, run_id, "plots", {"threshold_histogram.png": histogram_png})
    weld, duration = thresholds.weld, thresholds.weld_duration
    registry.log_metrics(
        run_id,
        {
            "threshold_window": thresholds.window.value,
            "threshold_weld": None if weld is None else weld.value,
            "threshold_weld_duration": None if duration is None else duration.bound,
            "weld_duration_center_samples": None if duration is None else duration.center,
            "weld_duration_scale_samples": None if duration is None else duration.scale,
        },
    )
    registry.set_tags(run_id, {"threshold_config": json.dumps(dict(settings), sort_keys=True)})
    logged = registry.client.get_run(run_id).data.params
    changed = {k: (logged[k], str(v)) for k, v in settings.items() if k in logged and logged[k] != str(v)}
    registry.log_params(run_id, {k: v for k, v in settings.items() if k not in changed})
    return changed


def record_evaluation(registry: ModelRegistry, run_id: str, evaluation: HoldoutEvaluation) -> None:
    """`eval_window_*`, `eval_weld_*` and `eval_weld_<component>_*` metrics and `evaluation.json`."""
    registry.log_metrics(run_id, {f"eval_window_{k}": v for k, v in evaluation.window.items()})
    registry.log_metrics(run_id, {f"eval_weld_{k}": v for k, v in evaluation.weld.items()})
    for component, values in evaluation.weld_components.items():
        registry.log_metrics(run_id, {f"eval_weld_{component}_{k}": v for k, v in values.items()})
    report = {
        "window": evaluation.window,
        "weld": evaluation.weld,
        "weld_components": evaluation.weld_components,
    }
    _log_files(registry, run_id, "evaluation", {"evaluation.json": json.dumps(report, indent=2).encode()})


def _log_files(registry: ModelRegistry, run_id: str, folder: str, files: Mapping[str, bytes]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        for name, content in files.items():
            (Path(tmp) / name).write_bytes(content)
            registry.log_artifact(run_id, Path(tmp) / name, folder)
