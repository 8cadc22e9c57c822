"""`edge_fleet_status` and `edge_fleet_sensor` on a real Mosquitto, Dagster instance and Delta lake:
retained heartbeats become the table; the sensor records each agent's state as observations and fails
`agents_are_alive` for a stale or OFFLINE agent, a real agent process killed with SIGKILL included."""

from __future__ import annotations

import signal
import time
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from edge_agent.uns.local_broker import LocalBroker
from mlops_assets.ml.monitoring.fleet import EDGE_FLEET_STATUS
from tests.edge_agent.agent.support import settings_dict, write_config
from tests.edge_agent.agent.test_process import start_agent
from tests.helpers import wait_until
from tests.mlops_assets.defs.ingestion.runs import check_results, materialisations
from tests.mlops_assets.edge_reports import heartbeat, publish

from .support import ADDRESS, MonitoringPlatform, start_monitoring_platform

CHECK = dg.AssetCheckKey(dg.AssetKey("edge_fleet_status"), "agents_are_alive")


@pytest.fixture
def platform(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, broker: LocalBroker) -> MonitoringPlatform:
    return start_monitoring_platform(tmp_path, monkeypatch, broker.port, HEARTBEAT_STALE_S=60)


def beat(platform: MonitoringPlatform, agent: str, status: str, age_s: float) -> None:
    now_ms = int(time.time() * 1000)
    publish(
        platform.endpoint,
        f"{ADDRESS.prefix}/_edge/{agent}/heartbeat",
        heartbeat(agent, status, now_ms - int(age_s * 1000)),
    )


def latest_check(platform: MonitoringPlatform) -> tuple[bool, dict[str, Any]]:
    record = platform.instance.event_log_storage.get_latest_asset_check_execution_by_key([CHECK])[CHECK]
    assert record.event is not None and record.event.dagster_event is not None
    evaluation = record.event.dagster_event.event_specific_data
    return evaluation.passed, {k: getattr(v, "value", v) for k, v in evaluation.metadata.items()}  # type: ignore[union-attr]


def observations(platform: MonitoringPlatform) -> list[dict[str, Any]]:
    records = platform.instance.fetch_observations(dg.AssetKey(EDGE_FLEET_STATUS.name), limit=100).records
    found = [r.asset_observation for r in reversed(records) if r.asset_observation is not None]
    return [{k: getattr(v, "value", v) for k, v in o.metadata.items()} for o in found]


def test_retained_heartbeats_become_the_fleet_table_and_dead_agents_fail_the_check(
    platform: MonitoringPlatform,
) -> None:
    beat(platform, "edge-fresh", "ONLINE", 1)
    beat(platform, "edge-stale", "ONLINE", 600)
    beat(platform, "edge-gone", "OFFLINE", 1)

    result = platform.materialize("edge_fleet_status")
    assert materialisations(result)["edge_fleet_status"]["agents"] == 3
    passed, found = check_results(result)["agents_are_alive"]
    assert not passed and sorted(found["dead_agents"]) == ["edge-gone", "edge-stale"]
    assert "stale: no heartbeat for" in found["dead_agents"]["edge-stale"]
    table = platform.store.read(EDGE_FLEET_STATUS).sort("agent")
    assert table["agent"].to_list() == ["edge-fresh", "edge-gone", "edge-stale"]
    assert table["alive"].to_list() == [True, False, False] and table["status"].to_list() == [
        "ONLINE",
        "OFFLINE",
        "ONLINE",
    ]
    assert set(table["line"]) == {"line-1"} and table["heartbeat"][0].startswith("{")

    first = platform.tick("edge_fleet_sensor", None)
    assert len(first.asset_events) == 4  # three observations and the check
    passed, found = latest_check(platform)
    assert not passed and sorted(found["dead_agents"]) == ["edge-gone", "edge-stale"]
    assert {o["agent"]: o["alive"] for o in observations(platform)} == {
        "edge-fresh": True, "edge-stale": False, "edge-gone": False,
    }  # fmt: skip
    quiet = platform.tick("edge_fleet_sensor", first.cursor)
    assert quiet.asset_events == [] and "3 agents, 2 dead" in (quiet.skip_reason.skip_message or "")  # type: ignore[union-attr]

    beat(platform, "edge-stale", "ONLINE", 1)
    beat(platform, "edge-gone", "ONLINE", 1)
    healed = platform.tick("edge_fleet_sensor", quiet.cursor)
    assert len(healed.asset_events) == 3 and latest_check(platform)[0]
    # the table follows at its next materialisation (the automation's cron)
    result = platform.materialize("edge_fleet_status")
    assert check_results(result)["agents_are_alive"][0]
    assert platform.store.read(EDGE_FLEET_STATUS)["alive"].all()


def test_a_refused_model_shows_in_the_fleet_table_and_as_an_observation(platform: MonitoringPlatform) -> None:
    """An agent that refused a deployment (a package altered, a bad signature) says so in its heartbeat;
    the Dagster UI shows it: a column of the fleet table, and an observation when it happens."""
    now_ms = int(time.time() * 1000)
    topic = f"{ADDRESS.prefix}/_edge/edge-a/heartbeat"
    publish(platform.endpoint, topic, heartbeat("edge-a", "ONLINE", now_ms))
    first = platform.tick("edge_fleet_sensor", None)
    refusal = {
        "version": "2",
        "reason": "model.onnx does not match its SHA-256 in the manifest",
        "at_ms": now_ms,
    }
    model = {"version": "1", "ready": True, "desired_version": "1", "last_refusal": refusal}
    publish(platform.endpoint, topic, {**heartbeat("edge-a", "ONLINE", now_ms + 1000), "model": model})
    refused = platform.tick("edge_fleet_sensor", first.cursor)
    assert len(refused.asset_events) == 1  # the refusal is a change of the agent's state
    assert observations(platform)[-1]["refused_model"] == "2"
    assert "does not match its SHA-256" in observations(platform)[-1]["refusal_reason"]
    platform.materialize("edge_fleet_status")
    row = platform.store.read(EDGE_FLEET_STATUS).row(0, named=True)
    assert (row["model_version"], row["refused_version"]) == ("1", "2")
    assert row["refusal_reason"] == refusal["reason"]


def test_a_killed_agent_process_fails_the_check_through_its_will(
    platform: MonitoringPlatform, broker: LocalBroker, tmp_path: Path
) -> None:
    work = tmp_path / "agent"
    work.mkdir()
    config = write_config(work / "edge.yaml", settings_dict(work, broker.port, agent_id="edge-line-1"))
    agent = start_agent(config, work / "agent.log")
    cursor: list[str | None] = [None]

    def verdict_is(alive: bool) -> bool:
        result = platform.tick("edge_fleet_sensor", cursor[0])
        cursor[0] = result.cursor
        seen = [o for o in observations(platform) if o.get("agent") == "edge-line-1"]
        return bool(seen) and seen[-1]["alive"] is alive and latest_check(platform)[0] is alive

    try:
        wait_until(lambda: verdict_is(True), 60, "the agent seen alive", poll_s=0.5)
        agent.send_signal(signal.SIGKILL)
        agent.wait(10)
        wait_until(lambda: verdict_is(False), 60, "the agent's Will seen", poll_s=0.5)
    finally:
        if agent.poll() is None:
            agent.kill()
            agent.wait(10)
    passed, found = latest_check(platform)
    assert not passed and found["dead_agents"]["edge-line-1"].startswith("line-1: OFFLINE")
    assert observations(platform)[-1]["status"] == "OFFLINE"
