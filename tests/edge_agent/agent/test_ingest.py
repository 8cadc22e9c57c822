"""The simulator publishes, the agent captures, and the landing zone holds exactly the messages sent."""

from __future__ import annotations

import threading
import urllib.request
import uuid
from pathlib import Path

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from edge_agent.agent import EdgeAgent
from edge_agent.agent.heartbeat import ADDED_FIELDS
from edge_agent.agent.spool.directory import SpoolDirectory, SpoolInUse
from edge_agent.contract import Contract, ContractValidator, default_contract_path, load_contract
from edge_agent.files.landing_format import landing_key
from edge_agent.simulator import LineConfig, WeldLine, publish_line
from edge_agent.uns.endpoint import MqttEndpoint, MqttProtocol, publish_confirmed
from edge_agent.uns.local_broker import LocalBroker, free_port
from tests.edge_agent.agent.support import (
    START_MS,
    capture_seq_unique,
    cell_seq_counts,
    local_landing_files,
    make_settings,
    read_tables,
    rows_of,
    running,
    sent_keys,
)
from tests.helpers import Recorder, wait_until


@pytest.mark.parametrize(
    ("mode", "protocol", "count"),
    [("process", "5", 3000), ("thread", "3.1.1", 1200)],
    ids=["process-mqtt5", "thread-mqtt311"],
)
def test_landing_zone_holds_exactly_the_messages_sent(
    broker: LocalBroker,
    contract_validator: ContractValidator,
    tmp_path: Path,
    mode: str,
    protocol: MqttProtocol,
    count: int,
) -> None:
    settings = make_settings(
        tmp_path,
        broker.port,
        mqtt={"protocol": protocol},
        pipeline={"validate_mode": mode},
        spool={"seal_mode": mode},
        metrics={"port": free_port()},
    )
    endpoint = MqttEndpoint(port=broker.port, protocol=protocol)
    line = WeldLine(LineConfig(seed=11, start_ms=START_MS, seq_start=0, anomaly_rate=0.1))
    heartbeat_topic = settings.heartbeat_topic
    with running(EdgeAgent(settings)) as agent:
        report = publish_line(line, endpoint, max_messages=count, speed=0)
        wait_until(lambda: agent.stats.totals()["uploaded"] >= count, 60, "every message uploaded")
        heartbeat = agent.heartbeat_state()
        metrics = (
            urllib.request.urlopen(f"http://127.0.0.1:{settings.metrics.port}/metrics", timeout=10)
            .read()
            .decode()
        )

    tables = read_tables(local_landing_files(Path(settings.landing.url)))
    captured = rows_of(tables, "capture")
    assert cell_seq_counts(captured) == sent_keys(report)  # message by message, none twice
    assert rows_of(tables, "quarantine") == []
    assert capture_seq_unique(tables)
    # what landed is what was sent, byte for byte, and it still validates
    for row in captured:
        assert contract_validator.check(row["topic"], row["payload"]).ok
        assert row["agent"] == "edge-test" and row["site"] == "plant-1" and row["qos"] == 1
        assert orjson.loads(row["parameters"])["cell"] == row["cell"]

    assert contract_validator.check(heartbeat_topic, orjson.dumps(heartbeat)).ok
    per_topic = heartbeat["counters"]
    assert sum(c["received"] for c in per_topic.values()) == count
    for topic, sent in report.per_topic.items():
        assert per_topic[topic] == {
            "received": sent,
            "valid": sent,
            "quarantined": 0,
            "captured": sent,
            "uploaded": sent,
        }
    assert heartbeat["status"] == "ONLINE" and heartbeat["upload_backlog_files"] == 0

    assert (
        'edge_messages_total{stage="uploaded",topic="acme/plant-1/body-shop/line-1/cell-01/weld/telemetry"}'
        in metrics
    )
    assert (
        f'stage="captured",topic="{next(iter(report.per_topic))}"}} {float(report.per_topic[next(iter(report.per_topic))])}'
        in metrics
    )
    assert "edge_receive_to_durable_seconds_bucket" in metrics


