"""Training assets, per line: weld_features -> anomaly_autoencoder -> anomaly_threshold -> model_evaluation.

Data lives in Delta (`gold/weld_features`) and MLflow (one run per trained model, which the threshold
and evaluation steps add to); each asset's metadata names what it wrote, so the next one finds it
(`mlops_assets.upstream`: this run's materialisation first). The work is in `mlops_assets.ml`.
"""

import json
import warnings
from collections.abc import Mapping
from typing import TYPE_CHECKING

import dagster as dg

from edge_agent.features import PackageThresholds
from mlops_assets.defs.training.catalog import OWNERS, WELD_FEATURES_COLUMNS, WELD_LABELS_COLUMNS
from mlops_assets.defs.training.config import AutoencoderTrainingConfig, ThresholdConfig, WeldFeaturesConfig
from mlops_assets.ml.training import plots, tracking
from mlops_assets.ml.training.feature_table import (
    WELD_FEATURES,
    FeaturesMismatch,
    read_model_segments,
    read_model_windows,
    spec_id_of,
)
from mlops_assets.ml.training.features import build_features
from mlops_assets.ml.training.labels import WELD_LABELS, label_map
from mlops_assets.ml.training.lineage import git_commit
from mlops_assets.ml.training.reports import metrics_markdown
from mlops_assets.ml.training.telemetry import telemetry_slice
from mlops_assets.partitions import line_partitions
from mlops_assets.resources import LakehouseResource, ModelRegistryResource
from mlops_assets.upstream import upstream_metadata

# The modules that run the model load torch: each asset imports those it calls, so the code location
# (loaded by every run, the code server and the webserver) never imports torch.
if TYPE_CHECKING:
    from mlops_assets.ml.autoencoder.trainer import EpochReport

__all__ = ["anomaly_autoencoder", "anomaly_threshold", "model_evaluation", "weld_features", "weld_labels"]

weld_labels = dg.AssetSpec(
    "weld_labels",
    group_name="training",
    description=f"Known weld quality per line ({WELD_LABELS}): inspection results or simulator ground truth. "
    "Written by `mlops_assets.ml.training.labels.write_labels`; training leaves known-bad welds out.",
    kinds={"delta"},
    owners=OWNERS,
    metadata={"dagster/column_schema": WELD_LABELS_COLUMNS, "dagster/table_name": WELD_LABELS.name},
)

with warnings.catch_warnings():
    # The documented way from daily x line telemetry to per-line models; "beta" in dagster 1.13.
    warnings.simplefilter("ignore", dg.BetaWarning)
    _TELEMETRY = dg.AssetDep(
        "validated_telemetry",
        partition_mapping=dg.MultiToSingleDimensionPartitionMapping(partition_dimension_name="line"),
    )


@dg.asset(
    group_name="training",
    partitions_def=line_partitions,
    deps=[_TELEMETRY, weld_labels],
    kinds={"delta", "numpy"},
    owners=OWNERS,
    metadata={"dagster/column_schema": WELD_FEATURES_COLUMNS, "dagster/table_name": WELD_FEATURES.name},
)
def weld_features(
    context: dg.AssetExecutionContext, config: WeldFeaturesConfig, lakehouse: LakehouseResource
) -> dg.MaterializeResult:
    """Windows of every weld of the line's last `days` days of telemetry (only the welds since
    `since_ms` when set: a retraining on a new regime), standardised with statistics fitted on the
    training welds only.

    Welds are split by time: the earliest train (their latest `val_fraction` validate), the latest
    `holdout_fraction` and every known-bad weld are held out for evaluation."""
    line = context.partition_key
    store = lakehouse.store()
    try:
        telemetry = telemetry_slice(store, line, keep_days=config.days, since_ms=config.since_ms)
        build = build_features(
            store,
            line,
            telemetry.frame,
            label_map(store, line),
            window=config.window,
            stride=config.stride,
            val_fraction=config.val_fraction,
            holdout_fraction=config.holdout_fraction,
        )
    except (LookupError, ValueError) as exc:
        raise dg.Failure(f"line {line}: {exc}") from exc
    context.log.info(
        "line %s: %s windows from %s (telemetry version %d, %s to %s)",
        line,
        build.windows,
        build.split.summary(),
        telemetry.version,
        telemetry.days[0],
        telemetry.days[-1],
    )
    return dg.MaterializeResult(
        metadata={
            "spec_id": build.spec_id,
            "signals": ", ".join(build.spec.signals),
            "dropped_signals": json.dumps(dict(build.spec.dropped)),
            "window": build.spec.window,
            "stride": build.spec.stride,
            "telemetry_version": dg.MetadataValue.int(telemetry.version),
            "telemetry_days": dg.MetadataValue.json(
                {
                    "first": str(telemetry.days[0]),
                    "last": str(telemetry.days[-1]),
                    "days": len(telemetry.days),
                }
            ),
            "telemetry_rows": dg.MetadataValue.int(telemetry.frame.height),
            "first_sample_at": str(telemetry.frame["ts"].min()),
            **({} if config.since_ms is None else {"since_ms": dg.MetadataValue.int(config.since_ms)}),
            "features_version": dg.MetadataValue.int(build.table_version or 0),
            "windows": dg.MetadataValue.json(build.windows),
            "segments": dg.MetadataValue.json(build.split.summary()),
            "feature_spec": dg.MetadataValue.json(build.spec.to_dict()),
            "table": dg.MetadataValue.path(store.uri(WELD_FEATURES)),
        }
    )


