"""Jobs of the ingestion domain."""

import dagster as dg

__all__ = ["freshness_check_job", "ingestion_job"]

FRESHNESS = dg.AssetCheckKey(dg.AssetKey("validated_telemetry"), "validated_telemetry_is_fresh")

# The landing sensor launches one run of this job per (day, line) with new files. Freshness is a
# property of time, not of a run: it has its own job.
ingestion_job = dg.define_asset_job(
    "ingestion_job",
    selection=dg.AssetSelection.groups("ingestion") - dg.AssetSelection.checks(FRESHNESS),
    description="Landing files of one (day, line) to bronze, silver, quarantine and compliance.",
)

freshness_check_job = dg.define_asset_job(
    "freshness_check_job",
    selection=dg.AssetSelection.checks(FRESHNESS),
    description="Evaluate the freshness of validated_telemetry without materialising anything.",
)
