"""What a run of `deployed_edge_model` publishes, decided from the line's last deployment and the
registry's aliases: deploy the champion (as a canary first when the line has canary agents and a fleet
model to compare with), promote the canary to the fleet, or roll it back. Pure: the registry's answers
come in as values, and a step that must not happen now is a `RolloutRefused` saying why."""

from __future__ import annotations

from dataclasses import dataclass

from mlops_assets.ml.rollout.deployments import RolloutStage
from mlops_assets.ml.rollout.policy import RolloutSettings
from mlops_assets.ml.rollout.records import RolloutAction, RolloutRecord

__all__ = ["RolloutPlan", "RolloutRefused", "plan_deploy", "plan_promote", "plan_rollback"]


class RolloutRefused(ValueError):
    """A deployment, promotion or rollback that must not happen now; the message says why."""


@dataclass(frozen=True)
class RolloutPlan:
    action: RolloutAction
    version: str
    """The version the manifest will name."""
    stage: RolloutStage
    agents: tuple[str, ...]
    fleet_version: str
    """What the agents outside a canary serve once it is published."""
    reason: str
    rolled_back_version: str | None = None
    registry_rollback: bool = False
    """Swap `champion` and `previous-champion` in the registry before publishing."""


def plan_deploy(
    champion: str | None, previous: RolloutRecord | None, settings: RolloutSettings
) -> RolloutPlan:
    """The champion to the line: a canary when agents are configured and the fleet serves another
    version (something to compare with and to roll back to), else the whole line at once."""
    if champion is None:
        raise RolloutRefused("the line has no champion: the quality gate has not promoted a model yet")
    if previous is not None and previous.canary_in_progress:
        raise RolloutRefused(
            f"version {previous.version} is in canary on {', '.join(previous.agents)} (published at "
            f"{previous.published_ms}): wait for edge_rollout_sensor's decision, or promote or roll it "
            "back first (action: promote or rollback)"
        )
    fleet = previous.fleet_version if previous is not None else None
    if settings.canary_agents and fleet is not None and fleet != champion:
        return RolloutPlan(
            "deploy", champion, "canary", settings.canary_agents, fleet,
            f"champion {champion} on {', '.join(settings.canary_agents)} first; the rest of the line "
            f"keeps {fleet}",
        )  # fmt: skip
    if fleet is None:
        why = "the line's first model: there is nothing to compare a canary with or to roll back to"
    elif fleet == champion:
        why = f"version {champion} already serves the line"
    else:
        why = "no canary agents configured"
    return RolloutPlan(
        "deploy", champion, "fleet", (), champion, f"champion {champion} to the whole line ({why})"
    )


def _canary(previous: RolloutRecord | None, canary_published_ms: int | None) -> RolloutRecord:
    if previous is None or not previous.canary_in_progress:
        state = (
            "nothing deployed"
            if previous is None
            else f"version {previous.version} at stage {previous.stage}"
        )
        raise RolloutRefused(f"no canary in progress on the line ({state})")
    if canary_published_ms is not None and previous.published_ms != canary_published_ms:
        raise RolloutRefused(
            f"the canary this decision is about (published at {canary_published_ms}) is no longer the "
            f"line's deployment (version {previous.version}, published at {previous.published_ms})"
        )
    return previous


def plan_promote(previous: RolloutRecord | None, canary_published_ms: int | None, reason: str) -> RolloutPlan:
    """The canary's version to the whole line."""
    canary = _canary(previous, canary_published_ms)
    why = reason or f"canary {canary.version} promoted by hand"
    return RolloutPlan("promote", canary.version, "fleet", (), canary.version, why)


def plan_rollback(
    previous: RolloutRecord | None,
    canary_published_ms: int | None,
    *,
    champion: str | None,
    previous_champion: str | None,
    reason: str,
) -> RolloutPlan:
    """The whole line back to the previous champion (the registry's aliases swapped). When the champion
    is no longer the canary's version (a newer model passed the gate since), the registry is left as it
    is and the line goes back to what its fleet served before the canary."""
    canary = _canary(previous, canary_published_ms)
    why = reason or f"canary {canary.version} rolled back by hand"
    if champion == canary.version:
        if previous_champion is None:
            raise RolloutRefused(
                f"{canary.model_name} has no previous champion to roll back to: the canary agents keep "
                f"{canary.version}, the rest of the line never loaded it"
            )
        return RolloutPlan(
            "rollback", previous_champion, "rollback", (), previous_champion, why,
            rolled_back_version=canary.version, registry_rollback=True,
        )  # fmt: skip
    if canary.fleet_version is None:
        raise RolloutRefused(
            f"no version to roll back to: the fleet served nothing before canary {canary.version}"
        )
    return RolloutPlan(
        "rollback", canary.fleet_version, "rollback", (), canary.fleet_version,
        f"{why} (the registry's champion is {champion} now, so it is left as it is)",
        rolled_back_version=canary.version,
    )  # fmt: skip
