"""`drift_reports_job`: the drift reports of one (day, line) into `edge_drift_reports` (the landing
sensor requests it for new drift files, as it requests `ingestion_job` for captured messages)."""

import dagster as dg

__all__ = ["drift_reports_job"]

drift_reports_job = dg.define_asset_job(
    "drift_reports_job",
    selection=dg.AssetSelection.assets("edge_drift_reports"),
    description="Drift landing files of one (day, line) to edge_drift_reports, with their checks.",
)
