"""Checks that can run on their own schedule (the others run inside the materialisations)."""

import datetime as dt

import dagster as dg
import polars as pl

from mlops_assets.lake.quality import newest_telemetry
from mlops_assets.lake.tables import VALIDATED_TELEMETRY
from mlops_assets.resources import DataQualityResource, LakehouseResource

__all__ = ["validated_telemetry_is_fresh"]


@dg.asset_check(
    asset=VALIDATED_TELEMETRY.name,
    name="validated_telemetry_is_fresh",
    description="Every line's newest telemetry was received within data_quality.max_staleness_hours.",
)
def validated_telemetry_is_fresh(
    lakehouse: LakehouseResource, data_quality: DataQualityResource
) -> dg.AssetCheckResult:
    now = dt.datetime.now(dt.UTC)
    newest = newest_telemetry(lakehouse.store(), now=now, within_hours=data_quality.max_staleness_hours)
    limit = now - dt.timedelta(hours=data_quality.max_staleness_hours)
    stale = newest.filter(pl.col("newest").is_null() | (pl.col("newest") < limit))
    return dg.AssetCheckResult(
        passed=newest.height > 0 and stale.height == 0,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "max_staleness_hours": data_quality.max_staleness_hours,
            "lines": newest.height,
            "stale_lines": ", ".join(stale["line"].to_list()) or "none",
            "newest_by_line": dg.MetadataValue.json(
                {
                    row["line"]: row["newest"].isoformat() if row["newest"] else None
                    for row in newest.to_dicts()
                }
            ),
        },
    )
