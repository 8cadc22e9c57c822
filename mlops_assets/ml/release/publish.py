"""`edge_model_package`'s work: the trained model of an MLflow run as a signed edge package, registered
as a new version of the line's model with the alias `challenger` (no Dagster here)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edge_agent.features import PackageThresholds, window_profile
from mlops_assets.lake import LakeStore
from mlops_assets.ml.registry import ModelRegistry, RegisteredVersion, model_name_for
from mlops_assets.ml.release.onnx_export import export_onnx
from mlops_assets.ml.release.packaging import Lineage, build_package
from mlops_assets.ml.release.signing import ManifestSigner
from mlops_assets.ml.training.feature_table import read_model_windows, spec_id_of
from mlops_assets.ml.training.run_model import load_run_model

__all__ = ["PROFILE_WINDOWS", "ReleasedPackage", "release_edge_package"]

PROFILE_WINDOWS = 5000
"""Validation windows summarised in the drift reference profile."""


@dataclass(frozen=True)
class ReleasedPackage:
    version: RegisteredVersion
    """`source` is the package folder (also the version's `package_uri` tag)."""
    manifest: dict[str, Any]
    onnx_bytes: int
    signing_key_id: str
    public_key: str


def release_edge_package(
    registry: ModelRegistry,
    store: LakeStore,
    line: str,
    *,
    run_id: str,
    thresholds: PackageThresholds,
    lineage: Lineage,
    signer: ManifestSigner,
) -> ReleasedPackage:
    """Export the run's model to ONNX, build and sign the package, register it (see
    `ModelRegistry.register_package`). The drift profile comes from the validation windows the model
    was cut with; a `gold/weld_features` re-cut since then is refused (`FeaturesMismatch`)."""
    scorer, spec = load_run_model(registry, run_id)
    validation, _ = read_model_windows(store, line, ["validation"], spec_id_of(spec))
    onnx_model = export_onnx(scorer, spec.n_features)
    profile = window_profile(validation[:PROFILE_WINDOWS], spec)
    name = model_name_for(line)

    def write(version: str, package_uri: str, folder: Path) -> dict[str, Any]:
        return build_package(
            folder,
            onnx_model=onnx_model,
            spec=spec,
            thresholds=thresholds,
            profile=profile,
            line=line,
            model_name=name,
            model_version=version,
            lineage=lineage,
            package_uri=package_uri,
            signer=signer,
        )

    version, manifest = registry.register_package(name, run_id, write, tags={"line": line})
    return ReleasedPackage(version, manifest, len(onnx_model), signer.key_id, signer.public_key_b64)
