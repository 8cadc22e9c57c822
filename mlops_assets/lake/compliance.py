"""Payload compliance: per day, site, line, topic and contract version, the share of valid messages
and the most frequent reasons for refusal.

Valid = neither the edge nor the lake refused the message. Duplicates (a valid message whose
(cell, seq) was already stored) are counted apart: they say something about delivery, not about the
payload contract.
"""

from __future__ import annotations

import datetime as dt

import polars as pl

from mlops_assets.lake.refine import DUPLICATE
from mlops_assets.lake.store import LakeStore
from mlops_assets.lake.tables import QUARANTINED_MESSAGES, RAW_UNS_CAPTURES

__all__ = ["COMPLIANCE_SCHEMA", "TOP_REASONS", "compliance", "failure_rule", "partition_compliance"]

TOP_REASONS = 3
GROUP = ("date", "site", "line", "topic", "channel", "contract_version")
COMPLIANCE_SCHEMA: dict[str, pl.DataType] = {
    "date": pl.Date(),
    "site": pl.String(),
    "line": pl.String(),
    "topic": pl.String(),
    "channel": pl.String(),
    "contract_version": pl.String(),
    "messages": pl.Int64(),
    "valid": pl.Int64(),
    "refused_by_edge": pl.Int64(),
    "refused_by_lake": pl.Int64(),
    "duplicates": pl.Int64(),
    "share_valid": pl.Float64(),
    "top_failure_reasons": pl.List(pl.Struct({"reason": pl.String(), "count": pl.Int64()})),
    "computed_at": pl.Datetime("us", "UTC"),
}


def failure_rule(kind: pl.Expr, path: pl.Expr, reason: pl.Expr) -> pl.Expr:
    """A refusal reason without the offending value or index, so that equal causes group together:
    `schema at $.signals.current_a[*]: must be <= 10000`."""
    general_path = path.str.replace_all(r"\[\d+\]", "[*]")
    general_reason = reason.str.replace(r",? got .*$", "").str.replace(
        r"^payload is not JSON: .*$", "payload is not JSON"
    )
    return pl.concat_str([kind, pl.lit(" at "), general_path, pl.lit(": "), general_reason])


def compliance(bronze: pl.DataFrame, quarantined: pl.DataFrame, *, computed_at: dt.datetime) -> pl.DataFrame:
    """Compliance rows from bronze rows (message identity and topic) and their quarantine rows."""
    if not bronze.height:
        return pl.DataFrame(schema=COMPLIANCE_SCHEMA)
    refusals = quarantined.select(
        "file_id",
        "capture_seq",
        "stage",
        (pl.col("error_kind") == DUPLICATE).alias("is_duplicate"),
        failure_rule(pl.col("error_kind"), pl.col("error_path"), pl.col("error_reason")).alias("rule"),
    ).unique(subset=["file_id", "capture_seq"])
    rows = bronze.join(refusals, on=["file_id", "capture_seq"], how="left").with_columns(
        pl.col("channel").fill_null("(unknown)"), pl.col("is_duplicate").fill_null(False)
    )
    refused = pl.col("stage").is_not_null() & ~pl.col("is_duplicate")
    counts = rows.group_by(GROUP).agg(
        pl.len().cast(pl.Int64).alias("messages"),
        (pl.col("stage") == "edge").sum().cast(pl.Int64).alias("refused_by_edge"),
        ((pl.col("stage") == "lake") & ~pl.col("is_duplicate")).sum().cast(pl.Int64).alias("refused_by_lake"),
        pl.col("is_duplicate").sum().cast(pl.Int64).alias("duplicates"),
        (~refused).sum().cast(pl.Int64).alias("valid"),
    )
    reasons = (
        rows.filter(refused)
        .group_by([*GROUP, "rule"])
        .agg(pl.len().cast(pl.Int64).alias("count"))
        .sort(["count", "rule"], descending=[True, False])
        .group_by(GROUP, maintain_order=True)
        .agg(
            pl.struct(pl.col("rule").alias("reason"), "count").head(TOP_REASONS).alias("top_failure_reasons")
        )
    )
    out = counts.join(reasons, on=list(GROUP), how="left").with_columns(
        share_valid=pl.col("valid") / pl.col("messages"),
        top_failure_reasons=pl.col("top_failure_reasons").fill_null(
            pl.lit([], dtype=COMPLIANCE_SCHEMA["top_failure_reasons"])
        ),
        computed_at=pl.lit(computed_at).cast(pl.Datetime("us", "UTC")),
    )
    return (
        out.select(list(COMPLIANCE_SCHEMA)).cast(pl.Schema(COMPLIANCE_SCHEMA)).sort("site", "line", "topic")
    )


def partition_compliance(
    store: LakeStore, day: dt.date, line: str, *, computed_at: dt.datetime
) -> pl.DataFrame:
    """Compliance of one (day, line) partition, recomputed from bronze and quarantine."""
    bronze = store.read(RAW_UNS_CAPTURES, line=line, dates=[day], columns=["file_id", "capture_seq", *GROUP])
    quarantined = store.read(
        QUARANTINED_MESSAGES,
        line=line,
        dates=[day],
        columns=["file_id", "capture_seq", "stage", "error_kind", "error_path", "error_reason"],
    )
    if not quarantined.height:
        quarantined = pl.DataFrame(
            schema={
                "file_id": pl.String,
                "capture_seq": pl.Int64,
                "stage": pl.String,
                "error_kind": pl.String,
                "error_path": pl.String,
                "error_reason": pl.String,
            }
        )
    return compliance(bronze, quarantined, computed_at=computed_at)
