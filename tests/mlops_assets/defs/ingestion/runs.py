"""Run the platform's own definitions on a test instance."""

from __future__ import annotations

import datetime as dt
from typing import Any

import dagster as dg

from mlops_assets.definitions import build_definitions
from mlops_assets.partitions import day_line_key


def ingestion_job() -> dg.JobDefinition:
    """The platform's `ingestion_job`, as a target for `dg.reconstructable` (re-executions need one)."""
    return build_definitions().resolve_job_def("ingestion_job")


def run_ingestion(
    instance: dg.DagsterInstance, day: dt.date, line: str, defs: dg.Definitions | None = None
) -> dg.ExecuteInProcessResult:
    definitions = defs or build_definitions()
    if line not in instance.get_dynamic_partitions("line"):
        instance.add_dynamic_partitions("line", [line])
    job = definitions.resolve_job_def("ingestion_job")
    return job.execute_in_process(
        instance=instance, partition_key=day_line_key(day, line), raise_on_error=True
    )


def materialisations(result: dg.ExecuteInProcessResult) -> dict[str, dict[str, Any]]:
    out = {}
    for event in result.get_asset_materialization_events():
        materialization = event.step_materialization_data.materialization
        out[materialization.asset_key.to_user_string()] = {
            k: v.value for k, v in materialization.metadata.items()
        }
    return out


def check_results(result: dg.ExecuteInProcessResult) -> dict[str, tuple[bool, dict[str, Any]]]:
    return {
        e.check_name: (e.passed, {k: v.value for k, v in e.metadata.items()})
        for e in result.get_asset_check_evaluations()
    }
