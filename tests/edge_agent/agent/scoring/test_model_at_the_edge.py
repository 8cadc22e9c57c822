"""Models at the edge, on a real broker with a real agent: deployments verified, every captured batch
scored once, swaps without a lost or doubled result, refusals while the old model keeps serving."""

from __future__ import annotations

import shutil
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson
import pytest

from edge_agent.agent import EdgeAgent, EdgeSettings
from edge_agent.contract import ContractValidator
from edge_agent.features import MODEL_FILE
from edge_agent.simulator import LineConfig, PublishReport, WeldLine, publish_line
from edge_agent.uns.endpoint import MqttEndpoint, connect_and_wait, new_client, publish_confirmed
from edge_agent.uns.local_broker import LocalBroker
from tests.edge_agent.agent.support import make_settings, merge
from tests.helpers import Recorder, wait_until

from .packages import (
    ADDRESS,
    KEY_ID,
    OTHER_SIGNER,
    PUBLIC_KEY,
    deploy,
    make_corrupt_onnx_package,
    make_package,
    telemetry,
)

T0 = 1_765_000_000_000
MANIFEST_TOPIC = f"{ADDRESS.prefix}/_model/manifest"
ANOMALIES = f"{ADDRESS.prefix}/+/weld/anomaly"


def scoring_settings(tmp_path: Path, port: int, **overrides: Any) -> EdgeSettings:
    fast = {
        "model": {
            "public_key": PUBLIC_KEY,
            "key_id": KEY_ID,
            "fetch_retry_min_s": 0.1,
            "fetch_retry_max_s": 0.5,
        },
        "scoring": {"checkpoint_interval_s": 0.2},
    }
    return make_settings(tmp_path, port, **merge(fast, overrides))


def publish_deployment(endpoint: MqttEndpoint, manifest: dict[str, Any]) -> None:
    publish_confirmed(endpoint, [(MANIFEST_TOPIC, orjson.dumps(manifest))], client_id="platform", retain=True)


def model_state(agent: EdgeAgent) -> dict[str, Any]:
    state: dict[str, Any] = agent.heartbeat_state()["model"]
    return state


@contextmanager
def running(agent: EdgeAgent) -> Iterator[EdgeAgent]:
    with agent:
        assert agent.ready.wait(30), "the agent did not become ready"
        yield agent


def results_by_batch(recorder: Recorder) -> Counter[tuple[str, int]]:
    found: Counter[tuple[str, int]] = Counter()
    for message in recorder.messages:
        result = orjson.loads(message.payload)
        if "seq" in result:
            found[(message.topic.split("/")[4], result["seq"])] += 1
    return found


def test_a_deployed_model_scores_every_captured_batch_once_with_contract_valid_results(
    broker: LocalBroker, endpoint: MqttEndpoint, tmp_path: Path, contract_validator: ContractValidator
) -> None:
    landing = tmp_path / "landing"
    settings = scoring_settings(tmp_path, broker.port)
    manifest = make_package(tmp_path / "v1", "1")
    deployment = deploy(landing, tmp_path / "v1", manifest, published_ms=T0 + 1_000)
    messages = telemetry(cells=2, welds_per_cell=2)
    with Recorder(endpoint, [ANOMALIES]) as results, running(EdgeAgent(settings)) as agent:
        publish_deployment(endpoint, deployment)
        wait_until(lambda: model_state(agent)["ready"], 30, "model 1 loaded")
        assert model_state(agent)["version"] == "1"
        publish_confirmed(endpoint, messages, client_id="cells")
        wait_until(lambda: len(results_by_batch(results)) >= len(messages), 30, "a result per batch")
        heartbeat = agent.heartbeat_state()
    batches = results_by_batch(results)
    assert len(batches) == len(messages) and set(batches.values()) == {1}
    for message in results.messages:
        verdict = contract_validator.check(message.topic, message.payload)
        assert verdict.ok, verdict.error
        result = orjson.loads(message.payload)
        assert result["model_version"] == "1"
        if "seq" in result:
            assert result["result_id"] == f"{message.topic.split('/')[4]}:{result['seq']}:1"
    welds = [orjson.loads(m.payload)["weld"] for m in results.messages if "weld" in orjson.loads(m.payload)]
    assert len(welds) == 2  # the first weld of each cell closed when the second began
    assert heartbeat["scoring"]["batches"] == len(messages)
    assert contract_validator.check(settings.heartbeat_topic, orjson.dumps(heartbeat)).ok


