"""One line's silver telemetry for training, read at a pinned Delta version and over chosen days (found
in the Delta log, no data file opened), so a line's history never has to fit in memory."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

import polars as pl
from deltalake import DeltaTable

from mlops_assets.lake import VALIDATED_TELEMETRY, LakeStore

__all__ = ["TelemetrySlice", "line_days", "read_line_telemetry", "recent_days", "telemetry_slice"]


def _table(store: LakeStore, version: int) -> DeltaTable:
    return DeltaTable(store.uri(VALIDATED_TELEMETRY), version=version, storage_options=store.options())


def line_days(store: LakeStore, line: str, version: int) -> list[dt.date]:
    """The days (date partitions) holding telemetry of `line` at `version`, sorted."""
    actions = pl.DataFrame(_table(store, version).get_add_actions(flatten=True))
    if actions.height == 0:
        return []
    days = actions.filter(pl.col("partition.line") == line)["partition.date"].unique().sort()
    return [d if isinstance(d, dt.date) else dt.date.fromisoformat(str(d)) for d in days.to_list()]


def recent_days(days: list[dt.date], keep: int) -> list[dt.date]:
    """The days within `keep` calendar days of the latest one (`keep` = 0: all of them)."""
    if keep <= 0 or not days:
        return list(days)
    first = max(days) - dt.timedelta(days=keep - 1)
    return [d for d in days if d >= first]


def read_line_telemetry(
    store: LakeStore, line: str, version: int, days: Iterable[dt.date] | None = None
) -> pl.DataFrame:
    """The line's rows at `version` (only `days` when given), sorted by (cell, ts)."""
    frame = pl.scan_delta(store.uri(VALIDATED_TELEMETRY), version=version, storage_options=store.options())
    frame = frame.filter(pl.col("line") == line)
    if days is not None:
        frame = frame.filter(pl.col("date").is_in(sorted(set(days))))
    found = frame.collect()
    return found.sort("cell", "ts") if found.height else found


@dataclass(frozen=True)
class TelemetrySlice:
    frame: pl.DataFrame
    """Rows sorted by (cell, ts)."""
    version: int
    """The Delta version of `validated_telemetry` they were read at."""
    days: list[dt.date]


def telemetry_slice(
    store: LakeStore,
    line: str,
    *,
    version: int | None = None,
    keep_days: int = 0,
    from_day: dt.date | None = None,
) -> TelemetrySlice:
    """The line's telemetry at `version` (default: the table's current version, read before the rows,
    so the version recorded in a model's lineage is exactly the data it was trained on): its latest
    `keep_days` days (0 = all), from `from_day` on when given. Raises `LookupError` when there is none."""
    if version is None:
        version = store.version(VALIDATED_TELEMETRY)
        if version is None:
            raise LookupError(f"{VALIDATED_TELEMETRY} does not exist yet: ingest telemetry first")
    days = recent_days(line_days(store, line, version), keep_days)
    if from_day is not None:
        days = [d for d in days if d >= from_day]
    if not days:
        raise LookupError(f"{VALIDATED_TELEMETRY} has no rows for line {line} (Delta version {version})")
    return TelemetrySlice(read_line_telemetry(store, line, version, days), version, days)