def run_trigger(tags: Mapping[str, str]) -> dict[str, str]:
    """What started this run, from its tags (`drift_sensor`'s: `mlops/trigger`, `mlops/drift_*`), as
    MLflow tags without the `mlops/` prefix; `trigger` = manual when nothing said."""
    found = {
        k.removeprefix("mlops/"): v
        for k, v in tags.items()
        if k.startswith(("mlops/trigger", "mlops/drift_"))
    }
    return {"trigger": "manual", **found}


@dg.asset(
    group_name="training",
    partitions_def=line_partitions,
    deps=[weld_features],
    kinds={"pytorch", "mlflow"},
    owners=OWNERS,
)
def anomaly_autoencoder(
    context: dg.AssetExecutionContext,
    config: AutoencoderTrainingConfig,
    lakehouse: LakehouseResource,
    model_registry: ModelRegistryResource,
) -> dg.MaterializeResult:
    """A dense autoencoder trained on the line's normal windows; one MLflow run per materialisation."""
    from mlops_assets.ml.training.run_model import train_from_lake

    line = context.partition_key
    registry = model_registry.registry()
    features = upstream_metadata(context, "weld_features", line)
    model_config = config.to_model_config()
    commit = git_commit()
    run_id = tracking.start_training_run(
        registry,
        line,
        dagster_run_id=context.run.run_id,
        config=model_config,
        features=features,
        commit=commit,
        trigger=run_trigger(context.run.tags),
    )

    def report(epoch: "EpochReport") -> None:
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
        result, spec, _ = train_from_lake(
            lakehouse.store(), line, model_config, report, spec_id=str(features["spec_id"])
        )
        context.log.info(
            "stopped: %s; best epoch %d (validation %.5f)",
            result.stop_reason,
            result.best_epoch,
            result.best_val_loss,
        )
        curve = tracking.record_training(registry, run_id, result, model_config, spec)
    except Exception as exc:
        registry.end_run(run_id, "FAILED")
        if isinstance(exc, FeaturesMismatch):
            raise dg.Failure(f"line {line}: {exc}") from exc
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


