"""Canary and rollback within a line, end to end: two real agent processes on one line, a real broker,
Dagster instance, MLflow store and lake; `edge_rollout_sensor` evaluated against the instance and the
runs it requests executed as the daemon would."""

from __future__ import annotations

import threading
from pathlib import Path

import orjson
import pytest

from edge_agent.simulator import LineConfig, PublishReport, WeldLine, publish_line
from edge_agent.uns.endpoint import MqttEndpoint
from edge_agent.uns.local_broker import LocalBroker
from mlops_assets.ml.registry import CHAMPION, PREVIOUS_CHAMPION
from mlops_assets.ml.rollout.uns_client import read_retained
from tests.edge_agent.agent.scoring.packages import MODEL_NAME
from tests.helpers import Recorder, wait_until

from .support import (
    HEARTBEATS,
    MANIFEST_TOPIC,
    RolloutPlatform,
    agent_processes,
    latest_models,
    metadata,
    serving,
    start_rollout_platform,
    step_failures,
)

MIN_BATCHES = 100
NO_LATENCY_BOUND = 1e12
"""Latency is a wall-clock figure of a loaded test machine: these tests leave it out of the verdict
(`tests/mlops_assets/ml/rollout/test_canary.py` covers the bound)."""


def retained_rollout(endpoint: MqttEndpoint) -> tuple[str, dict]:
    payload = read_retained(endpoint, [MANIFEST_TOPIC], client_id="test-reader", settle_s=0.3)[MANIFEST_TOPIC]
    manifest = orjson.loads(payload)
    return manifest["model_version"], manifest["rollout"]


def scored_by(beats: Recorder, agent: str, version: str) -> int:
    by_version = latest_models(beats).get(agent, {}).get("scoring", {}).get("by_version", {})
    return int(by_version.get(version, {}).get("batches", 0))


def versions_seen(beats: Recorder, agent: str) -> set[str]:
    """Every version an agent's heartbeats ever named as served or desired."""
    seen = set()
    for message in list(beats.messages):
        beat = orjson.loads(message.payload)
        if beat["agent"] == agent and beat.get("model"):
            seen |= {beat["model"]["version"], beat["model"]["desired_version"]}
    return seen - {""}


def start_line(platform: RolloutPlatform, beats: Recorder, **policy: float) -> str:
    """v1 to the whole line (its first model), with edge-a as the line's canary agent from then on."""
    wait_until(lambda: {"edge-a", "edge-b"} <= set(latest_models(beats)), 60, "both agents online")
    v1 = platform.register()
    first = platform.rollout(
        canary_agents=["edge-a"], min_batches=MIN_BATCHES, max_p99_latency_us=NO_LATENCY_BOUND, **policy
    )
    assert first.success, step_failures(first)
    wait_until(lambda: serving(beats, "edge-a", v1) and serving(beats, "edge-b", v1), 60, "the line on v1")
    return v1


def deploy_canary(platform: RolloutPlatform, beats: Recorder, v2: str) -> str | None:
    """The sensor deploys the new champion `v2` as a canary on edge-a; returns the sensor's cursor once
    it has looked at edge-a serving v2 beside its shadow."""
    request, cursor = platform.tick_until_requested(None, 30)
    assert request.tags["mlops/rollout_action"] == "deploy"
    deployed = platform.launch_request(request)
    assert deployed.success, step_failures(deployed)
    assert (metadata(deployed)["stage"], metadata(deployed)["agents"]) == ("canary", ["edge-a"])
    wait_until(lambda: serving(beats, "edge-a", v2), 60, f"edge-a serving the canary {v2}")
    assert latest_models(beats)["edge-a"].get("shadow_version") is not None
    first_look = platform.tick(cursor)  # the baseline: counters from here on are compared
    assert not first_look.run_requests
    return first_look.cursor


def publish_telemetry(endpoint: MqttEndpoint, seed: int) -> tuple[threading.Thread, list[PublishReport]]:
    line = WeldLine(LineConfig(seed=seed, start_ms=1_765_000_000_000, seq_start=0))
    reports: list[PublishReport] = []
    thread = threading.Thread(
        target=lambda: reports.append(publish_line(line, endpoint, max_messages=900, speed=0)), daemon=True
    )
    thread.start()
    return thread, reports


