"""What `edge_fleet_sensor` reports at each look: the agents whose state changed since the last look
(observations), and whether the verdict of `agents_are_alive` changed. Its cursor holds each agent's
last state and the dead agents of the last verdict."""

from __future__ import annotations

import json
from dataclasses import dataclass

from mlops_assets.ml.monitoring.fleet import AgentStatus, Fleet

__all__ = ["FleetStep", "watch_fleet"]


@dataclass(frozen=True)
class FleetStep:
    changed: list[AgentStatus]
    """Agents seen for the first time, or whose status, liveness or model version changed."""
    gone: list[str]
    """Agents seen last time whose retained heartbeat is no longer there (cleared)."""
    verdict_changed: bool
    """The set of dead agents differs from the last look's (or this is the first look)."""
    cursor: str


def _previous(cursor: str | None) -> tuple[dict[str, str], list[str] | None]:
    if not cursor:
        return {}, None
    try:
        data = json.loads(cursor)
        return {str(a): str(s) for a, s in data["states"].items()}, [str(a) for a in data["dead"]]
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise ValueError(f"the fleet sensor's cursor is not readable ({exc!r}): {cursor[:200]}") from exc


def watch_fleet(fleet: Fleet, cursor: str | None) -> FleetStep:
    states, dead_before = _previous(cursor)
    now = {a.agent: a.state() for a in fleet.agents}
    dead = sorted(a.agent for a in fleet.dead)
    return FleetStep(
        changed=[a for a in fleet.agents if states.get(a.agent) != now[a.agent]],
        gone=sorted(set(states) - set(now)),
        verdict_changed=dead_before is None or dead_before != dead,
        cursor=json.dumps({"states": now, "dead": dead}, sort_keys=True),
    )
