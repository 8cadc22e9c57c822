"""`deployed_edge_model` on a real broker, Dagster instance, MLflow store and lake, with a real agent
process: what it publishes, where the package lands, and what it refuses to publish."""

from __future__ import annotations

import hashlib
from pathlib import Path

import orjson
import pytest

from edge_agent.contract import ContractValidator
from edge_agent.features import MANIFEST_FILE, MODEL_FILE, load_package
from edge_agent.features.manifest import deployment_signature_problem
from edge_agent.uns.endpoint import MqttEndpoint
from edge_agent.uns.local_broker import LocalBroker
from mlops_assets.landing.zone import LocalLandingZone
from mlops_assets.ml.rollout.uns_client import read_retained
from tests.edge_agent.agent.scoring.packages import KEY_ID, MODEL_NAME, PUBLIC_KEY
from tests.helpers import Recorder, wait_until

from .support import (
    HEARTBEATS,
    MANIFEST_TOPIC,
    agent_processes,
    metadata,
    serving,
    start_rollout_platform,
    step_failures,
)


def retained_manifest(endpoint: MqttEndpoint) -> bytes | None:
    return read_retained(endpoint, [MANIFEST_TOPIC], client_id="test-reader", settle_s=0.3).get(
        MANIFEST_TOPIC
    )


def test_the_champion_is_published_retained_signed_and_contract_valid_and_an_agent_serves_it(
    broker: LocalBroker,
    endpoint: MqttEndpoint,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    contract_validator: ContractValidator,
) -> None:
    platform = start_rollout_platform(tmp_path / "platform", monkeypatch, broker.port)
    version = platform.register()
    with (
        Recorder(endpoint, [HEARTBEATS]) as beats,
        agent_processes(tmp_path / "agents", broker.port, ["edge-a"], platform.landing),
    ):
        wait_until(lambda: bool(beats.messages), 60, "the agent's first heartbeat")
        result = platform.rollout(canary_agents=["edge-a"])
        assert result.success, step_failures(result)
        wait_until(lambda: serving(beats, "edge-a", version), 60, f"edge-a serving version {version}")
    published = metadata(result)
    area = f"_models/plant-1/line-1/{MODEL_NAME}/{version}/"
    assert published["stage"] == "fleet" and published["agents"] == []  # the line's first model
    assert (published["model_version"], published["package_uri"], published["topic"]) == (
        version,
        area,
        MANIFEST_TOPIC,
    )
    assert published["settings"]["canary_agents"] == ["edge-a"]  # kept for the line's next champion
    payload = retained_manifest(endpoint)
    assert payload is not None and hashlib.sha256(payload).hexdigest() == published["manifest_sha256"]
    assert contract_validator.check(MANIFEST_TOPIC, payload).ok
    manifest = orjson.loads(payload)
    assert deployment_signature_problem(manifest, PUBLIC_KEY, KEY_ID) is None
    assert manifest["rollout"] == {"stage": "fleet", "agents": [], "published_ms": published["published_ms"]}
    assert manifest["package_uri"] == area
    staged = platform.landing / area
    assert sorted(p.name for p in staged.iterdir()) == sorted(
        [*(f["path"] for f in manifest["files"]), MANIFEST_FILE]
    )
    assert load_package(staged, PUBLIC_KEY, key_id=KEY_ID).model_version == version
    assert not any("_models" in f.key.relative_path for f in LocalLandingZone(platform.landing).list().files)
    tags = platform.registry.client.get_model_version(MODEL_NAME, version).tags
    assert tags["edge_rollout"] == "fleet" and tags["edge_manifest_sha256"] == published["manifest_sha256"]


def test_a_package_that_does_not_verify_is_never_published(
    broker: LocalBroker, endpoint: MqttEndpoint, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    platform = start_rollout_platform(tmp_path / "platform", monkeypatch, broker.port)
    nothing = platform.rollout()
    assert not nothing.success and "no champion" in " ".join(step_failures(nothing))
    version = platform.register()
    source = platform.registry.package_of(MODEL_NAME, version).source
    model = Path(source.removeprefix("file://")) / MODEL_FILE
    altered = bytearray(model.read_bytes())
    altered[len(altered) // 2] ^= 0x01
    model.write_bytes(bytes(altered))
    result = platform.rollout()
    assert not result.success and "SHA-256" in " ".join(step_failures(result))
    assert retained_manifest(endpoint) is None
    assert not (platform.landing / "_models").exists()
