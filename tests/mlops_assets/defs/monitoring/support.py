"""A platform for the monitoring tests: LOCAL definitions bound to a test broker, with the loop's
policy from the environment, a real Dagster instance and Delta lake; the monitoring sensors evaluated
against them as the daemon evaluates them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from edge_agent.domain import LineAddress, Weld
from edge_agent.simulator import SyntheticWeldGenerator
from edge_agent.uns.endpoint import MqttEndpoint
from mlops_assets.definitions import build_definitions
from mlops_assets.lake import LakeStore
from mlops_assets.ml.evaluation.silver_welds import silver_rows, write_silver

LINE = "line-1"
ADDRESS = LineAddress(line=LINE)
START_MS = 1_763_740_800_000


@dataclass
class MonitoringPlatform:
    home: Path
    defs: dg.Definitions
    instance: dg.DagsterInstance
    store: LakeStore
    endpoint: MqttEndpoint

    def tick(self, sensor: str, cursor: str | None) -> dg.SensorResult:
        """One evaluation of `sensor`; its asset events stored as the daemon stores them."""
        context = dg.build_sensor_context(
            instance=self.instance, cursor=cursor, resources=dict(self.defs.resources or {})
        )
        result = self.defs.resolve_sensor_def(sensor)(context)
        assert isinstance(result, dg.SensorResult)
        for event in result.asset_events:
            self.instance.report_runless_asset_event(event)
        return result

    def launch(self, request: dg.RunRequest, *assets: str) -> dg.ExecuteInProcessResult:
        """Run a request of `model_training_job` as the daemon would (its partition, config, tags and
        run key), materialising only `assets` of it."""
        job = self.defs.resolve_job_def("model_training_job")
        return job.execute_in_process(
            instance=self.instance,
            partition_key=request.partition_key,
            run_config=request.run_config,
            tags={**request.tags, "dagster/run_key": request.run_key or ""},
            asset_selection=[dg.AssetKey(a) for a in assets],
        )

    def materialize(self, asset: str) -> dg.ExecuteInProcessResult:
        return dg.materialize(
            [*(self.defs.assets or []), *(self.defs.asset_checks or [])],  # type: ignore[list-item]
            instance=self.instance,
            resources=self.defs.resources,
            selection=dg.AssetSelection.assets(asset) | dg.AssetSelection.checks_for_assets(asset),
        )


def start_monitoring_platform(
    home: Path, monkeypatch: pytest.MonkeyPatch, broker_port: int, **settings: Any
) -> MonitoringPlatform:
    """LOCAL definitions under `home`, bound to the broker on `broker_port`; `settings` are
    `MLOPS_<NAME>` variables of the loop (`DRIFT_CONSECUTIVE=3` sets `MLOPS_DRIFT_CONSECUTIVE`)."""
    for name, value in {
        "MLOPS_HOME": str(home),
        "MLOPS_ENV": "local",
        "MLOPS_UNS_HOST": "127.0.0.1",
        "MLOPS_UNS_PORT": str(broker_port),
        **{f"MLOPS_{k}": str(v) for k, v in settings.items()},
    }.items():
        monkeypatch.setenv(name, value)
    defs = build_definitions()
    instance = dg.DagsterInstance.ephemeral(tempdir=str(home / "dagster_artifacts"))
    instance.add_dynamic_partitions("line", [LINE])
    return MonitoringPlatform(
        home, defs, instance, LakeStore(str(home / "lake")), MqttEndpoint(port=broker_port)
    )


def welds(count: int, *, start_ms: int, drift: bool, seed: int = 1) -> list[Weld]:
    generator = SyntheticWeldGenerator(
        cell="cell-01", seed=seed, sample_rate_hz=200.0, start_ms=start_ms, drift=drift
    )
    return [generator.next_weld() for _ in range(count)]


def write_welds(store: LakeStore, found: list[Weld], first_seq: int = 0) -> None:
    write_silver(store, silver_rows(found, "cell-01", ADDRESS, first_seq=first_seq))
