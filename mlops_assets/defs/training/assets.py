"""Training assets, per line: weld_features -> anomaly_autoencoder -> anomaly_threshold -> model_evaluation.

Data lives in Delta (`gold/weld_features`) and MLflow (one run per trained model, which the threshold
and evaluation steps add to); each asset's metadata names what it wrote, so the next one finds it.
"""

import json
import tempfile
import warnings
from pathlib import Path

import dagster as dg
import numpy as np

from mlops_assets.defs.training.config import AutoencoderTrainingConfig, ThresholdConfig, WeldFeaturesConfig
from mlops_assets.defs.training.lookup import latest_metadata
from mlops_assets.defs.training.resources import ModelRegistryResource
from mlops_assets.lake import VALIDATED_TELEMETRY
from mlops_assets.ml import plots, steps
from mlops_assets.ml.feature_table import WELD_FEATURES, read_windows
from mlops_assets.ml.labels import WELD_LABELS, label_map
from mlops_assets.ml.lineage import git_commit
from mlops_assets.ml.metrics import HEADLINE_METRICS
from mlops_assets.ml.training import EpochReport
from mlops_assets.partitions import line_partitions
from mlops_assets.resources import LakehouseResource

__all__ = ["anomaly_autoencoder", "anomaly_threshold", "model_evaluation", "weld_features", "weld_labels"]

weld_labels = dg.AssetSpec(
    "weld_labels",
    group_name="training",
    description=f"Known weld quality per line ({WELD_LABELS}): inspection results or simulator ground truth. "
    "Written by `mlops_assets.ml.labels.write_labels`; training leaves known-bad welds out.",
    kinds={"delta"},
)

with warnings.catch_warnings():
    # The documented way from daily x line telemetry to per-line models; "beta" in dagster 1.13.
    warnings.simplefilter("ignore", dg.BetaWarning)
    _TELEMETRY = dg.AssetDep(
        "validated_telemetry",
        partition_mapping=dg.MultiToSingleDimensionPartitionMapping(partition_dimension_name="line"),
    )


def experiment_for(line: str) -> str:
    return f"weld-anomaly/{line}"


@dg.asset(
    group_name="training",
    partitions_def=line_partitions,
    deps=[_TELEMETRY, weld_labels],
    kinds={"delta", "numpy"},
)
def weld_features(
    context: dg.AssetExecutionContext, config: WeldFeaturesConfig, lakehouse: LakehouseResource
) -> dg.MaterializeResult:
    """Windows of every weld of the line, standardised with statistics fitted on the training welds only.

    Welds are split by time: the earliest train (their latest `val_fraction` validate), the latest
    `holdout_fraction` and every known-bad weld are held out for evaluation."""
    line = context.partition_key
    store = lakehouse.store()
    telemetry = lakehouse.read_validated_telemetry(line)
    if telemetry.height == 0:
        raise dg.Failure(f"validated_telemetry has no rows for line {line}")
    build = steps.build_features(
        store,
        line,
        telemetry,
        label_map(store, line),
        window=config.window,
        stride=config.stride,
        val_fraction=config.val_fraction,
        holdout_fraction=config.holdout_fraction,
    )
    context.log.info("line %s: %s windows from %s", line, build.windows, build.split.summary())
    return dg.MaterializeResult(
        metadata={
            "spec_id": build.spec_id,
            "signals": ", ".join(build.spec.signals),
            "dropped_signals": json.dumps(dict(build.spec.dropped)),
            "window": build.spec.window,
            "stride": build.spec.stride,
            "telemetry_version": dg.MetadataValue.int(store.version(VALIDATED_TELEMETRY) or 0),
            "features_version": dg.MetadataValue.int(build.table_version or 0),
            "windows": dg.MetadataValue.json(build.windows),
            "segments": dg.MetadataValue.json(build.split.summary()),
            "feature_spec": dg.MetadataValue.json(build.spec.to_dict()),
            "table": dg.MetadataValue.path(store.uri(WELD_FEATURES)),
        }
    )


