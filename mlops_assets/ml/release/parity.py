"""`package_matches_torch_model`'s work: the registered package, downloaded and verified as the edge
will, against the PyTorch model of its MLflow run on the same held-out windows (no Dagster here)."""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from mlops_assets.lake import LakeStore
from mlops_assets.ml.registry import ModelRegistry, RegisteredVersion
from mlops_assets.ml.release.onnx_export import ParityReport, check_parity
from mlops_assets.ml.release.platform_key import PlatformKey, load_verified
from mlops_assets.ml.training.feature_table import read_model_windows, spec_id_of
from mlops_assets.ml.training.run_model import load_run_model

__all__ = ["package_parity"]


def package_parity(
    registry: ModelRegistry,
    store: LakeStore,
    line: str,
    meta: Mapping[str, Any],
    key: PlatformKey,
    version: RegisteredVersion | None = None,
) -> ParityReport:
    """ONNX Runtime on the registered package against the PyTorch model of its MLflow run, on the
    held-out windows (validation windows when nothing is held out) the model was cut with. `version`:
    the package's version when the caller has it already (else looked up from `meta`)."""
    scorer, spec = load_run_model(registry, str(meta["mlflow_run_id"]))
    spec_id = spec_id_of(spec)
    windows, _ = read_model_windows(store, line, ["holdout"], spec_id)
    if len(windows) == 0:
        windows, _ = read_model_windows(store, line, ["validation"], spec_id)
    picked = windows[
        np.linspace(0, len(windows) - 1, min(len(windows), int(meta["parity_windows"]))).astype(int)
    ]
    if version is None:
        version = registry.package_of(str(meta["model_name"]), str(meta["model_version"]))
    with tempfile.TemporaryDirectory() as tmp:
        package = load_verified(registry, version, Path(tmp), key)
        if package.spec != spec:
            raise ValueError("the packaged feature spec differs from the trained model's")
        return check_parity(
            scorer,
            str(package.model_path),
            picked,
            atol=float(meta["parity_atol"]),
            rtol=float(meta["parity_rtol"]),
        )
