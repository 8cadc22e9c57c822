"""`edge_model_package`: ONNX, threshold, feature spec, drift profile and signed manifest, registered in
MLflow as a new version of the line's model with the alias `challenger` (`mlops_assets.ml.release`)."""

import dagster as dg

from edge_agent.features import PackageThresholds
from mlops_assets.defs.packaging.config import EdgePackageConfig
from mlops_assets.defs.training.assets import model_evaluation
from mlops_assets.defs.training.catalog import OWNERS
from mlops_assets.ml.release.packaging import Lineage
from mlops_assets.ml.training.feature_table import FeaturesMismatch
from mlops_assets.ml.training.labels import WELD_LABELS
from mlops_assets.partitions import line_partitions
from mlops_assets.resources import LakehouseResource, ModelRegistryResource, SignerResource
from mlops_assets.upstream import upstream_metadata

__all__ = ["edge_model_package"]


@dg.asset(
    group_name="packaging",
    partitions_def=line_partitions,
    deps=[model_evaluation],
    kinds={"onnx", "mlflow"},
    owners=OWNERS,
)
def edge_model_package(
    context: dg.AssetExecutionContext,
    config: EdgePackageConfig,
    lakehouse: LakehouseResource,
    model_registry: ModelRegistryResource,
    signer: SignerResource,
) -> dg.MaterializeResult:
    """The package the edge serves (layout: `edge_agent.features.package`), a new MLflow model version
    whose source is the package (`models:/weld-ae-<line>@champion` downloads it)."""
    # The ONNX export loads torch: imported by the run that packages, not with the code location.
    from mlops_assets.ml.release.publish import release_edge_package

    line = context.partition_key
    trained = upstream_metadata(context, "anomaly_autoencoder", line)
    thresholds = upstream_metadata(context, "anomaly_threshold", line)
    run_id = str(thresholds["mlflow_run_id"])
    if trained["mlflow_run_id"] != run_id:
        raise dg.Failure("anomaly_threshold was fitted on another model: materialise the chain in order")
    if upstream_metadata(context, "model_evaluation", line)["mlflow_run_id"] != run_id:
        raise dg.Failure("model_evaluation is older than anomaly_threshold: materialise the chain in order")
    fitted = PackageThresholds.from_dict(thresholds["thresholds"])
    store = lakehouse.store()
    # The labels as they are now: the quality gate reads the line's labelled history at this version.
    labels_version = store.version(WELD_LABELS)
    try:
        released = release_edge_package(
            model_registry.registry(),
            store,
            line,
            run_id=run_id,
            thresholds=fitted,
            lineage=Lineage(run_id, int(trained["telemetry_version"]), str(trained["git_commit"])),
            signer=signer.signer(),
        )
    except FeaturesMismatch as exc:
        raise dg.Failure(f"line {line}: {exc}") from exc
    version = released.version
    context.log.info(
        "registered %s version %s (challenger), package %s", version.name, version.version, version.source
    )
    return dg.MaterializeResult(
        metadata={
            "model_name": version.name,
            "model_version": version.version,
            "mlflow_run_id": run_id,
            "package_uri": dg.MetadataValue.url(version.source)
            if "://" in version.source
            else version.source,
            "manifest": dg.MetadataValue.json(released.manifest),
            "onnx_bytes": released.onnx_bytes,
            "signing_key_id": released.signing_key_id,
            "public_key": released.public_key,
            "parity_atol": config.parity_atol,
            "parity_rtol": config.parity_rtol,
            "parity_windows": config.parity_windows,
            "gate_metric": config.gate_metric,
            "gate_tolerance": config.gate_tolerance,
            "gate_false_alarm_margin": config.gate_false_alarm_margin,
            "gate_false_alarm_relative_margin": config.gate_false_alarm_relative_margin,
            "gate_history_recall_tolerance": config.gate_history_recall_tolerance,
            "gate_history_recall_floor": config.gate_history_recall_floor,
            "gate_history_max_welds": config.gate_history_max_welds,
            **({} if labels_version is None else {"labels_version": dg.MetadataValue.int(labels_version)}),
            # The telemetry the model's features were cut from (its lineage): the gate reads it again.
            "telemetry_version": dg.MetadataValue.int(int(trained["telemetry_version"])),
            "thresholds": dg.MetadataValue.json(fitted.to_dict()),
        }
    )
