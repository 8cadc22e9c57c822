"""The closed loop's settings, read from the environment when the definitions load (never at import):
the drift policy of `drift_sensor`, when a heartbeat is stale, the sensors' intervals and the crons."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

__all__ = [
    "DriftPolicy",
    "LoopTimings",
    "drift_policy_from_env",
    "env_number",
    "heartbeat_stale_after_s_from_env",
    "loop_timings_from_env",
]

T = TypeVar("T", int, float)


def env_number(variable: str, default: T, parse: Callable[[str], T], *, minimum: T) -> T:
    """`variable` parsed with `parse` (int or float), `default` when unset or blank; a value that does
    not parse, or is below `minimum`, stops with a message naming the variable."""
    raw = os.environ.get(variable)
    if raw is None or not raw.strip():
        return default
    try:
        value = parse(raw.strip())
    except ValueError:
        raise ValueError(f"{variable}={raw!r} is not a{'n integer' if parse is int else ' number'}") from None
    if value < minimum:
        raise ValueError(f"{variable}={raw!r} must be at least {minimum}")
    return value


@dataclass(frozen=True)
class DriftPolicy:
    """When a line's drift asks for a retraining (`drift_policy.py` applies it)."""

    share_threshold: float = 0.25
    """A report drifts when its drift share (drifted columns / columns) is at least this: the agent's own
    default (`drift.drift_share`). A change of material moves the means of the signals it changes, about
    a third of the profile's columns; normal production stays near 0.1 (README, "Drift at the edge")."""
    consecutive: int = 3
    """Drifting reports in a row, from one agent, against one model version."""
    cooldown_s: float = 6 * 3600.0
    """After a request for a line, no other one for it during this long."""
    min_welds: int = 100
    """Welds of the line in silver that started after the drift onset, before training may start."""

    def __post_init__(self) -> None:
        if not 0.0 < self.share_threshold <= 1.0:
            raise ValueError(f"drift share threshold {self.share_threshold} is not in (0, 1]")
        if self.consecutive < 1 or self.min_welds < 1 or self.cooldown_s < 0:
            raise ValueError(f"{self}: consecutive and min_welds must be >= 1, cooldown_s >= 0")


def drift_policy_from_env() -> DriftPolicy:
    """`MLOPS_DRIFT_SHARE_THRESHOLD`, `MLOPS_DRIFT_CONSECUTIVE`, `MLOPS_DRIFT_COOLDOWN_S`,
    `MLOPS_DRIFT_MIN_WELDS`; each defaults to `DriftPolicy`'s."""
    default = DriftPolicy()
    return DriftPolicy(
        share_threshold=env_number(
            "MLOPS_DRIFT_SHARE_THRESHOLD", default.share_threshold, float, minimum=0.0
        ),
        consecutive=env_number("MLOPS_DRIFT_CONSECUTIVE", default.consecutive, int, minimum=1),
        cooldown_s=env_number("MLOPS_DRIFT_COOLDOWN_S", default.cooldown_s, float, minimum=0.0),
        min_welds=env_number("MLOPS_DRIFT_MIN_WELDS", default.min_welds, int, minimum=1),
    )


def heartbeat_stale_after_s_from_env() -> float:
    """`MLOPS_HEARTBEAT_STALE_S` (default 120: twelve missed heartbeats at the agent's default 10 s)."""
    return env_number("MLOPS_HEARTBEAT_STALE_S", 120.0, float, minimum=1.0)


@dataclass(frozen=True)
class LoopTimings:
    """How often the loop looks: sensor intervals (seconds) and crons. Short ones make a demo fast."""

    landing_sensor_s: int = 30
    drift_sensor_s: int = 30
    rollout_sensor_s: int = 30
    fleet_sensor_s: int = 60
    fleet_status_cron: str = "*/5 * * * *"
    """When the automation refreshes `edge_fleet_status`."""
    retrain_cron: str = "0 4 * * 1"
    """When `model_training_schedule` retrains every line (Monday 04:00 UTC)."""


def loop_timings_from_env() -> LoopTimings:
    """`MLOPS_LANDING_SENSOR_INTERVAL_S`, `MLOPS_DRIFT_SENSOR_INTERVAL_S`, `MLOPS_ROLLOUT_SENSOR_INTERVAL_S`,
    `MLOPS_FLEET_SENSOR_INTERVAL_S`,
    `MLOPS_FLEET_STATUS_CRON`, `MLOPS_RETRAIN_CRON`; each defaults to `LoopTimings`'."""
    default = LoopTimings()
    return LoopTimings(
        landing_sensor_s=env_number(
            "MLOPS_LANDING_SENSOR_INTERVAL_S", default.landing_sensor_s, int, minimum=1
        ),
        drift_sensor_s=env_number("MLOPS_DRIFT_SENSOR_INTERVAL_S", default.drift_sensor_s, int, minimum=1),
        rollout_sensor_s=env_number(
            "MLOPS_ROLLOUT_SENSOR_INTERVAL_S", default.rollout_sensor_s, int, minimum=1
        ),
        fleet_sensor_s=env_number("MLOPS_FLEET_SENSOR_INTERVAL_S", default.fleet_sensor_s, int, minimum=1),
        fleet_status_cron=(os.environ.get("MLOPS_FLEET_STATUS_CRON") or default.fleet_status_cron).strip(),
        retrain_cron=(os.environ.get("MLOPS_RETRAIN_CRON") or default.retrain_cron).strip(),
    )
