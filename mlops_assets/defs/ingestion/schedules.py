"""`freshness_check_schedule`: hourly freshness check of validated_telemetry (off by default)."""

import dagster as dg

from mlops_assets.defs.ingestion.jobs import freshness_check_job

__all__ = ["freshness_check_schedule"]

freshness_check_schedule = dg.ScheduleDefinition(
    name="freshness_check_schedule",
    job=freshness_check_job,
    cron_schedule="15 * * * *",
    default_status=dg.DefaultScheduleStatus.STOPPED,
    description="Hourly: is every line's telemetry fresh?",
)
