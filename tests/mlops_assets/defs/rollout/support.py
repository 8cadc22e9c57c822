"""A platform for the rollout tests: LOCAL definitions bound to a test broker and the test signing key,
a real Dagster instance, MLflow store and Delta lake; real agent processes reading its landing zone."""

from __future__ import annotations

import base64
import contextlib
import signal
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dagster as dg
import orjson
import pytest

from edge_agent.simulator import SyntheticWeldGenerator
from mlops_assets.definitions import build_definitions
from mlops_assets.lake import LakeStore
from mlops_assets.ml.evaluation.silver_welds import silver_rows, write_silver
from mlops_assets.ml.registry import ModelRegistry, local_tracking_uri
from tests.edge_agent.agent.scoring.packages import ADDRESS, KEY_ID, MODEL_NAME, PUBLIC_KEY, make_package
from tests.edge_agent.agent.support import settings_dict, write_config
from tests.edge_agent.agent.test_process import start_agent
from tests.helpers import Recorder, wait_until

LINE = ADDRESS.line
MANIFEST_TOPIC = f"{ADDRESS.prefix}/_model/manifest"
HEARTBEATS = f"{ADDRESS.prefix}/_edge/+/heartbeat"
TEST_KEY = base64.b64encode(b"\x11" * 32).decode()
"""The private key of `tests.edge_agent.agent.scoring.packages.SIGNER`: the platform signs as the tests do."""


@dataclass
class RolloutPlatform:
    home: Path
    defs: dg.Definitions
    instance: dg.DagsterInstance
    registry: ModelRegistry

    @property
    def landing(self) -> Path:
        return self.home / "landing"

    def register(self, *, seed: int = 1, threshold_scale: float = 1.0, champion: bool = True) -> str:
        """A package made by the platform's own model and exporter, registered as a new version of the
        line's model (as `edge_model_package` does) and, with `champion`, promoted (as the gate does)."""
        run_id = self.registry.start_run("rollout-tests", f"seed-{seed}")

        def write(version: str, uri: str, folder: Path) -> dict[str, Any]:
            return make_package(folder, version, seed=seed, threshold_scale=threshold_scale)

        version, _ = self.registry.register_package(MODEL_NAME, run_id, write, tags={"line": LINE})
        self.registry.end_run(run_id)
        if champion:
            self.registry.promote(MODEL_NAME, version.version)
        return version.version

    def rollout(self, **config: Any) -> dg.ExecuteInProcessResult:
        """A run of `edge_rollout_job` for the line, as launched from the launchpad."""
        return self.launch({"ops": {"deployed_edge_model": {"config": config}}}, {})

    def launch(self, run_config: dict[str, Any], tags: dict[str, str]) -> dg.ExecuteInProcessResult:
        return self.defs.resolve_job_def("edge_rollout_job").execute_in_process(
            instance=self.instance, partition_key=LINE, run_config=run_config, tags=tags, raise_on_error=False
        )

    def launch_request(self, request: dg.RunRequest) -> dg.ExecuteInProcessResult:
        """Run a sensor's request as the daemon would: its partition, config, tags and run key."""
        return self.launch(request.run_config, {**request.tags, "dagster/run_key": request.run_key or ""})

    def tick(self, cursor: str | None) -> dg.SensorResult:
        """One evaluation of `edge_rollout_sensor`; its asset events stored as the daemon stores them."""
        sensor = self.defs.resolve_sensor_def("edge_rollout_sensor")
        context = dg.build_sensor_context(
            instance=self.instance, cursor=cursor, resources=dict(self.defs.resources or {})
        )
        result = sensor(context)
        assert isinstance(result, dg.SensorResult)
        for event in result.asset_events:
            self.instance.report_runless_asset_event(event)
        return result

    def tick_until_requested(self, cursor: str | None, timeout_s: float) -> tuple[dg.RunRequest, str | None]:
        """Evaluate the sensor until it requests a run (bounded); the request and the cursor after it."""
        found: list[dg.RunRequest] = []
        state = [cursor]

        def requested() -> bool:
            result = self.tick(state[0])
            state[0] = result.cursor
            found.extend(result.run_requests or [])
            return bool(found)

        wait_until(requested, timeout_s, "a decision of edge_rollout_sensor", poll_s=0.5)
        (request,) = found
        return request, state[0]

    def observations(self) -> list[dict[str, Any]]:
        """Metadata of the sensor's observations of the line's deployed_edge_model, oldest first."""
        records = self.instance.fetch_observations(
            dg.AssetRecordsFilter(asset_key=dg.AssetKey("deployed_edge_model"), asset_partitions=[LINE]),
            limit=100,
        ).records
        found = [r.asset_observation for r in reversed(records) if r.asset_observation is not None]
        return [{k: getattr(v, "value", v) for k, v in o.metadata.items()} for o in found]


