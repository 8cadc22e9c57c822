"""Bad input: the agent stays up, each bad message lands in quarantine with its reason, the counters match."""

from __future__ import annotations

import random
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import orjson

from edge_agent.agent import EdgeAgent
from edge_agent.contract import Contract, ContractValidator, TopicRouter
from edge_agent.simulator import LineConfig, WeldLine
from edge_agent.uns.endpoint import MqttEndpoint, publish_confirmed
from edge_agent.uns.local_broker import LocalBroker
from tests.edge_agent.agent.support import (
    START_MS,
    local_landing_files,
    make_settings,
    read_tables,
    rows_of,
    running,
)
from tests.helpers import wait_until

MAX_PAYLOAD = 64 * 1024
GOOD_TOPIC = "acme/plant-1/body-shop/line-1/cell-{:02d}/weld/telemetry"


def bad_messages(seed: int, per_kind: int) -> list[tuple[str, bytes, str]]:
    """(topic, payload, expected error kind): every payload distinct, several ways to be wrong."""
    rng = random.Random(seed)
    line = WeldLine(LineConfig(seed=seed, start_ms=START_MS, seq_start=0))
    batches = line.batches()
    out: list[tuple[str, bytes, str]] = []

    def good() -> tuple[str, dict[str, Any]]:
        _, topic, batch = next(batches)
        return topic, orjson.loads(orjson.dumps(batch.payload))

    for i in range(per_kind):
        topic, data = good()
        out.append((topic, orjson.dumps(data)[: rng.randrange(1, 200)] + f"#{i}".encode(), "not_json"))
        out.append(
            (
                topic,
                bytes(rng.getrandbits(8) for _ in range(rng.randrange(1, 300))) + b"\xff" + i.to_bytes(4),
                "not_json",
            )
        )
        topic, data = good()
        data["n_samples"] = f"many-{i}"
        out.append((topic, orjson.dumps(data), "schema"))
        topic, data = good()
        signal = rng.choice(sorted(data["signals"]))
        data["signals"][signal][rng.randrange(data["n_samples"])] = 1e9 + i
        out.append((topic, orjson.dumps(data), "schema"))
        topic, data = good()
        del data[rng.choice(["seq", "timestamp_ms", "quality", "signals"])]
        data["weld_id"] = f"w{i}"
        out.append((topic, orjson.dumps(data), "schema"))
        topic, data = good()
        data[f"extra_{i}"] = True
        out.append((topic, orjson.dumps(data), "schema"))
        topic, data = good()
        data["signals"]["current_a"] = data["signals"]["current_a"][:-1]  # breaks x-uns-same-length
        data["seq"] = 10_000_000 + i
        out.append((topic, orjson.dumps(data), "schema"))
        out.append((topic, b'{"pad": "' + b"x" * (MAX_PAYLOAD + i) + b'"}', "too_large"))
        out.append((f"factory/{uuid.uuid4().hex[:8]}/telemetry", orjson.dumps({"i": i}), "unknown_topic"))
        out.append(
            (f"acme/plant-1/body-shop/line-1/CELL-{i}/weld/telemetry", orjson.dumps(data), "bad_parameter")
        )
        out.append((f"globex/plant-1/body-shop/line-1/cell-01/weld/telemetry/{i}", b"{}", "unknown_topic"))
    return out


def publish_raw(endpoint: MqttEndpoint, messages: list[tuple[str, bytes]]) -> None:
    publish_confirmed(endpoint, messages, client_id=f"raw-{uuid.uuid4().hex[:8]}", max_inflight=500)


def test_bad_payloads_are_quarantined_with_their_reason_and_counted(
    broker: LocalBroker, endpoint: MqttEndpoint, contract: Contract, tmp_path: Path
) -> None:
    contract_validator = ContractValidator(contract, max_payload_bytes=MAX_PAYLOAD)
    bad = bad_messages(seed=5, per_kind=100)
    assert len(bad) >= 1000
    good_line = WeldLine(LineConfig(seed=6, start_ms=START_MS, seq_start=0))
    good = [
        (topic, orjson.dumps(batch.payload))
        for _, topic, batch in (next(good_line.batches()) for _ in range(300))
    ]
    mixed: list[tuple[str, bytes]] = [(t, p) for t, p, _ in bad] + good
    random.Random(1).shuffle(mixed)
    # The contract's filters decide what the agent hears; widen them so that unknown topics reach it too
    # (without overlaps: a message matching two subscriptions is delivered twice).
    settings = make_settings(tmp_path, broker.port, pipeline={"max_payload_bytes": MAX_PAYLOAD})
    filters = [*TopicRouter(contract.channels_for("receive")).subscription_filters(), "factory/#", "globex/#"]
    agent = EdgeAgent(settings, subscriptions=filters)
    assert agent.session.subscriptions == filters
    with running(agent):
        publish_raw(endpoint, mixed)
        wait_until(lambda: agent.stats.totals()["uploaded"] >= len(mixed), 60, "everything uploaded")
        assert agent.fatal is None and agent.session.connected.is_set()
        heartbeat = agent.heartbeat_state()
        reasons = dict(agent.stats.quarantine_reasons)

    tables = read_tables(local_landing_files(Path(settings.landing.url)))
    quarantined = rows_of(tables, "quarantine")
    by_message = {(row["topic"], row["payload"]): row for row in quarantined}
    assert len(by_message) == len(quarantined) == len(bad)  # each once
    for topic, payload, kind in bad:
        row = by_message[(topic, payload)]
        assert row["error_kind"] == kind, (topic, row["error_reason"])
        assert row["error_reason"] and row["error_path"]
        # the stored reason is the contract's own verdict on the bytes as received
        assert contract_validator.check(topic, payload).error.kind.value == kind  # type: ignore[union-attr]
    unknown = [row for row in quarantined if row["error_kind"] in ("unknown_topic", "bad_parameter")]
    assert all(row["site"] is None and row["parameters"] is None for row in unknown)
    captured = {(row["topic"], row["payload"]) for row in rows_of(tables, "capture")}
    assert captured == set(good)

    expected_kinds = Counter(kind for _, _, kind in bad)
    assert reasons == dict(expected_kinds)
    counters = heartbeat["counters"]
    assert (
        counters["_unknown"]["quarantined"]
        == expected_kinds["unknown_topic"] + expected_kinds["bad_parameter"]
    )
    assert sum(c["quarantined"] for c in counters.values()) == len(bad)
    assert sum(c["captured"] for c in counters.values()) == len(good)
    assert sum(c["received"] for c in counters.values()) == len(mixed)
    assert sum(c["uploaded"] for c in counters.values()) == len(mixed)
    assert heartbeat["dropped"] == {}
