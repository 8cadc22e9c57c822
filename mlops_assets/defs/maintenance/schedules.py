"""Nightly lake maintenance."""

import dagster as dg

from mlops_assets.defs.maintenance.jobs import lake_maintenance_job

__all__ = ["lake_maintenance_schedule"]

lake_maintenance_schedule = dg.ScheduleDefinition(
    name="lake_maintenance_schedule",
    job=lake_maintenance_job,
    cron_schedule="30 3 * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="03:30 UTC: OPTIMIZE (Z-order on cell and time) and VACUUM (7-day retention) every table.",
)
