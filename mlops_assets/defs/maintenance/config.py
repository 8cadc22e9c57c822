"""Launchpad configuration of the lake maintenance job."""

import dagster as dg
from pydantic import Field

__all__ = ["LakeMaintenanceConfig"]


class LakeMaintenanceConfig(dg.Config):
    retention_hours: int = Field(default=168, ge=0, description="VACUUM keeps files younger than this.")
    enforce_retention: bool = Field(
        default=True, description="Refuse a retention under Delta's minimum (7 days); false only for tests."
    )
    recent_days: int = Field(
        default=3, ge=0, description="OPTIMIZE the last N date partitions only (0 = the whole table)."
    )
