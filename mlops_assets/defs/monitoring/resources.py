"""`edge_monitoring`: the policy of the monitoring sensors and checks (drift and heartbeats), bound from
the environment when the definitions load (`mlops_assets.ml.monitoring.settings`), shown in the UI."""

from __future__ import annotations

import dagster as dg
from pydantic import Field

from mlops_assets.ml.monitoring.settings import (
    DriftPolicy,
    drift_policy_from_env,
    heartbeat_stale_after_s_from_env,
)

__all__ = ["EdgeMonitoringResource", "monitoring_resources"]


class EdgeMonitoringResource(dg.ConfigurableResource):
    drift_share_threshold: float = Field(
        default=0.25,
        gt=0,
        le=1,
        description="A report drifts at this drift share (MLOPS_DRIFT_SHARE_THRESHOLD).",
    )
    drift_consecutive: int = Field(
        default=3,
        ge=1,
        description="Drifting reports in a row that ask for a retraining (MLOPS_DRIFT_CONSECUTIVE).",
    )
    drift_cooldown_s: float = Field(
        default=21600.0,
        ge=0,
        description="Seconds without another drift retraining of a line (MLOPS_DRIFT_COOLDOWN_S).",
    )
    drift_min_welds: int = Field(
        default=100,
        ge=1,
        description="Welds in silver after the onset before retraining (MLOPS_DRIFT_MIN_WELDS).",
    )
    heartbeat_stale_after_s: float = Field(
        default=120.0,
        gt=0,
        description="A heartbeat older than this marks its agent dead (MLOPS_HEARTBEAT_STALE_S).",
    )

    def drift_policy(self) -> DriftPolicy:
        return DriftPolicy(
            share_threshold=self.drift_share_threshold,
            consecutive=self.drift_consecutive,
            cooldown_s=self.drift_cooldown_s,
            min_welds=self.drift_min_welds,
        )


@dg.definitions
def monitoring_resources() -> dg.Definitions:
    policy = drift_policy_from_env()
    monitoring = EdgeMonitoringResource(
        drift_share_threshold=policy.share_threshold,
        drift_consecutive=policy.consecutive,
        drift_cooldown_s=policy.cooldown_s,
        drift_min_welds=policy.min_welds,
        heartbeat_stale_after_s=heartbeat_stale_after_s_from_env(),
    )
    return dg.Definitions(resources={"edge_monitoring": monitoring})