@dg.asset(
    group_name="training", partitions_def=line_partitions, deps=[weld_features], kinds={"pytorch", "mlflow"}
)
def anomaly_autoencoder(
    context: dg.AssetExecutionContext,
    config: AutoencoderTrainingConfig,
    lakehouse: LakehouseResource,
    model_registry: ModelRegistryResource,
) -> dg.MaterializeResult:
    """A dense autoencoder trained on the line's normal windows; one MLflow run per materialisation."""
    line = context.partition_key
    store = lakehouse.store()
    registry = model_registry.registry()
    features = latest_metadata(context, "weld_features", line)
    model_config = config.to_model_config()
    commit = git_commit()
    run_id = registry.start_run(
        experiment_for(line),
        f"{line}-{context.run_id[:8]}",
        tags={"line": line, "dagster_run_id": context.run_id, "git_commit": commit},
    )
    registry.log_params(
        run_id,
        {
            **model_config.as_params(),
            "line": line,
            "window": features["window"],
            "stride": features["stride"],
            "signals": features["signals"],
            "spec_id": features["spec_id"],
            "telemetry_delta_version": features["telemetry_version"],
            "features_delta_version": features["features_version"],
            "git_commit": commit,
        },
    )

    def report(epoch: EpochReport) -> None:
        context.log.info(
            "epoch %d/%d: train %.5f, validation %.5f%s (%.1f s)",
            epoch.epoch,
            model_config.max_epochs,
            epoch.train_loss,
            epoch.val_loss,
            " *" if epoch.best else "",
            epoch.seconds,
        )
        registry.log_metrics(
            run_id, {"train_loss": epoch.train_loss, "val_loss": epoch.val_loss}, step=epoch.epoch
        )

    try:
        result, spec, _ = steps.train_from_lake(store, line, model_config, report)
        context.log.info(
            "stopped: %s; best epoch %d (validation %.5f)",
            result.stop_reason,
            result.best_epoch,
            result.best_val_loss,
        )
        steps.save_run_model(registry, run_id, result.scorer, model_config, spec)
        curve = plots.loss_curve_png(
            [e.train_loss for e in result.history], [e.val_loss for e in result.history], result.best_epoch
        )
        with tempfile.TemporaryDirectory() as tmp:
            (Path(tmp) / "loss_curve.png").write_bytes(curve)
            registry.log_artifact(run_id, Path(tmp) / "loss_curve.png", "plots")
        registry.log_metrics(
            run_id,
            {
                "best_val_loss": result.best_val_loss,
                "best_epoch": result.best_epoch,
                "train_seconds": result.seconds,
            },
        )
    except Exception:
        registry.end_run(run_id, "FAILED")
        raise
    return dg.MaterializeResult(
        metadata={
            "mlflow_run_id": run_id,
            "spec_id": features["spec_id"],
            "telemetry_version": features["telemetry_version"],
            "best_val_loss": result.best_val_loss,
            "best_epoch": result.best_epoch,
            "epochs": len(result.history),
            "stop_reason": result.stop_reason,
            "train_windows": result.train_windows,
            "git_commit": commit,
            "loss_curve": dg.MetadataValue.md(plots.markdown_image(curve, "loss curve")),
        }
    )


