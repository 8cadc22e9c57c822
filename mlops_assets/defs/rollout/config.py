"""Launchpad configuration of `deployed_edge_model`: what a run does (deploy the champion, promote or
roll back the canary) and the line's rollout settings (canary agents, canary policy)."""

from typing import Literal

import dagster as dg
from pydantic import Field

from mlops_assets.ml.rollout.policy import CanaryPolicy, RolloutSettings

__all__ = ["DeployedEdgeModelConfig"]

_DEFAULT = CanaryPolicy()


class DeployedEdgeModelConfig(dg.Config):
    action: Literal["deploy", "promote", "rollback"] = Field(
        default="deploy",
        description="deploy: the registry's champion (a canary first when canary_agents are set and the "
        "line serves another version); promote or rollback: the line's canary in progress.",
    )
    canary_agents: list[str] = Field(
        default_factory=list,
        description="Agent ids of the line that get a new model first. Empty: the whole line at once. "
        "Recorded with the deployment; edge_rollout_sensor deploys the line's next champion with them.",
    )
    soak_s: float = Field(default=_DEFAULT.soak_s, ge=0, description="Least canary time before promotion.")
    min_batches: int = Field(
        default=_DEFAULT.min_batches, ge=1, description="Batches each canary agent scores before a verdict."
    )
    alert_rate_ratio: float = Field(
        default=_DEFAULT.alert_rate_ratio,
        ge=1,
        description="Roll back when the new model's alert rate > max(ratio x shadow's, shadow's + margin).",
    )
    alert_rate_margin: float = Field(default=_DEFAULT.alert_rate_margin, ge=0, description="... the margin.")
    max_alert_rate: float = Field(
        default=_DEFAULT.max_alert_rate, gt=0, le=1, description="The alert-rate bound without a shadow."
    )
    max_p99_latency_us: float = Field(
        default=_DEFAULT.max_p99_latency_us, gt=0, description="p99 scoring latency bound of the canary."
    )
    max_scoring_errors: int = Field(
        default=_DEFAULT.max_scoring_errors, ge=0, description="Batches the canary may fail to score."
    )
    canary_published_ms: int | None = Field(
        default=None,
        description="promote or rollback: the canary the decision is about (its rollout.published_ms); the "
        "run refuses when the line has moved on since. Empty: whatever canary is in progress.",
    )
    reason: str = Field(default="", description="Why (recorded with the publication).")

    def settings(self) -> RolloutSettings:
        policy = CanaryPolicy(
            soak_s=self.soak_s,
            min_batches=self.min_batches,
            alert_rate_ratio=self.alert_rate_ratio,
            alert_rate_margin=self.alert_rate_margin,
            max_alert_rate=self.max_alert_rate,
            max_p99_latency_us=self.max_p99_latency_us,
            max_scoring_errors=self.max_scoring_errors,
        )
        return RolloutSettings(tuple(self.canary_agents), policy)
