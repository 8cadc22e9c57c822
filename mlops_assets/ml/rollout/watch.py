"""What `edge_rollout_sensor` does for one line, given the line's last deployment: decide its canary
(from the canary agents' heartbeats), or deploy a champion the line does not serve yet. Also the
sensor's cursor: per line with a canary, the agents' baselines and the last status shown."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mlops_assets.ml.rollout.canary import AgentBaseline, Canary, CanaryDecision, decide_canary
from mlops_assets.ml.rollout.records import RolloutAction, RolloutRecord

__all__ = [
    "LineStep",
    "RolloutRequest",
    "WatchState",
    "cursor_from_json",
    "cursor_to_json",
    "heartbeat_topic",
    "watch_canary",
    "watch_champion",
]


@dataclass(frozen=True)
class WatchState:
    """What the sensor keeps about a line's canary between two looks."""

    published_ms: int
    status: str
    baselines: dict[str, AgentBaseline]


@dataclass(frozen=True)
class RolloutRequest:
    """A run of `deployed_edge_model` for the line: its action and configuration, once per `run_key`."""

    action: RolloutAction
    run_key: str
    config: dict[str, Any]


@dataclass(frozen=True)
class LineStep:
    request: RolloutRequest | None = None
    decision: CanaryDecision | None = None
    changed: bool = False
    """The decision's status differs from the last one shown (record an observation)."""
    state: WatchState | None = None
    note: str = ""


def heartbeat_topic(record: RolloutRecord, agent: str) -> str:
    return f"{record.address.prefix}/_edge/{agent}/heartbeat"


def watch_canary(
    record: RolloutRecord,
    heartbeats: Mapping[str, Mapping[str, Any] | None],
    previous: WatchState | None,
    now_ms: int,
) -> LineStep:
    """The verdict on the line's canary; a promote or rollback request once it is taken (one per canary)."""
    line = record.address.line
    canary = Canary(record.version, record.agents, record.published_ms)
    same = previous is not None and previous.published_ms == record.published_ms
    baselines = previous.baselines if previous is not None and same else {}
    decision = decide_canary(canary, heartbeats, baselines, record.settings.policy, now_ms)
    changed = not same or previous is None or previous.status != decision.status
    state = WatchState(record.published_ms, decision.status, decision.baselines)
    note = f"{line}: canary {record.version} {decision.verdict}: {decision.reason}"
    if decision.verdict == "wait":
        return LineStep(None, decision, changed, state, note)
    config = {
        **record.settings.to_dict(),
        "action": decision.verdict,
        "canary_published_ms": record.published_ms,
        "reason": decision.reason,
    }
    request = RolloutRequest(decision.verdict, f"{line}|canary|{record.published_ms}", config)
    return LineStep(request, decision, changed, state, note)


def watch_champion(record: RolloutRecord, champion: str | None) -> LineStep:
    """A deployment of the registry's champion when the line serves another version, with the
    settings of the line's last deployment (its canary agents and policy)."""
    line = record.address.line
    if champion is None or champion == record.version:
        return LineStep(note=f"{line}: version {record.version} at stage {record.stage}, the champion")
    config = {**record.settings.to_dict(), "action": "deploy"}
    run_key = f"{line}|deploy|{champion}|after|{record.published_ms}"
    note = f"{line}: champion {champion} is not deployed (the line has {record.version}, {record.stage})"
    return LineStep(RolloutRequest("deploy", run_key, config), note=note)


def cursor_to_json(states: Mapping[str, WatchState]) -> str:
    return json.dumps(
        {
            line: {
                "published_ms": s.published_ms,
                "status": s.status,
                "baselines": {a: b.to_dict() for a, b in s.baselines.items()},
            }
            for line, s in sorted(states.items())
        },
        sort_keys=True,
    )


def cursor_from_json(raw: str | None) -> dict[str, WatchState]:
    """The states `cursor_to_json` wrote; ValueError naming the problem for anything else."""
    if not raw:
        return {}
    try:
        data = json.loads(raw)
        return {
            line: WatchState(
                int(s["published_ms"]),
                str(s["status"]),
                {a: AgentBaseline.from_dict(b) for a, b in s["baselines"].items()},
            )
            for line, s in data.items()
        }
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise ValueError(f"the rollout sensor's cursor is not readable ({exc!r}): {raw[:200]}") from exc
