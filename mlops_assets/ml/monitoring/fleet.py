"""The fleet's state from the agents' retained heartbeats (`agentHeartbeat`, also each agent's Will):
one `AgentStatus` per agent, alive unless its Will marked it OFFLINE or its last heartbeat is stale, and
`gold/edge_fleet_status`, the table of those statuses."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import dataclass

import polars as pl

from mlops_assets.lake import TableRef
from mlops_assets.ml.monitoring.retained import RetainedMessage, check_retained, edge_filter

__all__ = [
    "EDGE_FLEET_STATUS",
    "FLEET_STATUS_SCHEMA",
    "HEARTBEAT_CHANNEL",
    "HEARTBEAT_FILTER",
    "AgentStatus",
    "Fleet",
    "fleet_from_retained",
    "fleet_status_frame",
]

HEARTBEAT_CHANNEL = "agentHeartbeat"
HEARTBEAT_FILTER = edge_filter("heartbeat")
EDGE_FLEET_STATUS = TableRef("gold", "edge_fleet_status")

FLEET_STATUS_SCHEMA: dict[str, pl.DataType] = {
    "agent": pl.String(),
    "enterprise": pl.String(),
    "site": pl.String(),
    "area": pl.String(),
    "line": pl.String(),
    "status": pl.String(),
    "alive": pl.Boolean(),
    "problem": pl.String(),
    "heartbeat_at": pl.Datetime("us", "UTC"),
    "age_s": pl.Float64(),
    "started_at": pl.Datetime("us", "UTC"),
    "uptime_s": pl.Float64(),
    "contract_version": pl.String(),
    "model_version": pl.String(),
    "model_stage": pl.String(),
    "desired_version": pl.String(),
    "refused_version": pl.String(),
    "refusal_reason": pl.String(),
    "refused_at": pl.Datetime("us", "UTC"),
    "scored_batches": pl.Int64(),
    "alerts": pl.Int64(),
    "spool_bytes": pl.Int64(),
    "upload_backlog_files": pl.Int64(),
    "last_error": pl.String(),
    "topic": pl.String(),
    "heartbeat": pl.String(),
    "observed_at": pl.Datetime("us", "UTC"),
}


@dataclass(frozen=True)
class AgentStatus:
    agent: str
    line: str
    status: str
    """ONLINE, DEGRADED or OFFLINE (the Will the broker published when the agent vanished)."""
    heartbeat_ms: int
    age_s: float
    """Seconds between the heartbeat and the look at it."""
    problem: str | None
    """Why the agent counts as dead (OFFLINE, or stale), None while it is alive."""
    message: RetainedMessage

    @property
    def alive(self) -> bool:
        return self.problem is None

    @property
    def model_version(self) -> str:
        return str(self.message.data.get("model_version", ""))

    @property
    def last_refusal(self) -> dict[str, object] | None:
        """The agent's last refused model (version, reason, at_ms), from its heartbeat's `model`."""
        refusal = (self.message.data.get("model") or {}).get("last_refusal")
        return refusal if isinstance(refusal, dict) else None

    def state(self) -> str:
        """What an observation records a change of: status, liveness, model version and the last refusal."""
        refusal = self.last_refusal or {}
        return (
            f"{self.status}|{'alive' if self.alive else 'dead'}|{self.model_version}"
            f"|{refusal.get('version', '')}@{refusal.get('at_ms', '')}"
        )

    def summary(self) -> str:
        model = self.model_version or "no model"
        refusal = self.last_refusal
        refused = f", refused model {refusal.get('version')}: {refusal.get('reason')}" if refusal else ""
        return (
            f"{self.agent} ({self.line}): {self.status}, model {model}"
            + (f", {self.problem}" if self.problem else "")
            + refused
        )


@dataclass(frozen=True)
class Fleet:
    agents: list[AgentStatus]
    refused: dict[str, str]
    """topic -> why a retained heartbeat was ignored."""

    @property
    def dead(self) -> list[AgentStatus]:
        return [a for a in self.agents if not a.alive]


def fleet_from_retained(retained: Mapping[str, bytes], *, now_ms: int, stale_after_s: float) -> Fleet:
    """Every agent with a contract-valid retained heartbeat: dead when OFFLINE, or when its heartbeat
    is more than `stale_after_s` old at `now_ms` (an agent that stopped sending without its Will: a
    broker restarted without persistence, a frozen process)."""
    checked = check_retained(retained, HEARTBEAT_CHANNEL)
    agents = []
    for message in checked.valid:
        beat = message.data
        age_s = max(0.0, (now_ms - int(beat["timestamp_ms"])) / 1000)
        problem = None
        if beat["status"] == "OFFLINE":
            problem = f"OFFLINE: {beat.get('last_error') or 'its Will'}"
        elif age_s > stale_after_s:
            problem = f"stale: no heartbeat for {age_s:.0f} s (limit {stale_after_s:.0f} s)"
        agents.append(
            AgentStatus(
                agent=str(beat["agent"]),
                line=message.parameters["line"],
                status=str(beat["status"]),
                heartbeat_ms=int(beat["timestamp_ms"]),
                age_s=age_s,
                problem=problem,
                message=message,
            )
        )
    return Fleet(sorted(agents, key=lambda a: (a.line, a.agent)), checked.refused)


def _moment(ms: int | None) -> dt.datetime | None:
    return None if ms is None else dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC)


def _row(status: AgentStatus, observed_at: dt.datetime) -> dict[str, object]:
    beat, where = status.message.data, status.message.parameters
    model = beat.get("model") or {}
    scoring = beat.get("scoring") or {}
    return {
        "agent": status.agent,
        **{level: where.get(level) for level in ("enterprise", "site", "area", "line")},
        "status": status.status,
        "alive": status.alive,
        "problem": status.problem,
        "heartbeat_at": _moment(status.heartbeat_ms),
        "age_s": status.age_s,
        "started_at": _moment(beat.get("started_ms")),
        "uptime_s": float(beat["uptime_s"]),
        "contract_version": beat["contract_version"],
        "model_version": status.model_version,
        "model_stage": model.get("stage"),
        "desired_version": model.get("desired_version"),
        "refused_version": (status.last_refusal or {}).get("version"),
        "refusal_reason": (status.last_refusal or {}).get("reason"),
        "refused_at": _moment((status.last_refusal or {}).get("at_ms")),  # type: ignore[arg-type]
        "scored_batches": scoring.get("batches"),
        "alerts": scoring.get("alerts"),
        "spool_bytes": beat["spool_bytes"],
        "upload_backlog_files": beat["upload_backlog_files"],
        "last_error": beat.get("last_error"),
        "topic": status.message.topic,
        "heartbeat": json.dumps(beat, sort_keys=True),
        "observed_at": observed_at,
    }


def fleet_status_frame(fleet: Fleet, observed_at: dt.datetime) -> pl.DataFrame:
    """One row per agent of `fleet` (`FLEET_STATUS_SCHEMA`)."""
    return pl.DataFrame([_row(a, observed_at) for a in fleet.agents], schema=FLEET_STATUS_SCHEMA)
