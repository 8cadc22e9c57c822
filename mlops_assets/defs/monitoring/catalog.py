"""What the catalogue shows for the monitoring tables: owners, kinds and column schemas."""

from __future__ import annotations

import dagster as dg
import polars as pl

from mlops_assets.ml.monitoring.drift_table import DRIFT_REPORTS_SCHEMA
from mlops_assets.ml.monitoring.fleet import FLEET_STATUS_SCHEMA

__all__ = ["DRIFT_REPORTS_COLUMNS", "FLEET_STATUS_COLUMNS", "GROUP", "KINDS", "OWNERS"]

GROUP = "monitoring"
OWNERS = ["team:data-platform"]
KINDS = {"deltalake", "polars"}

_DESCRIPTIONS = {
    # edge_drift_reports
    "report_id": "`<agent>:<n>`, the id the agent published the report's summary under.",
    "report_seq": "n: the agent's report counter.",
    "agent": "Edge agent that computed the report (or sent the heartbeat).",
    "site": "ISA-95 site (plant).",
    "line": "Partition: the production line.",
    "cells": "The cells whose windows the report compared (query: array_contains(cells, 'cell-01')).",
    "model_version": "The model version whose reference profile the windows were compared with (or that the agent serves).",
    "created_at": "When the agent computed the report (UTC).",
    "window_start": "Start of the span of windows compared (UTC).",
    "window_end": "End of the span of windows compared (UTC).",
    "rows": "Feature windows compared.",
    "reference_rows": "Windows of the model's reference profile.",
    "drift_share": "Drifted columns / columns.",
    "drift_share_threshold": "The share from which the agent calls the dataset drifted.",
    "dataset_drift": "drift_share >= drift_share_threshold.",
    "drifted_columns": "Names of the drifted columns (<signal>__mean, <signal>__std).",
    "drifted_column_count": "How many columns drifted, as the agent counted them.",
    "columns": "Columns compared.",
    "column_drift": "JSON {column: {drifted, method, score}}: Evidently's test of each column.",
    "report_uri": "Evidently's HTML report in the landing zone (file:// or s3://).",
    "file_id": "The drift landing file (its path under the landing root); ingestion is idempotent by it.",
    "ingested_at": "When the lake ingested the report.",
    "date": "Partition: the UTC day of the report (its landing folder's day).",
    # edge_fleet_status
    "enterprise": "ISA-95 enterprise of the heartbeat topic.",
    "area": "ISA-95 area of the heartbeat topic.",
    "status": "ONLINE, DEGRADED, or OFFLINE (the agent's Will, published by the broker).",
    "alive": "False when OFFLINE or when the last heartbeat is stale.",
    "problem": "Why the agent counts as dead; null while alive.",
    "heartbeat_at": "When the agent sent its latest heartbeat (UTC).",
    "age_s": "Seconds between that heartbeat and observed_at.",
    "started_at": "When the agent process started (UTC).",
    "uptime_s": "Seconds the agent had been running at the heartbeat.",
    "contract_version": "The UNS contract version the agent validates against.",
    "model_stage": "canary, fleet or rollback: the stage of the model the agent serves.",
    "desired_version": "The version the line's manifest asks the agent to serve.",
    "refused_version": "The last model version the agent refused (a package or deployment that did not verify, a model that could not load).",
    "refusal_reason": "Why it refused it, as the agent said.",
    "refused_at": "When it refused it.",
    "scored_batches": "Telemetry batches scored since the agent started.",
    "alerts": "Windows over the threshold since the agent started.",
    "spool_bytes": "Bytes in the agent's capture spool.",
    "upload_backlog_files": "Sealed files waiting for upload to the landing zone.",
    "last_error": "The agent's last error (or its Will's reason).",
    "topic": "The retained heartbeat's topic.",
    "heartbeat": "The whole heartbeat, as JSON.",
    "observed_at": "When the platform read the retained heartbeats.",
}


def _columns(schema: dict[str, pl.DataType]) -> dg.TableSchema:
    return dg.TableSchema(
        columns=[
            dg.TableColumn(name, str(dtype).lower(), _DESCRIPTIONS[name]) for name, dtype in schema.items()
        ]
    )


DRIFT_REPORTS_COLUMNS = _columns(DRIFT_REPORTS_SCHEMA)
FLEET_STATUS_COLUMNS = _columns(FLEET_STATUS_SCHEMA)
