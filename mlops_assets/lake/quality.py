"""Data-quality measurements behind the ingestion asset checks (plain logic, read from the lake)."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable
from dataclasses import dataclass

import polars as pl

from mlops_assets.lake.store import LakeStore
from mlops_assets.lake.tables import SILVER_UNIQUE_KEY, VALIDATED_TELEMETRY, signal_columns

__all__ = ["SchemaDrift", "duplicate_keys", "newest_telemetry", "schema_drift", "silver_signals"]


def duplicate_keys(store: LakeStore, line: str, dates: Iterable[dt.date]) -> pl.DataFrame:
    """Unique-key violations of `validated_telemetry` in one line's days: the key and its count."""
    days = sorted(set(dates))
    if not days or not store.exists(VALIDATED_TELEMETRY):
        return pl.DataFrame(schema={"cell": pl.String, "seq": pl.Int64, "rows": pl.UInt32})
    return (
        store.scan(VALIDATED_TELEMETRY)
        .filter((pl.col("line") == line) & pl.col("date").is_in(days))
        .group_by(list(SILVER_UNIQUE_KEY))
        .agg(pl.len().alias("rows"))
        .filter(pl.col("rows") > 1)
        .select("cell", "seq", "rows")
        .collect()
    )


@dataclass(frozen=True)
class SchemaDrift:
    new_undeclared_signals: list[str]
    """Signals that appeared for the first time and that the contract does not declare."""
    contract_versions: list[str]
    current_version: str

    @property
    def drifted(self) -> bool:
        return bool(self.new_undeclared_signals) or any(
            v != self.current_version for v in self.contract_versions
        )


def schema_drift(
    signals_seen: Iterable[str],
    signals_before: Iterable[str],
    declared: Iterable[str],
    contract_versions: Iterable[str],
    current_version: str,
) -> SchemaDrift:
    known = set(signals_before) | set(declared)
    return SchemaDrift(
        new_undeclared_signals=sorted(set(signals_seen) - known),
        contract_versions=sorted(set(contract_versions)),
        current_version=current_version,
    )


def silver_signals(store: LakeStore) -> list[str]:
    table = store.delta_table(VALIDATED_TELEMETRY)
    return signal_columns([f.name for f in table.schema().fields]) if table is not None else []


def newest_telemetry(store: LakeStore, *, now: dt.datetime, within_hours: float) -> pl.DataFrame:
    """Per line, the newest receive time in `validated_telemetry` among the days that could hold
    data younger than `within_hours` (older days are not read)."""
    if not store.exists(VALIDATED_TELEMETRY):
        return pl.DataFrame(schema={"line": pl.String, "newest": pl.Datetime("us", "UTC")})
    first_day = (now - dt.timedelta(hours=within_hours)).date() - dt.timedelta(days=1)
    days = [first_day + dt.timedelta(days=i) for i in range(math.ceil(within_hours / 24) + 3)]
    lines = store.scan(VALIDATED_TELEMETRY).select("line").unique().collect()
    recent = (
        store.scan(VALIDATED_TELEMETRY)
        .filter(pl.col("date").is_in(days))
        .group_by("line")
        .agg(pl.col("received_at").max().alias("newest"))
        .collect()
    )
    return lines.join(recent, on="line", how="left").sort("line")