def start_rollout_platform(home: Path, monkeypatch: pytest.MonkeyPatch, broker_port: int) -> RolloutPlatform:
    """LOCAL definitions under `home`, bound to the broker on `broker_port` and the test signing key,
    with silver telemetry of the line (where its manifest topic comes from)."""
    for name, value in {
        "MLOPS_HOME": str(home),
        "MLOPS_ENV": "local",
        "MLOPS_SIGNING_KEY": TEST_KEY,
        "MLOPS_SIGNING_KEY_ID": KEY_ID,
        "MLOPS_UNS_HOST": "127.0.0.1",
        "MLOPS_UNS_PORT": str(broker_port),
    }.items():
        monkeypatch.setenv(name, value)
    defs = build_definitions()
    instance = dg.DagsterInstance.ephemeral(tempdir=str(home / "dagster_artifacts"))
    instance.add_dynamic_partitions("line", [LINE])
    generator = SyntheticWeldGenerator(cell="cell-01", seed=3, start_ms=1_763_740_800_000)
    write_silver(LakeStore(str(home / "lake")), silver_rows([generator.next_weld()], "cell-01", ADDRESS))
    registry = ModelRegistry(local_tracking_uri(home / "mlflow"), str(home / "mlflow" / "artifacts"))
    return RolloutPlatform(home, defs, instance, registry)


def metadata(result: dg.ExecuteInProcessResult) -> dict[str, Any]:
    (materialization,) = result.asset_materializations_for_node("deployed_edge_model")
    return {k: getattr(v, "value", v) for k, v in materialization.metadata.items()}


def step_failures(result: dg.ExecuteInProcessResult) -> list[str]:
    return [str(e.event_specific_data.error.message) for e in result.all_events if e.is_step_failure]  # type: ignore[union-attr]


def agent_config(work: Path, port: int, agent: str, landing: Path) -> Path:
    """An agent of the line with the platform's public key, reading packages from `landing`."""
    settings = settings_dict(
        work,
        port,
        agent_id=agent,
        landing={"url": str(landing)},
        heartbeat={"interval_s": 0.2},
        model={
            "public_key": PUBLIC_KEY,
            "key_id": KEY_ID,
            "fetch_retry_min_s": 0.1,
            "fetch_retry_max_s": 0.5,
        },
        scoring={"checkpoint_interval_s": 0.5},
    )
    work.mkdir(parents=True, exist_ok=True)
    return write_config(work / "edge.yaml", settings)


@contextlib.contextmanager
def agent_processes(work: Path, port: int, agents: list[str], landing: Path) -> Iterator[dict[str, Path]]:
    """Real agent processes, stopped with SIGTERM (exit code 0 expected) on leaving; their spools."""
    started: list[subprocess.Popen[bytes]] = []
    try:
        for agent in agents:
            config = agent_config(work / agent, port, agent, landing)
            started.append(start_agent(config, work / agent / "agent.log"))
        yield {agent: work / agent / "spool" for agent in agents}
        for process in started:
            process.send_signal(signal.SIGTERM)
        for process, agent in zip(started, agents, strict=True):
            assert process.wait(60) == 0, (work / agent / "agent.log").read_text()[-3000:]
    finally:
        for process in started:
            if process.poll() is None:
                process.kill()
                process.wait(10)


def latest_models(beats: Recorder) -> dict[str, dict[str, Any]]:
    """Each agent's latest ONLINE heartbeat's `model` (empty until it has one)."""
    latest: dict[str, dict[str, Any]] = {}
    for message in list(beats.messages):
        beat = orjson.loads(message.payload)
        if beat["status"] != "OFFLINE":
            latest[beat["agent"]] = {**(beat.get("model") or {}), "scoring": beat.get("scoring") or {}}
    return latest


def serving(beats: Recorder, agent: str, version: str) -> bool:
    model = latest_models(beats).get(agent, {})
    return model.get("version") == version and bool(model.get("ready"))