@dg.asset(group_name="training", partitions_def=line_partitions, deps=[anomaly_autoencoder], kinds={"mlflow"})
def anomaly_threshold(
    context: dg.AssetExecutionContext,
    config: ThresholdConfig,
    lakehouse: LakehouseResource,
    model_registry: ModelRegistryResource,
) -> dg.MaterializeResult:
    """Window and weld thresholds from the validation error distribution, plus each signal's own
    error threshold (so an alert names the abnormal signals). With `weld_duration`, the weld score also
    gets a duration component: centre and scale from the training welds' lengths, bound from the
    validation welds' (`edge_agent.features.weld_score`)."""
    line = context.partition_key
    registry = model_registry.registry()
    trained = latest_metadata(context, "anomaly_autoencoder", line)
    run_id = trained["mlflow_run_id"]
    scorer, spec = steps.load_run_model(registry, run_id)
    store = lakehouse.store()
    val, meta = read_windows(store, line, ["validation"])
    try:
        segments = steps.weld_segments(store, line, ["train", "validation"], str(trained["spec_id"]))
        bundle, scores, welds = steps.fit_thresholds(
            scorer,
            spec,
            val,
            meta,
            config.method,
            config.params(),
            config.weld_aggregation,
            segments,
            config.weld_duration,
        )
    except ValueError as exc:
        raise dg.Failure(f"line {line}: {exc}") from exc
    duration = bundle["weld_duration"] or {}
    threshold = bundle["window"]["value"]
    histogram = plots.score_histogram_png(
        scores, threshold, title=f"{line}: validation window scores ({config.method})"
    )
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "threshold.json").write_text(json.dumps(bundle, indent=2))
        (Path(tmp) / "threshold_histogram.png").write_bytes(histogram)
        registry.log_artifact(run_id, Path(tmp) / "threshold.json", "threshold")
        registry.log_artifact(run_id, Path(tmp) / "threshold_histogram.png", "plots")
    registry.log_metrics(
        run_id,
        {
            "threshold_window": threshold,
            "threshold_weld": (bundle["weld"] or {}).get("value"),
            "threshold_weld_duration": duration.get("value"),
            "weld_duration_center_samples": duration.get("center"),
            "weld_duration_scale_samples": duration.get("scale"),
        },
    )
    settings = {
        "threshold_method": config.method,
        **{f"threshold_{k}": v for k, v in config.params().items()},
        "weld_aggregation": config.weld_aggregation,
        "weld_duration": config.weld_duration,
        "threshold_format": bundle["format"],
    }
    # Re-tuning the thresholds of a trained model reuses its run, and MLflow params are immutable: the
    # params keep the first fit, the tag `threshold_config` always holds the current settings.
    registry.set_tags(run_id, {"threshold_config": json.dumps(settings, sort_keys=True)})
    logged = registry.client.get_run(run_id).data.params
    changed = {k: (logged[k], str(v)) for k, v in settings.items() if k in logged and logged[k] != str(v)}
    if changed:
        context.log.warning(
            "thresholds re-tuned on run %s (param: (first, now)) %s; see its tag threshold_config",
            run_id,
            changed,
        )
    registry.log_params(run_id, {k: v for k, v in settings.items() if k not in changed})
    context.log.info(
        "window threshold %.5g (%s), weld threshold %s, weld duration %s",
        threshold,
        config.method,
        (bundle["weld"] or {}).get("value"),
        f"normal within {duration['normal_samples']} samples" if duration else "off",
    )
    return dg.MaterializeResult(
        metadata={
            "mlflow_run_id": run_id,
            "threshold": threshold,
            "weld_threshold": float((bundle["weld"] or {}).get("value") or 0.0),
            "weld_duration": dg.MetadataValue.json(duration),
            "method": config.method,
            "thresholds": dg.MetadataValue.json(bundle),
            "validation_windows": len(scores),
            "validation_welds": int(0 if welds is None else len(welds)),
            "training_welds": int((segments["split"] == "train").sum()) if segments.height else 0,
            "histogram": dg.MetadataValue.md(
                plots.markdown_image(histogram, "validation scores and threshold")
            ),
        }
    )


