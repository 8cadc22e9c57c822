"""`model_training_job`: one line's model, from features to a signed, gated edge package."""

import dagster as dg

from mlops_assets.partitions import line_partitions

__all__ = ["model_training_job", "model_training_schedule"]

model_training_job = dg.define_asset_job(
    "model_training_job",
    selection=dg.AssetSelection.groups("training", "packaging") - dg.AssetSelection.assets("weld_labels"),
    partitions_def=line_partitions,
    description=(
        "Per line: weld_features, anomaly_autoencoder, anomaly_threshold, model_evaluation and "
        "edge_model_package with its blocking checks (ONNX parity, quality gate against the champion)."
    ),
)


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
