"""`model_training_schedule`: retrain every known line on a cron (`MLOPS_RETRAIN_CRON`, weekly by
default); running by default in PROD, stopped in LOCAL. The quality gate decides what is promoted."""

import dagster as dg

from mlops_assets.defs.training.jobs import model_training_job
from mlops_assets.environment import Environment, current_environment
from mlops_assets.ml.monitoring.settings import loop_timings_from_env
from mlops_assets.partitions import line_partitions

__all__ = ["build_training_schedule", "training_schedules"]


def build_training_schedule(cron: str, environment: Environment) -> dg.ScheduleDefinition:
    """One run of `model_training_job` per known line at every tick of `cron` (run key: the tick and
    the line, so a tick never requests a line twice); ValueError naming the variable for a bad cron."""
    running = environment is Environment.PROD
    try:

        @dg.schedule(
            name="model_training_schedule",
            job=model_training_job,
            cron_schedule=cron,
            default_status=dg.DefaultScheduleStatus.RUNNING if running else dg.DefaultScheduleStatus.STOPPED,
            description=(
                f"On `{cron}` (MLOPS_RETRAIN_CRON, UTC): retrain every known line; the quality gate "
                "decides what is promoted. Running by default in PROD, stopped in LOCAL."
            ),
        )
        def model_training_schedule(context: dg.ScheduleEvaluationContext) -> list[dg.RunRequest]:
            lines = context.instance.get_dynamic_partitions(line_partitions.name or "line")
            tick = context.scheduled_execution_time.strftime("%Y-%m-%dT%H:%M")
            return [
                dg.RunRequest(
                    run_key=f"{tick}|{line}", partition_key=line, tags={"mlops/trigger": "schedule"}
                )
                for line in lines
            ]

    except dg.DagsterInvalidDefinitionError as exc:
        raise ValueError(f"MLOPS_RETRAIN_CRON={cron!r} is not a cron expression: {exc}") from exc
    return model_training_schedule


@dg.definitions
def training_schedules() -> dg.Definitions:
    return dg.Definitions(
        schedules=[build_training_schedule(loop_timings_from_env().retrain_cron, current_environment())]
    )