@pytest.mark.parametrize(
    "tamper",
    ["one_byte_changed", "wrong_signature", "wrong_key_id", "missing_file", "corrupt_onnx"],
)
def test_a_bad_deployment_is_refused_and_the_old_model_keeps_scoring(
    broker: LocalBroker, endpoint: MqttEndpoint, tmp_path: Path, tamper: str
) -> None:
    landing = tmp_path / "landing"
    settings = scoring_settings(tmp_path, broker.port)
    good = deploy(landing, tmp_path / "v1", make_package(tmp_path / "v1", "1"), published_ms=T0 + 1_000)
    if tamper == "corrupt_onnx":
        bad_manifest = make_corrupt_onnx_package(tmp_path / "v2", "2")
    else:
        bad_manifest = make_package(tmp_path / "v2", "2", seed=2)
    bad = deploy(landing, tmp_path / "v2", bad_manifest, published_ms=T0 + 2_000)
    staged = landing / bad["package_uri"]
    if tamper == "one_byte_changed":
        raw = bytearray((staged / MODEL_FILE).read_bytes())
        raw[len(raw) // 2] ^= 0x01
        (staged / MODEL_FILE).write_bytes(bytes(raw))
    elif tamper == "wrong_signature":
        bad = deploy(landing, tmp_path / "v2", bad_manifest, published_ms=T0 + 2_000, signer=OTHER_SIGNER)
    elif tamper == "wrong_key_id":
        bad = {**bad, "deployment_signature": {**bad["deployment_signature"], "key_id": "someone-else"}}
    elif tamper == "missing_file":
        shutil.rmtree(staged)
    messages = telemetry(cells=1, welds_per_cell=2)
    half = len(messages) // 2
    with Recorder(endpoint, [ANOMALIES]) as results, running(EdgeAgent(settings)) as agent:
        publish_deployment(endpoint, good)
        wait_until(lambda: model_state(agent)["version"] == "1", 30, "model 1 serving")
        publish_deployment(endpoint, bad)
        wait_until(lambda: model_state(agent)["last_refusal"] is not None, 30, "the refusal")
        publish_confirmed(endpoint, messages[:half], client_id="cells")
        wait_until(lambda: len(results_by_batch(results)) >= half, 30, "results after the refusal")
        state = model_state(agent)
    refusal = state["last_refusal"]
    assert refusal["version"] == "2" and state["version"] == "1" and state["ready"]
    expected = {
        "one_byte_changed": "does not match its SHA-256",
        "wrong_signature": "signature does not verify",
        "wrong_key_id": "key id",
        "missing_file": "does not exist",
        "corrupt_onnx": "cannot load",
    }[tamper]
    assert expected in refusal["reason"]
    assert {orjson.loads(m.payload)["model_version"] for m in results.messages} == {"1"}


def test_a_swap_under_load_scores_each_batch_once_by_the_old_or_the_new_model(
    broker: LocalBroker, endpoint: MqttEndpoint, tmp_path: Path
) -> None:
    """Ten cells paced at about 2,000 messages a second; model 2 is deployed while they publish. Every
    captured batch gets exactly one result, from model 1 before the swap and model 2 after it, per cell."""
    landing = tmp_path / "landing"
    settings = scoring_settings(tmp_path, broker.port)
    v1 = deploy(landing, tmp_path / "v1", make_package(tmp_path / "v1", "1"), published_ms=T0 + 1_000)
    v2 = deploy(landing, tmp_path / "v2", make_package(tmp_path / "v2", "2", seed=2), published_ms=T0 + 2_000)
    cells = tuple(f"cell-{i:02d}" for i in range(1, 11))
    line = WeldLine(LineConfig(cells=cells, seed=9, start_ms=1_763_740_800_000))
    published: list[PublishReport] = []
    with Recorder(endpoint, [ANOMALIES]) as results, running(EdgeAgent(settings)) as agent:
        publish_deployment(endpoint, v1)
        wait_until(lambda: model_state(agent)["version"] == "1", 30, "model 1 serving")
        stream = threading.Thread(
            target=lambda: published.append(
                publish_line(line, endpoint, duration_s=5.0, speed=28.0, record=False)
            )
        )
        stream.start()
        wait_until(lambda: len(results.messages) >= 1000, 30, "scoring under way")
        publish_deployment(endpoint, v2)
        stream.join(60)
        sent = published[0].messages
        wait_until(lambda: model_state(agent)["version"] == "2", 30, "model 2 serving")
        wait_until(lambda: len(results_by_batch(results)) >= sent, 60, "a result per batch")
    print(f"published {sent} telemetry messages at {published[0].rate:,.0f} msg/s")
    batches = results_by_batch(results)
    assert len(batches) == sent and set(batches.values()) == {1}
    versions_per_cell: dict[str, list[str]] = {}
    for message in results.messages:
        result = orjson.loads(message.payload)
        if "seq" in result:
            versions_per_cell.setdefault(message.topic, []).append(result["model_version"])
    assert len(versions_per_cell) == len(cells)
    for versions in versions_per_cell.values():  # one switch at a batch boundary, never back
        assert versions == sorted(versions)
    assert any(set(v) == {"1", "2"} for v in versions_per_cell.values())


class PersistentSubscriber:
    """A subscriber with a persistent session: what is published while it is away waits for it."""

    def __init__(self, endpoint: MqttEndpoint, topic_filter: str) -> None:
        self.messages: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._client = new_client(endpoint, client_id="results-subscriber", clean_start=False)
        self._client.on_message = self._on_message
        self._client.on_connect = lambda client, *args: client.subscribe(topic_filter, qos=1)
        self._client.reconnect_delay_set(0.1, 0.5)
        connect_and_wait(self._client, endpoint, clean_start=False, session_expiry_s=3600)

    def _on_message(self, client: Any, userdata: Any, message: Any) -> None:
        with self._lock:
            self.messages.append(orjson.loads(message.payload))

    def results(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self.messages)

    def close(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()


def test_results_made_while_the_broker_is_down_wait_in_the_outbox_and_follow(
    broker: LocalBroker, endpoint: MqttEndpoint, tmp_path: Path
) -> None:
    """A weld closed by idle time while the broker is away: its verdict waits on disk and is published
    once the broker is back."""
    landing = tmp_path / "landing"
    settings = scoring_settings(tmp_path, broker.port, scoring={"weld_idle_close_s": 1.0})
    v1 = deploy(landing, tmp_path / "v1", make_package(tmp_path / "v1", "1"), published_ms=T0 + 1_000)
    one_weld = telemetry(cells=1, welds_per_cell=1)
    subscriber = PersistentSubscriber(endpoint, ANOMALIES)
    try:
        with running(EdgeAgent(settings)) as agent:
            publish_deployment(endpoint, v1)
            wait_until(lambda: model_state(agent)["version"] == "1", 30, "model 1 serving")
            publish_confirmed(endpoint, one_weld, client_id="cells")
            wait_until(lambda: len(subscriber.results()) >= len(one_weld), 30, "a result per batch")
            broker.stop()
            scoring = agent.parts.scoring
            assert scoring is not None
            wait_until(lambda: scoring.outbox.backlog >= 1, 30, "the weld's verdict waiting in the outbox")
            assert not [r for r in subscriber.results() if "weld" in r]
            broker.start()
            wait_until(
                lambda: any("weld" in r for r in subscriber.results()), 60, "the verdict after the outage"
            )
            wait_until(lambda: scoring.outbox.backlog == 0, 30, "the outbox emptied")
    finally:
        subscriber.close()
    verdict = next(r["weld"] for r in subscriber.results() if "weld" in r)
    assert verdict["closed_by"] == "idle" and verdict["n_samples"] == sum(
        orjson.loads(p)["n_samples"] for _, p in one_weld
    )


@pytest.mark.parametrize("validate_mode", ["process", "thread"])
def test_validation_decodes_each_batch_once_for_scoring(
    broker: LocalBroker, endpoint: MqttEndpoint, tmp_path: Path, validate_mode: str
) -> None:
    """Once a model serves, every batch reaches the scorer decoded by validation: none is parsed again."""
    landing = tmp_path / "landing"
    settings = scoring_settings(tmp_path, broker.port, pipeline={"validate_mode": validate_mode})
    v1 = deploy(landing, tmp_path / "v1", make_package(tmp_path / "v1", "1"), published_ms=T0 + 1_000)
    messages = telemetry(cells=2, welds_per_cell=1)
    with Recorder(endpoint, [ANOMALIES]) as results, running(EdgeAgent(settings)) as agent:
        publish_deployment(endpoint, v1)
        wait_until(lambda: model_state(agent)["version"] == "1", 30, "model 1 serving")
        publish_confirmed(endpoint, messages, client_id="cells")
        wait_until(lambda: len(results_by_batch(results)) >= len(messages), 30, "a result per batch")
        events = dict(agent.stats.events)
    assert events.get("scoring_parsed_payloads", 0) == 0
    assert agent.heartbeat_state()["scoring"]["batches"] == len(messages)
