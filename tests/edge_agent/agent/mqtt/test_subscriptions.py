"""What the agent subscribes to: the contract's channels bound to its own place by `subscribe_scope`.

Deterministic absence: the test publishes everything from one client, so the broker delivers it to each
agent in that order, and every agent processes in order (one validation worker). Once an agent has
captured the last message meant for it, any earlier message not meant for it would have been counted.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import uuid
from pathlib import Path

import orjson
import pytest

from edge_agent.agent import EdgeAgent, EdgeSettings
from edge_agent.agent.mqtt.subscriptions import scoped_filters, stale_filters
from edge_agent.contract import Contract
from edge_agent.domain import LineAddress
from edge_agent.simulator import LineConfig, WeldLine
from edge_agent.uns.endpoint import MqttEndpoint, publish_confirmed
from edge_agent.uns.local_broker import LocalBroker
from tests.edge_agent.agent.support import START_MS, make_settings, running
from tests.helpers import wait_until


def telemetry(address: LineAddress, count: int, seed: int) -> list[tuple[str, bytes]]:
    line = WeldLine(LineConfig(address=address, seed=seed, start_ms=START_MS, seq_start=0))
    batches = line.batches()
    return [(topic, orjson.dumps(batch.payload)) for _, topic, batch in (next(batches) for _ in range(count))]


def publish(endpoint: MqttEndpoint, messages: list[tuple[str, bytes]]) -> None:
    publish_confirmed(endpoint, messages, client_id=f"scope-{uuid.uuid4().hex[:8]}")


def agent_settings(work: Path, port: int, agent_id: str, line: str, scope: str = "line") -> EdgeSettings:
    return make_settings(
        work / agent_id,
        port,
        agent_id=agent_id,
        line=line,
        subscribe_scope=scope,
        pipeline={"validate_mode": "thread"},
        spool={"seal_mode": "thread"},
    )


def captured(agent: EdgeAgent, messages: list[tuple[str, bytes]]) -> int:
    """How many of the agent's captures are on the messages' topics."""
    topics = {topic for topic, _ in messages}
    return sum(c["captured"] for topic, c in agent.stats.topic_counters().items() if topic in topics)


def topics_of(agent: EdgeAgent) -> set[str]:
    return set(agent.stats.topic_counters())


def test_a_level_below_the_scope_that_a_channel_refuses_gives_no_stale_filter_and_no_error(
    contract: Contract,
) -> None:
    """A `site` agent does not bind `line`: a `line` value that the telemetry channel's enum refuses
    cannot have been subscribed for that channel by any run of this agent, so it is no stale filter
    there and no reason to refuse the start. Bound by the agent's own scope, it still is an error."""
    receives = contract.channels_for("receive")
    weld = next(c for c in receives if c.id == "weldTelemetry")
    only_two = dataclasses.replace(weld.parameters["line"], enum=("line-1", "line-2"))
    constrained = dataclasses.replace(weld, parameters={**weld.parameters, "line": only_two})
    channels = [constrained if c.id == weld.id else c for c in receives]
    site = EdgeSettings.model_validate({"line": "line-9", "subscribe_scope": "site"})
    assert scoped_filters(site, channels) == [
        "acme/plant-1/+/+/+/weld/telemetry",
        "acme/plant-1/+/+/_model/manifest",
    ]
    assert stale_filters(site, channels) == [
        "acme/+/+/+/+/weld/telemetry",  # unbound, and enterprise (a single-value enum: the same)
        "acme/+/+/+/_model/manifest",
        "acme/plant-1/body-shop/+/+/weld/telemetry",  # area
        "acme/plant-1/body-shop/+/_model/manifest",
        "acme/plant-1/body-shop/line-9/_model/manifest",  # line: the manifest channel allows line-9
    ]
    with pytest.raises(ValueError, match=r"line 'line-9' is not one of \['line-1', 'line-2'\]"):
        scoped_filters(site.model_copy(update={"subscribe_scope": "line"}), channels)


