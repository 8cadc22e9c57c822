"""What an upstream asset materialised for a partition (its metadata), for the ML assets that keep their
data outside IO managers (Delta tables, MLflow runs) and find it through the metadata."""

from __future__ import annotations

from typing import Any

import dagster as dg

__all__ = ["upstream_metadata"]

AnyContext = dg.AssetExecutionContext | dg.AssetCheckExecutionContext


def _run_materialization(
    instance: dg.DagsterInstance, run_id: str, key: dg.AssetKey, partition: str
) -> dg.AssetMaterialization | None:
    records = instance.get_records_for_run(
        run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION, ascending=False
    ).records
    for record in records:
        found = record.asset_materialization
        if found is not None and found.asset_key == key and found.partition == partition:
            return found
    return None


def _planned_in_run(instance: dg.DagsterInstance, run_id: str, key: dg.AssetKey, partition: str) -> bool:
    records = instance.get_records_for_run(
        run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION_PLANNED
    ).records
    for record in records:
        event = record.event_log_entry.dagster_event
        planned = getattr(event, "event_specific_data", None)
        if planned is None or getattr(planned, "asset_key", None) != key:
            continue
        subset = getattr(planned, "partitions_subset", None)
        if planned.partition == partition or (
            subset is not None and partition in subset.get_partition_keys()
        ):
            return True
    return False


def upstream_metadata(context: AnyContext, asset: str, partition: str) -> dict[str, Any]:
    """Plain values of `asset`'s materialisation metadata for `partition`: this run's when the asset was
    planned in this run, else the latest. Raises `dg.Failure` when there is none to use.

    The materialisation of the same run wins: two runs of one line's chain overlapping in time must
    not mix each other's models (deployments also queue at most one `model_training_job` run per line,
    a run-queue limit on the `dagster/partition` tag)."""
    instance, run_id, key = context.instance, context.op_execution_context.run_id, dg.AssetKey(asset)
    materialization = _run_materialization(instance, run_id, key, partition)
    if materialization is None:
        if _planned_in_run(instance, run_id, key, partition):
            raise dg.Failure(f"{asset} [{partition}] is part of this run but was not materialised by it")
        result = instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=key, asset_partitions=[partition]), limit=1
        )
        if not result.records:
            raise dg.Failure(f"{asset} has not been materialised for partition {partition!r}")
        materialization = result.records[0].asset_materialization
    assert materialization is not None
    return {name: getattr(value, "value", value) for name, value in materialization.metadata.items()}
