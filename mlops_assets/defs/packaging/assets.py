"""`edge_model_package`: ONNX, threshold, feature spec, drift profile and signed manifest, registered in
MLflow as a new version of the line's model with the alias `challenger`."""

import json
import tempfile
from pathlib import Path

import dagster as dg

from edge_agent.features import window_profile
from mlops_assets.defs.packaging.config import EdgePackageConfig
from mlops_assets.defs.packaging.resources import SignerResource
from mlops_assets.defs.training.assets import model_evaluation
from mlops_assets.defs.training.lookup import latest_metadata
from mlops_assets.defs.training.resources import ModelRegistryResource
from mlops_assets.lake import VALIDATED_TELEMETRY
from mlops_assets.ml import steps
from mlops_assets.ml.feature_table import read_windows
from mlops_assets.ml.onnx_export import export_onnx
from mlops_assets.ml.packaging import Lineage, build_package
from mlops_assets.ml.registry import CHALLENGER, model_name_for
from mlops_assets.partitions import line_partitions
from mlops_assets.resources import LakehouseResource

__all__ = ["PACKAGE_ARTIFACTS", "edge_model_package"]

PACKAGE_ARTIFACTS = "edge_package"


@dg.asset(
    group_name="packaging", partitions_def=line_partitions, deps=[model_evaluation], kinds={"onnx", "mlflow"}
)
def edge_model_package(
    context: dg.AssetExecutionContext,
    config: EdgePackageConfig,
    lakehouse: LakehouseResource,
    model_registry: ModelRegistryResource,
    signer: SignerResource,
) -> dg.MaterializeResult:
    """The package the edge serves (layout: `edge_agent.features.package`), a new MLflow model version."""
    line = context.partition_key
    registry = model_registry.registry()
    trained = latest_metadata(context, "anomaly_autoencoder", line)
    thresholds = latest_metadata(context, "anomaly_threshold", line)
    run_id = thresholds["mlflow_run_id"]
    if latest_metadata(context, "model_evaluation", line)["mlflow_run_id"] != run_id:
        raise dg.Failure("model_evaluation is older than anomaly_threshold: materialise the chain in order")
    scorer, spec = steps.load_run_model(registry, run_id)
    onnx_model = export_onnx(scorer, spec.n_features)
    validation, _ = read_windows(lakehouse.store(), line, ["validation"])
    name = model_name_for(line)
    manifest_signer = signer.signer()
    version = registry.register(name, run_id, f"{PACKAGE_ARTIFACTS}/pending", tags={"line": line})
    try:
        artifact_path = f"{PACKAGE_ARTIFACTS}/v{version.version}"
        package_uri = f"{registry.artifact_uri(run_id).rstrip('/')}/{artifact_path}"
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp) / "package"
            manifest = build_package(
                folder,
                onnx_model=onnx_model,
                spec=spec,
                thresholds=thresholds["thresholds"],
                profile=window_profile(validation[:5000], spec),
                line=line,
                model_name=name,
                model_version=version.version,
                lineage=Lineage(run_id, int(trained["telemetry_version"]), str(trained["git_commit"])),
                package_uri=package_uri,
                signer=manifest_signer,
            )
            registry.log_artifact(run_id, folder, artifact_path)
        # The version was created before its files existed (its number goes into the manifest): point it
        # at them now through a tag the checks and the rollout read.
        registry.set_version_tags(
            name, version.version, {"package_uri": package_uri, "quality_gate": "pending"}
        )
        registry.set_alias(name, CHALLENGER, version.version)
    except Exception:
        registry.delete_version(name, version.version)
        raise
    context.log.info("registered %s version %s (challenger), package %s", name, version.version, package_uri)
    return dg.MaterializeResult(
        metadata={
            "model_name": name,
            "model_version": version.version,
            "mlflow_run_id": run_id,
            "package_uri": dg.MetadataValue.url(package_uri) if "://" in package_uri else package_uri,
            "manifest": dg.MetadataValue.json(manifest),
            "onnx_bytes": len(onnx_model),
            "signing_key_id": manifest_signer.key_id,
            "public_key": manifest_signer.public_key_b64,
            "parity_atol": config.parity_atol,
            "parity_rtol": config.parity_rtol,
            "parity_windows": config.parity_windows,
            "gate_metric": config.gate_metric,
            "gate_tolerance": config.gate_tolerance,
            "telemetry_version": dg.MetadataValue.int(lakehouse.store().version(VALIDATED_TELEMETRY) or 0),
            "thresholds": dg.MetadataValue.json(json.loads(json.dumps(thresholds["thresholds"]))),
        }
    )
