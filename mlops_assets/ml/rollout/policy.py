"""How a line is rolled out: which agents try a new model first, and what a canary must show before the
rest of the line gets it. Set in the launchpad of `deployed_edge_model`, recorded with every deployment,
and carried forward by `edge_rollout_sensor` to the line's next champion."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any

__all__ = ["CanaryPolicy", "RolloutSettings"]


@dataclass(frozen=True)
class CanaryPolicy:
    soak_s: float = 600.0
    """Least time between the canary's publication and its promotion."""
    min_batches: int = 300
    """Telemetry batches each canary agent must have scored with the new model before it is judged."""
    alert_rate_ratio: float = 3.0
    alert_rate_margin: float = 0.02
    """Roll back when the new model's alert rate (alerts per window) exceeds max(ratio x the shadow's,
    the shadow's + margin), both counted on the same batches."""
    max_alert_rate: float = 0.5
    """The bound without a shadow to compare with (the agent restarted during the canary)."""
    max_p99_latency_us: float = 50_000.0
    """Scoring latency per batch (the heartbeat's p99, the shadow's scoring included) to stay under."""
    max_scoring_errors: int = 0
    """Batches the new model could not score (`error`, `missing_signal`) tolerated during the canary."""

    def __post_init__(self) -> None:
        if self.soak_s < 0 or self.min_batches < 1 or self.max_scoring_errors < 0:
            raise ValueError(f"soak_s >= 0, min_batches >= 1 and max_scoring_errors >= 0, got {self}")
        if self.alert_rate_ratio < 1 or self.alert_rate_margin < 0 or not 0 < self.max_alert_rate <= 1:
            raise ValueError(
                f"alert_rate_ratio >= 1, alert_rate_margin >= 0, 0 < max_alert_rate <= 1: {self}"
            )
        if self.max_p99_latency_us <= 0:
            raise ValueError(f"max_p99_latency_us must be positive, got {self.max_p99_latency_us}")


@dataclass(frozen=True)
class RolloutSettings:
    canary_agents: tuple[str, ...] = ()
    policy: CanaryPolicy = CanaryPolicy()

    def to_dict(self) -> dict[str, Any]:
        """Flat, with the names of `deployed_edge_model`'s configuration fields."""
        return {"canary_agents": list(self.canary_agents), **asdict(self.policy)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RolloutSettings:
        """Reads what `to_dict` wrote; unknown keys are ignored, missing ones take their defaults."""
        names = {f.name for f in fields(CanaryPolicy)}
        policy = CanaryPolicy(**{k: v for k, v in data.items() if k in names})
        return cls(tuple(str(a) for a in data.get("canary_agents") or ()), policy)
