"""Helpers for materialising the training and packaging chain against a real lake, MLflow and instance."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from edge_agent.domain import LineAddress, Weld
from edge_agent.simulator import SyntheticWeldGenerator
from mlops_assets.definitions import build_definitions
from mlops_assets.lake import LakeStore
from mlops_assets.ml.evaluation.silver_welds import silver_rows, write_silver
from mlops_assets.ml.registry import ModelRegistry, local_tracking_uri
from mlops_assets.ml.training.labels import _frame, write_labels

CHAIN = (
    "weld_features",
    "anomaly_autoencoder",
    "anomaly_threshold",
    "model_evaluation",
    "edge_model_package",
)
START_MS = 1_763_740_800_000


@dataclass
class Platform:
    home: Path
    defs: dg.Definitions
    instance: dg.DagsterInstance
    store: LakeStore

    @property
    def registry(self) -> ModelRegistry:
        return ModelRegistry(local_tracking_uri(self.home / "mlflow"))

    def materialize(
        self, line: str, run_config: dict[str, Any] | None = None, selection: Any = None
    ) -> dg.ExecuteInProcessResult:
        chain = dg.AssetSelection.assets(*CHAIN)
        return dg.materialize(
            [*(self.defs.assets or []), *(self.defs.asset_checks or [])],  # type: ignore[list-item]
            instance=self.instance,
            partition_key=line,
            resources=self.defs.resources,
            selection=selection
            if selection is not None
            else chain | dg.AssetSelection.checks_for_assets("edge_model_package"),
            run_config={"ops": run_config or {}},
            raise_on_error=False,
        )


def start_platform(home: Path, monkeypatch: pytest.MonkeyPatch, lines: Sequence[str]) -> Platform:
    """LOCAL environment under `home`: Delta lake, MLflow SQLite store, signing dev key, Dagster instance."""
    monkeypatch.setenv("MLOPS_HOME", str(home))
    monkeypatch.setenv("MLOPS_ENV", "local")
    monkeypatch.delenv("MLOPS_SIGNING_KEY", raising=False)
    defs = build_definitions()
    # Artifacts under `home`: without a folder of its own, the instance leaves a temporary one to the
    # garbage collector (a ResourceWarning), since nothing disposes of it.
    instance = dg.DagsterInstance.ephemeral(tempdir=str(home / "dagster_artifacts"))
    instance.add_dynamic_partitions("line", list(lines))
    return Platform(home, defs, instance, LakeStore(str(home / "lake")))


def write_line(store: LakeStore, line: str, welds_by_cell: dict[str, list[Weld]]) -> None:
    """Welds as silver telemetry of `line`, and their ground truth as weld labels."""
    labels = []
    for cell, welds in welds_by_cell.items():
        write_silver(store, silver_rows(welds, cell, LineAddress(line=line)))
        labels += [(w.weld_id, w.label is not None, w.label) for w in welds]
    write_labels(store, _frame(line, labels, "simulator"))


def simulated_welds(
    cells: Sequence[str], per_cell: int, anomaly_rate: float = 0.15, seed: int = 3
) -> dict[str, list[Weld]]:
    out = {}
    for cell in cells:
        generator = SyntheticWeldGenerator(
            cell=cell, seed=seed, anomaly_rate=anomaly_rate, sample_rate_hz=200.0, start_ms=START_MS
        )
        out[cell] = [generator.next_weld() for _ in range(per_cell)]
    return out


def metadata(result: dg.ExecuteInProcessResult, node: str) -> dict[str, Any]:
    mats = result.asset_materializations_for_node(node)
    assert mats, f"{node} did not materialise"
    return {k: getattr(v, "value", v) for k, v in mats[-1].metadata.items()}


def checks(result: dg.ExecuteInProcessResult) -> dict[str, Any]:
    return {e.check_name: e for e in result.get_asset_check_evaluations()}
