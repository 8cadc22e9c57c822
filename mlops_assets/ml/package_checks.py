"""The logic of `edge_model_package`'s checks, on a registered package (no Dagster here).

Both read the package as the edge will: downloaded from the registered model version, verified
(hashes and signature) by `edge_agent.features.load_package`.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from edge_agent.features import load_package
from mlops_assets.lake import LakeStore
from mlops_assets.ml import steps
from mlops_assets.ml.feature_table import read_windows
from mlops_assets.ml.gate_data import holdout_segments
from mlops_assets.ml.onnx_export import ParityReport, check_parity
from mlops_assets.ml.package_eval import evaluate_package
from mlops_assets.ml.quality_gate import GateDecision, decide
from mlops_assets.ml.registry import CHAMPION, ModelRegistry, RegisteredVersion

__all__ = ["GateOutcome", "package_parity", "package_quality_gate", "package_version"]


def package_version(registry: ModelRegistry, name: str, version: str) -> RegisteredVersion:
    found = registry.client.get_model_version(name, version)
    uri = (found.tags or {}).get("package_uri")
    if not uri:
        raise LookupError(f"{name} v{version} has no package_uri tag: its package was never completed")
    return RegisteredVersion(name, str(found.version), str(found.run_id), uri, dict(found.tags or {}))


def package_parity(
    registry: ModelRegistry, store: LakeStore, line: str, meta: Mapping[str, Any]
) -> ParityReport:
    """ONNX Runtime on the registered package against the PyTorch model of its MLflow run."""
    scorer, spec = steps.load_run_model(registry, str(meta["mlflow_run_id"]))
    windows, _ = read_windows(store, line, ["holdout"])
    if len(windows) == 0:
        windows, _ = read_windows(store, line, ["validation"])
    picked = windows[
        np.linspace(0, len(windows) - 1, min(len(windows), int(meta["parity_windows"]))).astype(int)
    ]
    version = package_version(registry, str(meta["model_name"]), str(meta["model_version"]))
    with tempfile.TemporaryDirectory() as tmp:
        package = load_package(registry.download_version(version, Path(tmp)), str(meta["public_key"]))
        if package.spec != spec:
            raise ValueError("the packaged feature spec differs from the trained model's")
        return check_parity(
            scorer,
            str(package.model_path),
            picked,
            atol=float(meta["parity_atol"]),
            rtol=float(meta["parity_rtol"]),
        )


@dataclass(frozen=True)
class GateOutcome:
    decision: GateDecision
    level: str
    candidate: RegisteredVersion
    champion: RegisteredVersion | None
    previous_champion: str | None


def package_quality_gate(
    registry: ModelRegistry, store: LakeStore, line: str, telemetry: pl.DataFrame, meta: Mapping[str, Any]
) -> GateOutcome:
    """Score candidate and champion on the same held-out welds, each with its own package; promote the
    candidate when it passes. Tags the candidate version with the verdict."""
    candidate = package_version(registry, str(meta["model_name"]), str(meta["model_version"]))
    champion = registry.by_alias(candidate.name, CHAMPION)
    segments, signals = holdout_segments(store, line, telemetry)
    if not segments:
        raise ValueError(f"no held-out segments for line {line}")
    with tempfile.TemporaryDirectory() as tmp:
        mine = evaluate_package(
            registry.download_version(candidate, Path(tmp) / "candidate"),
            segments,
            signals,
            str(meta["public_key"]),
        )
        theirs = None
        if champion is not None and champion.version != candidate.version:
            serving = package_version(registry, champion.name, champion.version)
            theirs = evaluate_package(
                registry.download_version(serving, Path(tmp) / "champion"), segments, signals
            )
    level = "weld" if mine.get("weld_n") else "window"
    metric = str(meta["gate_metric"])
    decision = decide(
        {metric: mine.get(f"{level}_{metric}")},
        None if theirs is None else {metric: theirs.get(f"{level}_{metric}")},
        metric,
        float(meta["gate_tolerance"]),
    )
    registry.set_version_tags(
        candidate.name,
        candidate.version,
        {"quality_gate": "passed" if decision.passed else "failed", "quality_gate_reason": decision.reason},
    )
    previous = None
    if decision.passed:
        replaced = registry.promote(candidate.name, candidate.version)
        previous = replaced.version if replaced is not None else None
    return GateOutcome(decision, level, candidate, champion, previous)
