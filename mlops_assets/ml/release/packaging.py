"""Build the edge model package folder (layout in `edge_agent.features.package`) and sign its manifest."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from edge_agent.features import (
    FEATURE_SPEC_FILE,
    MANIFEST_FILE,
    MODEL_FILE,
    PROFILE_FILE,
    THRESHOLD_FILE,
    FeatureSpec,
    PackageThresholds,
    file_digest,
)
from mlops_assets.ml.release.signing import ManifestSigner, sign_manifest

__all__ = ["Lineage", "build_package"]


@dataclass(frozen=True)
class Lineage:
    mlflow_run_id: str
    training_data_version: int
    git_commit: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "mlflow_run_id": self.mlflow_run_id,
            "training_data_version": self.training_data_version,
            "git_commit": self.git_commit[:64],
        }


def build_package(
    folder: Path,
    *,
    onnx_model: bytes,
    spec: FeatureSpec,
    thresholds: PackageThresholds,
    profile: Mapping[str, np.ndarray],
    line: str,
    model_name: str,
    model_version: str,
    lineage: Lineage,
    package_uri: str,
    signer: ManifestSigner,
    created_ms: int | None = None,
) -> dict[str, Any]:
    """Write the package files into `folder` (which must be empty or absent) and return the signed manifest."""
    folder.mkdir(parents=True, exist_ok=True)
    if any(folder.iterdir()):
        raise FileExistsError(f"{folder} is not empty: a package folder holds exactly the package")
    (folder / MODEL_FILE).write_bytes(onnx_model)
    (folder / FEATURE_SPEC_FILE).write_text(spec.to_json())
    (folder / THRESHOLD_FILE).write_text(json.dumps(thresholds.to_dict(), indent=2, sort_keys=True))
    pq.write_table(
        pa.table({k: pa.array(np.asarray(v, dtype=np.float64)) for k, v in profile.items()}),
        folder / PROFILE_FILE,
    )
    files = []
    for name in (MODEL_FILE, FEATURE_SPEC_FILE, THRESHOLD_FILE, PROFILE_FILE):
        digest, size = file_digest(folder / name)
        files.append({"path": name, "sha256": digest, "bytes": size})
    manifest = {
        "manifest_version": 1,
        "line": line,
        "model_name": model_name,
        "model_version": model_version,
        "created_ms": created_ms if created_ms is not None else int(time.time() * 1000),
        "package_uri": package_uri,
        "files": files,
        "threshold": thresholds.window.value,
        "lineage": lineage.to_dict(),
    }
    signed = sign_manifest(manifest, signer)
    (folder / MANIFEST_FILE).write_text(json.dumps(signed, indent=2, sort_keys=True))
    return signed
