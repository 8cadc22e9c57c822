"""Topic matching on every channel, with good, bad and unknown topics."""

from __future__ import annotations

import pytest
from paho.mqtt.client import topic_matches_sub

from edge_agent.contract import (
    ChannelSpec,
    Contract,
    ContractError,
    ErrorKind,
    TopicMatch,
    TopicRouter,
    load_contract,
)

CONTRACT = load_contract()
CHANNELS = [pytest.param(c, id=c.id) for c in CONTRACT.channels.values()]


def _good_parameters(channel: ChannelSpec) -> dict[str, str]:
    return {
        name: (spec.enum[0] if spec.enum else f"x{name[:3]}-1") for name, spec in channel.parameters.items()
    }


def _topic(channel: ChannelSpec, params: dict[str, str]) -> str:
    return channel.address.format(**params)


@pytest.fixture(scope="module")
def router(contract: Contract) -> TopicRouter:
    return TopicRouter(contract.channels.values())


@pytest.mark.parametrize("channel", CHANNELS)
def test_topic_matches_its_channel_and_extracts_parameters(router: TopicRouter, channel: ChannelSpec) -> None:
    params = _good_parameters(channel)
    result = router.route(_topic(channel, params))
    assert isinstance(result, TopicMatch)
    assert result.channel.id == channel.id
    assert dict(result.parameters) == params


@pytest.mark.parametrize("channel", CHANNELS)
def test_subscription_filter_covers_the_channel(router: TopicRouter, channel: ChannelSpec) -> None:
    matcher = next(m for m in router.matchers if m.channel.id == channel.id)
    assert topic_matches_sub(matcher.subscription_filter, _topic(channel, _good_parameters(channel)))
    # A single-value enum becomes a literal level, so the broker filters other enterprises out.
    assert matcher.subscription_filter.startswith("acme/")
    assert not topic_matches_sub(
        matcher.subscription_filter, _topic(channel, {**_good_parameters(channel), "enterprise": "other"})
    )


@pytest.mark.parametrize("channel", CHANNELS)
@pytest.mark.parametrize("bad_value", ["_edge", "UPPER", "has space", "", "x" * 64])
def test_each_parameter_is_checked(router: TopicRouter, channel: ChannelSpec, bad_value: str) -> None:
    for name in channel.parameters:
        params = {**_good_parameters(channel), name: bad_value}
        result = router.route(_topic(channel, params))
        assert isinstance(result, ContractError), f"{name}={bad_value!r} accepted"
        assert result.kind == ErrorKind.BAD_PARAMETER
        assert result.channel == channel.id
        assert result.path == f"topic.{name}"


def test_enum_parameter_names_the_allowed_values(router: TopicRouter) -> None:
    result = router.route("globex/plant-1/body-shop/line-1/cell-01/weld/telemetry")
    assert isinstance(result, ContractError)
    assert result.path == "topic.enterprise"
    assert "['acme']" in result.reason


@pytest.mark.parametrize(
    "topic",
    [
        "acme/plant-1/body-shop/line-1/cell-01/weld/temperature",
        "acme/plant-1/body-shop/line-1/cell-01/weld",
        "acme/plant-1/body-shop/line-1/cell-01/weld/telemetry/extra",
        "acme/plant-1/body-shop/line-1/_edge/agent-1/status",
        "acme/plant-1/body-shop/line-1/_model",
        "$SYS/broker/uptime",
        "",
        "/",
        "acme/+/body-shop/line-1/cell-01/weld/telemetry",
        "acme/#",
    ],
)
def test_unknown_topics_are_refused_cleanly(router: TopicRouter, topic: str) -> None:
    result = router.route(topic)
    assert isinstance(result, ContractError)
    assert result.kind == ErrorKind.UNKNOWN_TOPIC
    assert result.channel is None


def test_platform_namespace_is_not_mistaken_for_a_cell(router: TopicRouter) -> None:
    heartbeat = router.route("acme/plant-1/body-shop/line-1/_edge/agent-1/heartbeat")
    assert isinstance(heartbeat, TopicMatch) and heartbeat.channel.id == "agentHeartbeat"
    fake_cell = router.route("acme/plant-1/body-shop/line-1/_edge/weld/telemetry")
    assert isinstance(fake_cell, ContractError) and fake_cell.path == "topic.cell"


def test_receive_operations_select_the_agent_subscriptions(contract: Contract) -> None:
    assert [c.id for c in contract.channels_for("receive")] == ["weldTelemetry", "modelManifest"]
    assert [c.id for c in contract.channels_for("send")] == ["weldAnomaly", "agentHeartbeat", "agentDrift"]


def test_cache_stays_bounded(contract: Contract) -> None:
    router = TopicRouter(contract.channels.values(), cache_size=10)
    for i in range(50):
        assert isinstance(router.route(f"acme/plant-1/body-shop/line-1/cell-{i}/weld/telemetry"), TopicMatch)
    assert len(router._cache) <= 10
