"""`data_quality`: the thresholds the lake's asset checks hold the data to."""

from __future__ import annotations

import dagster as dg
from pydantic import Field

__all__ = ["DataQualityResource"]


class DataQualityResource(dg.ConfigurableResource):
    min_share_valid: float = Field(
        default=0.99,
        ge=0.0,
        le=1.0,
        description="Least share of valid messages per topic and contract version.",
    )
    max_staleness_hours: float = Field(
        default=24.0, gt=0.0, description="Newest telemetry of every line must be younger than this."
    )
