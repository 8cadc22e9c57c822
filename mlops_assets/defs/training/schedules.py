"""`model_training_schedule`: retrain every known line weekly; the quality gate decides what is promoted."""

import dagster as dg

from mlops_assets.defs.training.jobs import model_training_job
from mlops_assets.partitions import line_partitions

__all__ = ["model_training_schedule"]


@dg.schedule(
    name="model_training_schedule",
    job=model_training_job,
    cron_schedule="0 4 * * 1",
    default_status=dg.DefaultScheduleStatus.STOPPED,
    description="Weekly (Monday 04:00 UTC): retrain every known line; the quality gate decides what is promoted.",
)
def model_training_schedule(context: dg.ScheduleEvaluationContext) -> list[dg.RunRequest]:
    lines = context.instance.get_dynamic_partitions(line_partitions.name or "line")
    week = context.scheduled_execution_time.strftime("%G-W%V")
    return [dg.RunRequest(run_key=f"{week}|{line}", partition_key=line) for line in lines]
