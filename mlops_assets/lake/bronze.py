"""Bronze rows: every landing-file row as received, with the file it came from.

A landing file (capture or quarantine, `edge_agent.files.landing_format`) becomes rows of
`raw_uns_captures`: the captured message (topic, channel parameters, payload bytes, receive time,
agent) plus `file_id` (the file's path under the landing root, `landing_file_id`), `file_kind`,
the edge's refusal reason for quarantine files, and the Delta partition columns `date` (the landing
day) and `line` (the landing folder's line).
"""

from __future__ import annotations

import datetime as dt

import polars as pl
import pyarrow as pa

from edge_agent.files.landing_format import CAPTURE_SCHEMA, LandingKey
from mlops_assets.landing.zone import landing_file_id

__all__ = ["BRONZE_SCHEMA", "LandingFileError", "bronze_rows"]

BRONZE_SCHEMA: dict[str, pl.DataType] = {
    "file_id": pl.String(),
    "file_kind": pl.String(),
    "agent": pl.String(),
    "capture_seq": pl.Int64(),
    "received_at": pl.Datetime("us", "UTC"),
    "topic": pl.String(),
    "channel": pl.String(),
    "enterprise": pl.String(),
    "site": pl.String(),
    "area": pl.String(),
    "line": pl.String(),
    "cell": pl.String(),
    "parameters": pl.String(),
    "payload": pl.Binary(),
    "qos": pl.Int8(),
    "retain": pl.Boolean(),
    "contract_version": pl.String(),
    "edge_error_kind": pl.String(),
    "edge_error_path": pl.String(),
    "edge_error_reason": pl.String(),
    "ingested_at": pl.Datetime("us", "UTC"),
    "date": pl.Date(),
}


class LandingFileError(ValueError):
    """A landing file that does not follow the landing format (named in the message)."""


def bronze_rows(table: pa.Table, key: LandingKey, *, ingested_at: dt.datetime) -> pl.DataFrame:
    """The bronze rows of one landing file; raises LandingFileError when a column is missing."""
    missing = [f.name for f in CAPTURE_SCHEMA if f.name not in table.column_names]
    if key.kind == "quarantine":
        missing += [c for c in ("error_kind", "error_path", "error_reason") if c not in table.column_names]
    if missing:
        raise LandingFileError(f"{key.relative_path}: missing columns {missing}")
    frame = pl.from_arrow(table)
    assert isinstance(frame, pl.DataFrame)
    quarantine = key.kind == "quarantine"
    return frame.select(
        pl.lit(landing_file_id(key)).alias("file_id"),
        pl.lit(key.kind).alias("file_kind"),
        pl.col("agent").cast(pl.String),
        pl.col("capture_seq").cast(pl.Int64),
        pl.from_epoch(pl.col("received_at_ms").cast(pl.Int64), time_unit="ms")
        .cast(pl.Datetime("us"))
        .dt.replace_time_zone("UTC")
        .alias("received_at"),
        pl.col("topic").cast(pl.String),
        pl.col("channel").cast(pl.String),
        pl.col("enterprise").cast(pl.String),
        pl.col("site").cast(pl.String).fill_null(key.site),
        pl.col("area").cast(pl.String),
        # The partition column is the landing folder's line: it is what the file was filed under
        # (topics that name no line are filed under the agent's line).
        pl.lit(key.line).alias("line"),
        pl.col("cell").cast(pl.String),
        pl.col("parameters").cast(pl.String),
        pl.col("payload").cast(pl.Binary),
        pl.col("qos").cast(pl.Int8),
        pl.col("retain").cast(pl.Boolean),
        pl.col("contract_version").cast(pl.String),
        *(
            pl.col(c).cast(pl.String).alias(f"edge_{c}")
            if quarantine
            else pl.lit(None, pl.String).alias(f"edge_{c}")
            for c in ("error_kind", "error_path", "error_reason")
        ),
        pl.lit(ingested_at).cast(pl.Datetime("us", "UTC")).alias("ingested_at"),
        pl.lit(key.day).alias("date"),
    )