def test_a_canary_whose_alert_rate_explodes_is_rolled_back_and_the_rest_of_the_line_never_loads_it(
    broker: LocalBroker, endpoint: MqttEndpoint, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    platform = start_rollout_platform(tmp_path / "platform", monkeypatch, broker.port)
    with (
        Recorder(endpoint, [HEARTBEATS]) as beats,
        agent_processes(tmp_path / "agents", broker.port, ["edge-a", "edge-b"], platform.landing) as spools,
    ):
        # A soak of an hour: a canary that misbehaves is rolled back without waiting for it.
        v1 = start_line(platform, beats, soak_s=3600)
        v2 = platform.register(threshold_scale=0.001)  # the gate's promotion of a model that alarms on all
        cursor = deploy_canary(platform, beats, v2)
        publisher, _ = publish_telemetry(endpoint, seed=12)
        wait_until(lambda: scored_by(beats, "edge-a", v2) >= MIN_BATCHES, 60, "the canary scoring")
        request, cursor = platform.tick_until_requested(cursor, 30)
        assert request.tags["mlops/rollout_action"] == "rollback"
        rolled_back = platform.launch_request(request)
        assert rolled_back.success, step_failures(rolled_back)
        wait_until(lambda: serving(beats, "edge-a", v1), 60, f"edge-a back on {v1}")
        publisher.join(60)
        assert retained_rollout(endpoint) == (v1, {"stage": "rollback", "agents": [],
                                                   "published_ms": metadata(rolled_back)["published_ms"]})  # fmt: skip
        assert not platform.tick(cursor).run_requests  # the line serves the champion again: nothing to do
    registry = platform.registry
    assert registry.by_alias(MODEL_NAME, CHAMPION).version == v1  # type: ignore[union-attr]
    assert registry.by_alias(MODEL_NAME, PREVIOUS_CHAMPION).version == v2  # type: ignore[union-attr]
    tags = registry.client.get_model_version(MODEL_NAME, v2).tags
    assert tags["edge_rollout"] == "rolled_back" and "alert rate of version 2" in tags["edge_rollback_reason"]
    record = metadata(rolled_back)
    assert (record["action"], record["rolled_back_version"]) == ("rollback", v2)
    assert "edge-a: alert rate of version 2" in record["reason"] and "shadow 1" in record["reason"]
    statuses = [o["status"] for o in platform.observations()]
    assert statuses[0].startswith("wait") and statuses[-1] == "rollback"
    assert versions_seen(beats, "edge-b") == {v1}  # its heartbeats never named v2
    assert not (spools["edge-b"] / "models" / v2).exists() and (spools["edge-b"] / "models" / v1).is_dir()


def test_a_healthy_canary_is_promoted_after_the_soak_and_the_whole_line_serves_it(
    broker: LocalBroker, endpoint: MqttEndpoint, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    platform = start_rollout_platform(tmp_path / "platform", monkeypatch, broker.port)
    with (
        Recorder(endpoint, [HEARTBEATS]) as beats,
        agent_processes(tmp_path / "agents", broker.port, ["edge-a", "edge-b"], platform.landing),
    ):
        v1 = start_line(platform, beats, soak_s=2)
        v2 = platform.register(seed=2)  # another model, as good: its alert rate is close to v1's
        cursor = deploy_canary(platform, beats, v2)
        assert serving(beats, "edge-b", v1)
        publisher, _ = publish_telemetry(endpoint, seed=13)
        wait_until(lambda: scored_by(beats, "edge-a", v2) >= MIN_BATCHES, 60, "the canary scoring")
        request, _ = platform.tick_until_requested(cursor, 30)
        assert request.tags["mlops/rollout_action"] == "promote", request.run_config
        promoted = platform.launch_request(request)
        assert promoted.success, step_failures(promoted)
        wait_until(
            lambda: serving(beats, "edge-a", v2) and serving(beats, "edge-b", v2), 60, "the line on v2"
        )
        wait_until(
            lambda: "shadow_version" not in latest_models(beats)["edge-a"], 30, "edge-a's shadow dropped"
        )
        publisher.join(60)
        assert retained_rollout(endpoint)[0] == v2 and retained_rollout(endpoint)[1]["stage"] == "fleet"
    assert platform.registry.by_alias(MODEL_NAME, CHAMPION).version == v2  # type: ignore[union-attr]
    assert platform.registry.client.get_model_version(MODEL_NAME, v2).tags["edge_rollout"] == "fleet"
    record = metadata(promoted)
    assert (record["action"], record["stage"], record["fleet_version"]) == ("promote", "fleet", v2)
    assert f"canary {v2} healthy" in record["reason"] and f"(shadow {v1}: " in record["reason"]
    assert [o["status"] for o in platform.observations()][-1] == "promote"
