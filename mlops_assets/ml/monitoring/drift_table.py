"""`gold/edge_drift_reports`: one row per drift report of the edge, from its landing file (`drift`,
`edge_agent.files.landing_format.DRIFT_SCHEMA`), with a link to its HTML report in the landing zone."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import polars as pl
import pyarrow as pa

from edge_agent.files.landing_format import DRIFT_SCHEMA, LandingKey
from mlops_assets.landing.zone import landing_file_id

__all__ = ["DRIFT_REPORTS_SCHEMA", "DriftFileError", "drift_report_rows", "html_path"]

DRIFT_REPORTS_SCHEMA: dict[str, pl.DataType] = {
    "report_id": pl.String(),
    "report_seq": pl.Int64(),
    "agent": pl.String(),
    "site": pl.String(),
    "line": pl.String(),
    "cells": pl.List(pl.String()),
    "model_version": pl.String(),
    "created_at": pl.Datetime("us", "UTC"),
    "window_start": pl.Datetime("us", "UTC"),
    "window_end": pl.Datetime("us", "UTC"),
    "rows": pl.Int64(),
    "reference_rows": pl.Int64(),
    "drift_share": pl.Float64(),
    "drift_share_threshold": pl.Float64(),
    "dataset_drift": pl.Boolean(),
    "drifted_columns": pl.List(pl.String()),
    "drifted_column_count": pl.Int64(),
    "columns": pl.Int64(),
    "column_drift": pl.String(),
    "report_uri": pl.String(),
    "file_id": pl.String(),
    "ingested_at": pl.Datetime("us", "UTC"),
    "date": pl.Date(),
}


class DriftFileError(ValueError):
    """A drift landing file that does not follow the landing format (named in the message)."""


def html_path(key: LandingKey, row: dict[str, Any]) -> str:
    """The HTML report's path under the landing root: `html_file`, beside the drift file."""
    return f"{key.folder}/{row['html_file']}"


def _moment(ms: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC)


def _drifted(column_drift: str, where: str) -> list[str]:
    try:
        columns = json.loads(column_drift)
        return sorted(name for name, result in columns.items() if result["drifted"])
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise DriftFileError(
            f"{where}: column_drift is not {{column: {{drifted, ...}}}} JSON ({exc!r})"
        ) from exc


def drift_report_rows(
    table: pa.Table, key: LandingKey, *, html_uri: str, ingested_at: dt.datetime
) -> pl.DataFrame:
    """The row of the report in drift file `key` (read as `table`), its HTML report at `html_uri`.
    Raises DriftFileError when a column is missing, the file holds other than one report, or the report
    is not the one its name says."""
    where = key.relative_path
    missing = [f.name for f in DRIFT_SCHEMA if f.name not in table.column_names]
    if missing:
        raise DriftFileError(f"{where}: missing columns {missing}")
    if table.num_rows != 1:
        raise DriftFileError(f"{where}: a drift file holds one report, this one {table.num_rows} rows")
    row = table.slice(0, 1).to_pylist()[0]
    if row["agent"] != key.agent or row["report_seq"] != key.first_seq:
        raise DriftFileError(
            f"{where}: holds report {row['report_seq']} of agent {row['agent']!r}, its name another"
        )
    values = {
        "report_id": row["report_id"],
        "report_seq": row["report_seq"],
        "agent": row["agent"],
        "site": key.site,
        "line": key.line,
        "cells": list(row["cells"] or []),
        "model_version": row["model_version"],
        "created_at": _moment(row["created_ms"]),
        "window_start": _moment(row["window_start_ms"]),
        "window_end": _moment(row["window_end_ms"]),
        **{c: row[c] for c in ("rows", "reference_rows", "drift_share", "drift_share_threshold")},
        "dataset_drift": row["dataset_drift"],
        "drifted_columns": _drifted(row["column_drift"], where),
        "drifted_column_count": row["drifted_columns"],
        "columns": row["columns"],
        "column_drift": row["column_drift"],
        "report_uri": html_uri,
        "file_id": landing_file_id(key),
        "ingested_at": ingested_at,
        "date": key.day,
    }
    return pl.DataFrame([values], schema=DRIFT_REPORTS_SCHEMA)
