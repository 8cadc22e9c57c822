"""Find what an upstream asset materialised for a partition (its metadata), for assets that keep their
data outside IO managers (Delta tables, MLflow runs)."""

from __future__ import annotations

from typing import Any

import dagster as dg

__all__ = ["latest_metadata"]


def latest_metadata(
    context: dg.AssetExecutionContext | dg.AssetCheckExecutionContext, asset: str, partition: str
) -> dict[str, Any]:
    """Plain values of the latest materialisation's metadata of `asset` for `partition`; raises when absent."""
    result = context.instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey(asset), asset_partitions=[partition]), limit=1
    )
    if not result.records:
        raise dg.Failure(f"{asset} has not been materialised for partition {partition!r}")
    materialization = result.records[0].asset_materialization
    assert materialization is not None
    return {key: getattr(value, "value", value) for key, value in materialization.metadata.items()}
