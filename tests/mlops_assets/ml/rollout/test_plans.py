"""What a run of `deployed_edge_model` publishes, and what the rollout sensor asks for (pure logic)."""

from __future__ import annotations

import dataclasses

import pytest

from edge_agent.domain import LineAddress
from mlops_assets.ml.rollout.canary import AgentBaseline
from mlops_assets.ml.rollout.plans import RolloutRefused, plan_deploy, plan_promote, plan_rollback
from mlops_assets.ml.rollout.policy import CanaryPolicy, RolloutSettings
from mlops_assets.ml.rollout.records import RolloutRecord
from mlops_assets.ml.rollout.watch import (
    WatchState,
    cursor_from_json,
    cursor_to_json,
    watch_canary,
    watch_champion,
)
from tests.mlops_assets.ml.rollout.test_canary import BEFORE, T0, heartbeat

SETTINGS = RolloutSettings(("edge-a",), CanaryPolicy(soak_s=60, min_batches=100))
FLEET_1 = RolloutRecord(
    action="deploy", model_name="weld-ae-line-1", version="1", stage="fleet", agents=(), fleet_version="1",
    published_ms=T0 - 86_400_000, address=LineAddress(), package_uri="_models/plant-1/line-1/weld-ae-line-1/1/",
    manifest_sha256="0" * 64, settings=SETTINGS, reason="first",
)  # fmt: skip
CANARY_2 = dataclasses.replace(FLEET_1, version="2", stage="canary", agents=("edge-a",), published_ms=T0)


def test_the_first_model_of_a_line_goes_to_the_whole_line() -> None:
    plan = plan_deploy("1", None, SETTINGS)
    assert (plan.stage, plan.agents, plan.fleet_version) == ("fleet", (), "1")
    assert "nothing to compare a canary with" in plan.reason


def test_a_new_champion_goes_to_the_canary_agents_first_when_there_are_any() -> None:
    plan = plan_deploy("2", FLEET_1, SETTINGS)
    assert (plan.version, plan.stage, plan.agents, plan.fleet_version) == ("2", "canary", ("edge-a",), "1")
    direct = plan_deploy("2", FLEET_1, RolloutSettings())
    assert (direct.stage, direct.agents) == ("fleet", ()) and "no canary agents" in direct.reason
    again = plan_deploy("1", FLEET_1, SETTINGS)  # publishing what serves again: no canary for it
    assert again.stage == "fleet" and "already serves the line" in again.reason


def test_nothing_is_deployed_without_a_champion_or_over_a_canary() -> None:
    with pytest.raises(RolloutRefused, match="no champion"):
        plan_deploy(None, FLEET_1, SETTINGS)
    with pytest.raises(RolloutRefused, match="version 2 is in canary on edge-a"):
        plan_deploy("3", CANARY_2, SETTINGS)


def test_promotion_publishes_the_canary_to_the_fleet_and_only_the_canary_it_was_decided_for() -> None:
    plan = plan_promote(CANARY_2, T0, "healthy")
    assert (plan.version, plan.stage, plan.agents, plan.fleet_version) == ("2", "fleet", (), "2")
    with pytest.raises(RolloutRefused, match="no longer the line's deployment"):
        plan_promote(CANARY_2, T0 - 1, "healthy")
    with pytest.raises(RolloutRefused, match="no canary in progress"):
        plan_promote(FLEET_1, None, "")


def test_rollback_swaps_the_registry_back_when_the_canary_is_the_champion() -> None:
    plan = plan_rollback(CANARY_2, T0, champion="2", previous_champion="1", reason="alerts")
    assert (plan.version, plan.stage, plan.rolled_back_version, plan.registry_rollback) == (
        "1",
        "rollback",
        "2",
        True,
    )
    with pytest.raises(RolloutRefused, match="no previous champion"):
        plan_rollback(CANARY_2, T0, champion="2", previous_champion=None, reason="alerts")


def test_rollback_leaves_a_registry_that_moved_on_and_restores_the_fleet_version() -> None:
    plan = plan_rollback(CANARY_2, T0, champion="3", previous_champion="2", reason="alerts")
    assert (plan.version, plan.registry_rollback, plan.rolled_back_version) == ("1", False, "2")
    assert "the registry's champion is 3 now" in plan.reason


def test_a_record_survives_its_metadata() -> None:
    record = dataclasses.replace(CANARY_2, rolled_back_version=None, reason="why")
    assert RolloutRecord.from_metadata("line-1", record.metadata()) == record
    with pytest.raises(ValueError, match="not a rollout record"):
        RolloutRecord.from_metadata("line-1", {**record.metadata(), "stage": "beta"})


def test_the_sensor_deploys_a_champion_the_line_does_not_serve_with_the_line_settings() -> None:
    assert watch_champion(FLEET_1, "1").request is None
    assert watch_champion(FLEET_1, None).request is None
    step = watch_champion(FLEET_1, "2")
    assert step.request is not None and step.request.action == "deploy"
    assert step.request.config == {**SETTINGS.to_dict(), "action": "deploy"}
    assert step.request.run_key == f"line-1|deploy|2|after|{FLEET_1.published_ms}"


def test_the_sensor_requests_one_decision_per_canary_and_keeps_baselines_in_its_cursor() -> None:
    first = watch_canary(CANARY_2, {"edge-a": BEFORE}, None, T0 + 1_000)
    assert first.request is None and first.changed and first.state is not None
    assert first.state.baselines == {"edge-a": AgentBaseline.of(BEFORE)}
    state = cursor_from_json(cursor_to_json({"line-1": first.state}))["line-1"]
    assert state == first.state
    same = watch_canary(CANARY_2, {"edge-a": BEFORE}, state, T0 + 2_000)
    assert same.request is None and not same.changed  # nothing new to show in the UI
    bad = heartbeat(counts={"1": (5150, 20600, 206), "2": (150, 600, 540)})
    decided = watch_canary(CANARY_2, {"edge-a": bad}, state, T0 + 3_000)
    assert decided.changed and decided.request is not None and decided.request.action == "rollback"
    assert decided.request.run_key == f"line-1|canary|{T0}"
    config = decided.request.config
    assert config["canary_published_ms"] == T0 and "alert rate of version 2" in config["reason"]
    assert config["canary_agents"] == ["edge-a"] and config["min_batches"] == 100


def test_a_cursor_from_another_canary_is_not_reused() -> None:
    old = WatchState(
        T0 - 5, "wait: traffic", {"edge-a": AgentBaseline.of(heartbeat(counts={"2": (99, 1, 1)}))}
    )
    step = watch_canary(CANARY_2, {"edge-a": BEFORE}, old, T0 + 1_000)
    assert step.state is not None and step.state.baselines == {"edge-a": AgentBaseline.of(BEFORE)}
    with pytest.raises(ValueError, match="cursor is not readable"):
        cursor_from_json("{not json")