@dg.asset(
    group_name="training",
    partitions_def=line_partitions,
    deps=[anomaly_autoencoder],
    kinds={"mlflow"},
    owners=OWNERS,
)
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
    from mlops_assets.ml.training.run_model import load_run_model
    from mlops_assets.ml.training.threshold_fit import fit_thresholds

    line = context.partition_key
    registry = model_registry.registry()
    run_id = str(upstream_metadata(context, "anomaly_autoencoder", line)["mlflow_run_id"])
    scorer, spec = load_run_model(registry, run_id)
    store = lakehouse.store()
    try:
        val, meta = read_model_windows(store, line, ["validation"], spec_id_of(spec))
        segments = read_model_segments(store, line, ["train", "validation"], spec_id_of(spec))
        thresholds, scores, welds = fit_thresholds(
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
    document = thresholds.to_dict()
    duration = document["weld_duration"] or {}
    threshold = thresholds.window.value
    weld = None if thresholds.weld is None else thresholds.weld.value
    histogram = plots.score_histogram_png(
        scores, threshold, title=f"{line}: validation window scores ({config.method})"
    )
    changed = tracking.record_thresholds(
        registry, run_id, thresholds, histogram, config.settings(thresholds.format)
    )
    if changed:
        context.log.warning(
            "thresholds re-tuned on run %s (param: (first, now)) %s; see its tag threshold_config",
            run_id,
            changed,
        )
    context.log.info(
        "window threshold %.5g (%s), weld threshold %s, weld duration %s",
        threshold,
        config.method,
        weld,
        f"normal within {duration['normal_samples']} samples" if duration else "off",
    )
    return dg.MaterializeResult(
        metadata={
            "mlflow_run_id": run_id,
            "threshold": threshold,
            "weld_threshold": float(weld or 0.0),
            "weld_duration": dg.MetadataValue.json(duration),
            "method": config.method,
            "thresholds": dg.MetadataValue.json(document),
            "validation_windows": len(scores),
            "validation_welds": int(0 if welds is None else len(welds)),
            "training_welds": int((segments["split"] == "train").sum()) if segments.height else 0,
            "histogram": dg.MetadataValue.md(
                plots.markdown_image(histogram, "validation scores and threshold")
            ),
        }
    )


@dg.asset(
    group_name="training",
    partitions_def=line_partitions,
    deps=[anomaly_threshold],
    kinds={"mlflow"},
    owners=OWNERS,
)
def model_evaluation(
    context: dg.AssetExecutionContext, lakehouse: LakehouseResource, model_registry: ModelRegistryResource
) -> dg.MaterializeResult:
    """Precision, recall, F1, false- and missed-alarm rates and ROC-AUC on the held-out welds (later
    normal welds and every known-bad weld), per window and per weld (the weld score, and each of its
    components alone: `shape`, `duration`); logged to the MLflow run."""
    from mlops_assets.ml.training.holdout_evaluation import evaluate_windows
    from mlops_assets.ml.training.run_model import load_run_model

    line = context.partition_key
    registry = model_registry.registry()
    threshold_meta = upstream_metadata(context, "anomaly_threshold", line)
    run_id = str(threshold_meta["mlflow_run_id"])
    scorer, spec = load_run_model(registry, run_id)
    store = lakehouse.store()
    try:
        holdout, meta = read_model_windows(store, line, ["holdout"], spec_id_of(spec))
        if len(holdout) == 0:
            raise ValueError("no held-out windows: set holdout_fraction > 0 or add labelled welds")
        segments = read_model_segments(store, line, ["holdout"], spec_id_of(spec))
        thresholds = PackageThresholds.from_dict(threshold_meta["thresholds"])
        evaluation = evaluate_windows(scorer, holdout, meta, thresholds, segments)
    except ValueError as exc:
        raise dg.Failure(f"line {line}: {exc}") from exc
    tracking.record_evaluation(registry, run_id, evaluation)
    level, headline = evaluation.level, evaluation.headline
    labels, scores = evaluation.headline_scores()
    histogram = plots.score_histogram_png(
        scores[labels == 0],
        float(headline["threshold"]),
        scores[labels == 1],
        title=f"{line}: held-out {level} scores"
        + (" (score / threshold: > 1 alarms)" if level == "weld" else ""),
    )
    roc = plots.roc_curve_png(labels, scores, f"{line}: {level} level")
    context.log.info(
        "line %s, %s level: %s",
        line,
        level,
        {k: headline[k] for k in ("precision", "recall", "f1", "roc_auc")},
    )
    metadata: dict[str, object] = {
        "mlflow_run_id": run_id,
        "level": level,
        "metrics": dg.MetadataValue.md(metrics_markdown(evaluation)),
        "window_metrics": dg.MetadataValue.json(evaluation.window),
        "weld_metrics": dg.MetadataValue.json(evaluation.weld),
        "weld_component_metrics": dg.MetadataValue.json(evaluation.weld_components),
        "scores": dg.MetadataValue.md(plots.markdown_image(histogram, "held-out scores")),
    }
    for key in ("f1", "roc_auc", "precision", "recall", "false_alarm_rate", "missed_alarm_rate"):
        value = headline.get(key)
        if value is not None:
            metadata[key] = float(value)
    if roc is not None:
        metadata["roc_curve"] = dg.MetadataValue.md(plots.markdown_image(roc, "ROC curve"))
    return dg.MaterializeResult(metadata=metadata)  # type: ignore[arg-type]