def test_heartbeat_is_retained_valid_and_the_final_one_says_offline(
    broker: LocalBroker, endpoint: MqttEndpoint, contract_validator: ContractValidator, tmp_path: Path
) -> None:
    settings = make_settings(tmp_path, broker.port)
    topic = settings.heartbeat_topic
    with Recorder(endpoint, [topic]) as live, running(EdgeAgent(settings)) as agent:
        publish_line(
            WeldLine(LineConfig(seed=3, start_ms=START_MS, seq_start=0)), endpoint, max_messages=200, speed=0
        )
        wait_until(lambda: agent.stats.totals()["captured"] == 200, 30, "capture")
        wait_until(
            lambda: any(orjson.loads(m.payload)["counters"] for m in live.messages),
            10,
            "a heartbeat with counters",
        )
    wait_until(
        lambda: orjson.loads(live.messages[-1].payload)["status"] == "OFFLINE",
        10,
        "the final OFFLINE heartbeat",
    )
    for message in live.messages:
        verdict = contract_validator.check(message.topic, message.payload)
        assert verdict.ok, verdict.error
        assert message.qos == 1
    # a newcomer gets the retained state: OFFLINE, with the counters of the run
    with Recorder(endpoint, [topic]) as later:
        retained = later.wait_for(1, 10)[0]
    state = orjson.loads(retained.payload)
    assert retained.retain and state["status"] == "OFFLINE"
    assert sum(c["captured"] for c in state["counters"].values()) == 200
    assert state["agent"] == "edge-test" and state["model_version"] == ""


def older_contract(path: Path) -> Path:
    """The shipped contract as it was at 1.0.0: its heartbeat schema without the fields added since
    (`queue_full_waits`, `model`, `scoring`; with `additionalProperties: false`, so a heartbeat that has
    one is refused)."""
    document = yaml.safe_load(default_contract_path().read_text(encoding="utf-8"))
    document["info"]["version"] = "1.0.0"
    for added in ADDED_FIELDS:
        del document["components"]["schemas"]["agentHeartbeat"]["properties"][added]
    for example in document["components"]["messages"]["agentHeartbeat"]["examples"]:
        for added in ADDED_FIELDS:
            example["payload"].pop(added, None)
        example["payload"]["contract_version"] = "1.0.0"
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return path


def test_an_agent_given_an_older_copy_of_the_contract_starts_and_sends_heartbeats_it_accepts(
    broker: LocalBroker, endpoint: MqttEndpoint, contract: Contract, tmp_path: Path
) -> None:
    """Fields the heartbeat gained in a later contract version are sent only when the loaded contract
    declares them: an agent pointed at an older installed copy still starts (its Will is valid) and
    publishes heartbeats valid against that copy."""
    older = load_contract(older_contract(tmp_path / "uns-1.0.0.asyncapi.yaml"))
    assert older.version == "1.0.0" and contract.version != older.version
    older_validator = ContractValidator(older)
    settings = make_settings(tmp_path, broker.port, contract_path=str(older.source))
    shipped = contract.channel("agentHeartbeat").messages["agentHeartbeat"].examples[0].payload
    for added in ADDED_FIELDS:  # what the agent sends with the shipped contract, the copy refuses
        assert added in shipped
        alone = {k: v for k, v in shipped.items() if k not in ADDED_FIELDS or k == added}
        refused = older_validator.check(settings.heartbeat_topic, orjson.dumps(alone))
        assert refused.error is not None and added in str(refused.error)
    with Recorder(endpoint, [settings.heartbeat_topic]) as live:
        with running(EdgeAgent(settings)) as agent:
            assert (
                agent.contract.version == "1.0.0"
                and agent.parts.state.identity.heartbeat_fields == frozenset()
            )
            wait_until(
                lambda: any(orjson.loads(m.payload)["status"] == "ONLINE" for m in live.messages),
                10,
                "an ONLINE heartbeat",
            )
            will = agent.parts.heartbeat.encode(agent.parts.state.identity.will())
        wait_until(lambda: orjson.loads(live.messages[-1].payload)["status"] == "OFFLINE", 10, "OFFLINE")
    assert will is not None
    for raw in (will, *(m.payload for m in live.messages)):
        verdict = older_validator.check(settings.heartbeat_topic, raw)
        assert verdict.ok, verdict.error
        state = orjson.loads(raw)
        assert state["contract_version"] == "1.0.0" and not set(ADDED_FIELDS) & set(state)
    assert "heartbeat_invalid" not in agent.stats.events