@dg.asset(group_name="training", partitions_def=line_partitions, deps=[anomaly_threshold], kinds={"mlflow"})
def model_evaluation(
    context: dg.AssetExecutionContext, lakehouse: LakehouseResource, model_registry: ModelRegistryResource
) -> dg.MaterializeResult:
    """Precision, recall, F1, false- and missed-alarm rates and ROC-AUC on the held-out welds (later
    normal welds and every known-bad weld), per window and per weld (the weld score, and each of its
    components alone: `shape`, `duration`); logged to the MLflow run."""
    line = context.partition_key
    registry = model_registry.registry()
    threshold_meta = latest_metadata(context, "anomaly_threshold", line)
    run_id = threshold_meta["mlflow_run_id"]
    scorer, _ = steps.load_run_model(registry, run_id)
    store = lakehouse.store()
    holdout, meta = read_windows(store, line, ["holdout"])
    if len(holdout) == 0:
        raise dg.Failure(
            f"no held-out windows for line {line}: set holdout_fraction > 0 or add labelled welds"
        )
    bundle = threshold_meta["thresholds"]
    spec_id = str(meta["spec_id"][0])
    try:
        segments = steps.weld_segments(store, line, ["holdout"], spec_id)
        evaluation = steps.evaluate_windows(scorer, holdout, meta, bundle, segments)
    except ValueError as exc:
        raise dg.Failure(f"line {line}: {exc}") from exc
    window_metrics, weld_metrics, arrays = evaluation.window, evaluation.weld, evaluation.arrays
    registry.log_metrics(run_id, {f"eval_window_{k}": v for k, v in window_metrics.items()})
    registry.log_metrics(run_id, {f"eval_weld_{k}": v for k, v in weld_metrics.items()})
    for component, values in evaluation.weld_components.items():
        registry.log_metrics(run_id, {f"eval_weld_{component}_{k}": v for k, v in values.items()})
    level = "weld" if weld_metrics else "window"
    headline = weld_metrics or window_metrics
    labels, scores = (
        (arrays["weld_labels"], arrays["weld_scores"])
        if weld_metrics
        else (arrays["window_labels"], arrays["window_scores"])
    )
    histogram = plots.score_histogram_png(
        scores[labels == 0],
        float(headline["threshold"]),
        scores[labels == 1],
        title=f"{line}: held-out {level} scores"
        + (" (score / threshold: > 1 alarms)" if weld_metrics else ""),
    )
    roc = plots.roc_curve_png(labels, scores, f"{line}: {level} level")
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "evaluation.json").write_text(
            json.dumps(
                {
                    "window": window_metrics,
                    "weld": weld_metrics,
                    "weld_components": evaluation.weld_components,
                },
                indent=2,
            )
        )
        registry.log_artifact(run_id, Path(tmp) / "evaluation.json", "evaluation")
    components = evaluation.weld_components
    header = " | ".join(["metric", "window", "weld", *(f"weld: {c} alone" for c in components)])
    table = f"| {header} |\n|{' --- |' * (3 + len(components))}\n" + "\n".join(
        "| "
        + " | ".join(
            [k, _fmt(window_metrics.get(k)), _fmt(weld_metrics.get(k))]
            + [_fmt(components[c].get(k)) for c in components]
        )
        + " |"
        for k in (*HEADLINE_METRICS, "threshold")
    )
    context.log.info(
        "line %s, %s level: %s",
        line,
        level,
        {k: headline[k] for k in ("precision", "recall", "f1", "roc_auc")},
    )
    metadata: dict[str, object] = {
        "mlflow_run_id": run_id,
        "level": level,
        "metrics": dg.MetadataValue.md(table),
        "window_metrics": dg.MetadataValue.json(window_metrics),
        "weld_metrics": dg.MetadataValue.json(weld_metrics),
        "weld_component_metrics": dg.MetadataValue.json(components),
        "scores": dg.MetadataValue.md(plots.markdown_image(histogram, "held-out scores")),
    }
    for key in ("f1", "roc_auc", "precision", "recall", "false_alarm_rate", "missed_alarm_rate"):
        value = headline.get(key)
        if value is not None:
            metadata[key] = float(value)
    if roc is not None:
        metadata["roc_curve"] = dg.MetadataValue.md(plots.markdown_image(roc, "ROC curve"))
    return dg.MaterializeResult(metadata=metadata)  # type: ignore[arg-type]


def _fmt(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4f}" if np.isfinite(value) else str(value)
    return str(value)
