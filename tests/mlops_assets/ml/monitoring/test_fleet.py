"""The fleet from retained heartbeats: alive, OFFLINE (the Will) or stale; messages that break the
contract ignored; what the fleet sensor reports at each look."""

from __future__ import annotations

import datetime as dt

import orjson
import pytest

from edge_agent.domain import LineAddress
from mlops_assets.ml.monitoring.fleet import fleet_from_retained, fleet_status_frame
from mlops_assets.ml.monitoring.fleet_watch import watch_fleet
from tests.mlops_assets.edge_reports import heartbeat

NOW = 1_763_740_900_000
LINE = LineAddress()


def topic(agent: str, address: LineAddress = LINE) -> str:
    return f"{address.prefix}/_edge/{agent}/heartbeat"


def retained(**beats: dict) -> dict[str, bytes]:
    return {topic(agent): orjson.dumps(beat) for agent, beat in beats.items()}


def test_offline_and_stale_agents_are_dead_and_a_fresh_one_alive() -> None:
    beats = retained(
        **{
            "edge-fresh": heartbeat("edge-fresh", "ONLINE", NOW - 5_000),
            "edge-degraded": heartbeat("edge-degraded", "DEGRADED", NOW - 5_000),
            "edge-stale": heartbeat("edge-stale", "ONLINE", NOW - 300_000),
            "edge-gone": heartbeat("edge-gone", "OFFLINE", NOW - 1_000),
        }
    )
    fleet = fleet_from_retained(beats, now_ms=NOW, stale_after_s=120)
    problems = {a.agent: a.problem for a in fleet.agents}
    assert problems["edge-fresh"] is None and problems["edge-degraded"] is None
    assert problems["edge-stale"] == "stale: no heartbeat for 300 s (limit 120 s)"
    assert problems["edge-gone"] == "OFFLINE: connection lost without a clean disconnect"
    assert sorted(a.agent for a in fleet.dead) == ["edge-gone", "edge-stale"]
    frame = fleet_status_frame(fleet, observed_at=dt.datetime.now(dt.UTC))
    assert frame.height == 4 and frame.filter(~frame["alive"])["agent"].sort().to_list() == [
        "edge-gone",
        "edge-stale",
    ]
    assert set(frame["line"]) == {"line-1"} and set(frame["area"]) == {"body-shop"}


def test_heartbeats_that_break_the_contract_or_name_another_agent_are_ignored() -> None:
    beats = {
        topic("edge-bad"): b'{"agent": "edge-bad", "status": "SLEEPING"}',
        topic("edge-liar"): orjson.dumps(heartbeat("edge-other", "ONLINE", NOW)),
        topic("edge-ok"): orjson.dumps(heartbeat("edge-ok", "ONLINE", NOW)),
    }
    fleet = fleet_from_retained(beats, now_ms=NOW, stale_after_s=120)
    assert [a.agent for a in fleet.agents] == ["edge-ok"]
    assert "breaks the contract" in fleet.refused[topic("edge-bad")]
    assert "names agent 'edge-other'" in fleet.refused[topic("edge-liar")]


def test_the_sensor_reports_changes_and_the_verdict_only_when_they_change() -> None:
    alive = retained(
        **{"edge-a": heartbeat("edge-a", "ONLINE", NOW), "edge-b": heartbeat("edge-b", "ONLINE", NOW)}
    )
    first = watch_fleet(fleet_from_retained(alive, now_ms=NOW, stale_after_s=120), None)
    assert [a.agent for a in first.changed] == ["edge-a", "edge-b"] and first.verdict_changed
    later = fleet_from_retained(alive, now_ms=NOW + 10_000, stale_after_s=120)
    same = watch_fleet(later, first.cursor)
    assert same.changed == [] and not same.verdict_changed and same.gone == []

    dead = {**alive, **retained(**{"edge-b": heartbeat("edge-b", "OFFLINE", NOW + 20_000)})}
    step = watch_fleet(fleet_from_retained(dead, now_ms=NOW + 20_000, stale_after_s=120), same.cursor)
    assert [a.agent for a in step.changed] == ["edge-b"] and step.verdict_changed
    only_a = fleet_from_retained({topic("edge-a"): alive[topic("edge-a")]}, now_ms=NOW, stale_after_s=120)
    gone = watch_fleet(only_a, step.cursor)
    assert gone.gone == ["edge-b"] and gone.verdict_changed
    with pytest.raises(ValueError, match="fleet sensor's cursor"):
        watch_fleet(later, "[]")