def test_agents_of_two_lines_on_one_broker_each_capture_only_their_own_and_a_site_agent_both(
    broker: LocalBroker, endpoint: MqttEndpoint, tmp_path: Path
) -> None:
    one = agent_settings(tmp_path, broker.port, "edge-line-1", "line-1")
    two = agent_settings(tmp_path, broker.port, "edge-line-2", "line-2")
    site = agent_settings(tmp_path, broker.port, "edge-plant-1", "line-3", scope="site")
    line_1 = telemetry(LineAddress(line="line-1"), 30, seed=1)
    line_2 = telemetry(LineAddress(line="line-2"), 31, seed=2)
    plant_2 = telemetry(LineAddress(site="plant-2", line="line-1"), 1, seed=3)
    # in this order: each agent's last message comes after every message meant for the others
    sequence = [*plant_2, *line_2[:-1], *line_1, line_2[-1]]
    with contextlib.ExitStack() as stack:
        a = stack.enter_context(running(EdgeAgent(one)))
        b = stack.enter_context(running(EdgeAgent(two)))
        c = stack.enter_context(running(EdgeAgent(site)))
        assert a.session.subscriptions == [
            "acme/plant-1/body-shop/line-1/+/weld/telemetry",
            "acme/plant-1/body-shop/line-1/_model/manifest",
        ]
        assert b.session.subscriptions[0] == "acme/plant-1/body-shop/line-2/+/weld/telemetry"
        assert c.session.subscriptions == [
            "acme/plant-1/+/+/+/weld/telemetry",
            "acme/plant-1/+/+/_model/manifest",
        ]
        publish(endpoint, sequence)
        wait_until(lambda: captured(a, line_1) >= len(line_1), 30, "line 1 captured by its agent")
        wait_until(lambda: captured(b, line_2) >= len(line_2), 30, "line 2 captured by its agent")
        wait_until(lambda: captured(c, line_1 + line_2) >= 61, 30, "both lines captured by the site agent")
        assert a.stats.totals()["received"] == len(line_1)
        assert b.stats.totals()["received"] == len(line_2)
        assert c.stats.totals()["received"] == len(line_1) + len(line_2)  # not the other site's
    assert topics_of(a) == {topic for topic, _ in line_1}
    assert topics_of(b) == {topic for topic, _ in line_2}
    assert topics_of(c) == {topic for topic, _ in line_1 + line_2}


def test_a_narrower_scope_after_a_restart_drops_the_wider_filters_the_session_kept(
    broker: LocalBroker, endpoint: MqttEndpoint, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The broker keeps a persistent session's subscriptions: an agent that ran with a wider scope (or
    before scopes existed) would go on receiving other lines' messages unless it unsubscribes them. That
    narrows what it receives, so it says so: a WARNING naming the filters and the setting, an event, and
    the heartbeat's last_error. Only once: the next run's session holds none of them (MQTT 5 says so)."""
    wide = agent_settings(tmp_path, broker.port, "edge-line-1", "line-1", scope="enterprise")
    with running(EdgeAgent(wide)) as first:
        assert first.session.subscriptions[0] == "acme/+/+/+/+/weld/telemetry"
        assert "stale_subscriptions_removed" not in first.stats.events  # a new session: nothing to remove
    narrow = wide.model_copy(update={"subscribe_scope": "line"})
    other, own = telemetry(LineAddress(line="line-2"), 1, seed=4), telemetry(LineAddress(), 1, seed=5)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="edge_agent.agent.mqtt.session"):
        with running(EdgeAgent(narrow)) as agent:
            assert agent.session.session_present  # the same session: it held the wide filters
            # the UNSUBACK is handled before the SUBACK that `running` waited for
            removed = ["acme/+/+/+/+/weld/telemetry", "acme/+/+/+/_model/manifest"]
            assert agent.stats.events["stale_subscriptions_removed"] == len(removed)
            warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
            assert len(warnings) == 1 and str(removed) in warnings[0], warnings
            assert "subscribe_scope: site" in warnings[0] and "subscribe_scope: enterprise" in warnings[0]
            assert agent.heartbeat_state()["last_error"] == warnings[0]
            publish(endpoint, [*other, *own])
            wait_until(lambda: captured(agent, own) >= 1, 30, "the agent's own line captured")
            assert agent.stats.totals()["received"] == 1
        assert topics_of(agent) == {own[0][0]}
        with running(EdgeAgent(narrow)) as again:
            assert again.session.session_present
            assert "stale_subscriptions_removed" not in again.stats.events and again.stats.last_error is None