def test_the_heartbeat_is_published_whatever_the_limit_on_received_payloads(
    broker: LocalBroker, endpoint: MqttEndpoint, contract_validator: ContractValidator, tmp_path: Path
) -> None:
    """`pipeline.max_payload_bytes` bounds what the agent receives, not what it sends: the heartbeat,
    which grows with the counted topics, is checked against the contract with its own default limit."""
    settings = make_settings(tmp_path, broker.port, pipeline={"max_payload_bytes": 1024})
    topics = [f"acme/plant-1/body-shop/line-1/cell-{i:02d}/weld/telemetry" for i in range(1, 13)]
    with Recorder(endpoint, [settings.heartbeat_topic]) as live:
        with running(EdgeAgent(settings)) as agent:
            publish_confirmed(
                endpoint, [(t, b"{}") for t in topics], client_id=f"cells-{uuid.uuid4().hex[:6]}"
            )
            wait_until(
                lambda: agent.stats.totals()["quarantined"] == len(topics), 30, "every message counted"
            )
            wait_until(
                lambda: any(len(orjson.loads(m.payload)["counters"]) == len(topics) for m in live.messages),
                10,
                "a heartbeat with every topic's counters",
            )
        # the OFFLINE heartbeat of the stop, as large, is sent as well
        wait_until(lambda: orjson.loads(live.messages[-1].payload)["status"] == "OFFLINE", 10, "OFFLINE")
    full = next(m for m in live.messages if len(orjson.loads(m.payload)["counters"]) == len(topics))
    assert len(full.payload) > settings.pipeline.max_payload_bytes
    for message in (full, live.messages[-1]):
        verdict = contract_validator.check(message.topic, message.payload)
        assert verdict.ok, verdict.error
    assert "heartbeat_invalid" not in agent.stats.events


def _spool_snapshot(root: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns) for p in root.rglob("*")}


def test_a_second_agent_on_the_same_spool_refuses_to_start_and_touches_nothing(
    broker: LocalBroker, endpoint: MqttEndpoint, tmp_path: Path
) -> None:
    # a long seal age keeps an open segment in the spool: exactly what a second agent must not seal
    settings = make_settings(tmp_path, broker.port, spool={"seal_max_age_s": 3600})
    line = WeldLine(LineConfig(seed=59, start_ms=START_MS, seq_start=0))
    with running(EdgeAgent(settings)) as first:
        before = publish_line(line, endpoint, max_messages=100, speed=0)
        wait_until(lambda: first.stats.totals()["captured"] == 100, 30, "capture")
        spool = settings.spool.dir
        snapshot = _spool_snapshot(spool)
        assert any(name.startswith("segments/capture-") for name in snapshot)
        second = EdgeAgent(settings)
        with pytest.raises(SpoolInUse, match="in use by another agent"):
            second.start()
        assert _spool_snapshot(spool) == snapshot
        assert second.stop() == 0  # nothing was started
        after = publish_line(line, endpoint, max_messages=100, speed=0)
        wait_until(lambda: first.stats.totals()["captured"] == 200, 30, "the first agent still captures")
    tables = read_tables(local_landing_files(Path(settings.landing.url)))
    assert cell_seq_counts(rows_of(tables, "capture")) == sent_keys(before, after)


def _last_live_status(heartbeats: Recorder) -> str | None:
    """The status last published while we listened (not a retained copy delivered on subscribing)."""
    live = [m for m in heartbeats.messages if not m.retain]
    return orjson.loads(live[-1].payload)["status"] if live else None


def test_a_stage_that_fails_stops_the_agent_with_exit_code_1_and_an_offline_heartbeat(
    broker: LocalBroker, endpoint: MqttEndpoint, tmp_path: Path
) -> None:
    """A real fault no stage handles: a sealed file to set aside while `<spool>/corrupt` cannot be a
    folder (a regular file holds its name). The uploader stage dies; the agent must not stay ONLINE with
    nothing moving, nor die without a word: it stops in order (every later shutdown step still runs)
    and exits 1 for its supervisor to restart it."""
    settings = make_settings(tmp_path, broker.port)
    spool = settings.spool.dir
    key = landing_key(
        site="plant-1", line="line-1", agent="edge-test", first_received_ms=START_MS,
        kind="capture", first_seq=1, last_seq=3,
    )  # fmt: skip
    agent = EdgeAgent(settings)
    exit_code: list[int] = []
    with Recorder(endpoint, [settings.heartbeat_topic]) as heartbeats:
        runner = threading.Thread(target=lambda: exit_code.append(agent.run()))
        runner.start()
        assert agent.ready.wait(20), "the agent did not become ready"
        (spool / "corrupt").write_text("a file where the folder should be")
        foreign = spool / "sealed" / key.relative_path
        foreign.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.table({"not_a_landing_column": [1, 2, 3]}), foreign)  # the next scan finds it
        runner.join(60)
        assert not runner.is_alive(), "the agent did not stop after its uploader failed"
        wait_until(lambda: _last_live_status(heartbeats) == "OFFLINE", 10, "the OFFLINE heartbeat")
    assert exit_code == [1] and agent.fatal is not None
    final = orjson.loads([m for m in heartbeats.messages if not m.retain][-1].payload)
    assert "NotADirectoryError" in (final["last_error"] or "")
    assert foreign.exists()  # kept for a human, never deleted
    again = SpoolDirectory(spool)
    again.lock()  # the failed agent released its spool
    again.unlock()
