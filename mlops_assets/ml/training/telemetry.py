"""One line's silver telemetry for training, read at a pinned Delta version and over chosen days (found
in the Delta log, no data file opened), so a line's history never has to fit in memory; optionally only
the welds that started after a given time (a retraining on a new regime, `rows_since`)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

import polars as pl
from deltalake import DeltaTable

from mlops_assets.lake import VALIDATED_TELEMETRY, LakeStore

__all__ = [
    "TelemetrySlice",
    "day_of_ms",
    "line_days",
    "read_line_telemetry",
    "recent_days",
    "rows_since",
    "telemetry_slice",
]


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
    store: LakeStore,
    line: str,
    version: int,
    days: Iterable[dt.date] | None = None,
    since_ms: int | None = None,
) -> pl.DataFrame:
    """The line's rows at `version` (only `days` when given, only the welds since `since_ms` when
    given), sorted by (cell, ts)."""
    frame = pl.scan_delta(store.uri(VALIDATED_TELEMETRY), version=version, storage_options=store.options())
    frame = frame.filter(pl.col("line") == line)
    if days is not None:
        frame = frame.filter(pl.col("date").is_in(sorted(set(days))))
    if since_ms is not None:
        frame = rows_since(frame, since_ms)
    found = frame.collect()
    return found.sort("cell", "ts") if found.height else found


def day_of_ms(ms: int) -> dt.date:
    return dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC).date()


def rows_since(frame: pl.LazyFrame, since_ms: int) -> pl.LazyFrame:
    """The rows of the welds that started at or after `since_ms` (a weld running at that time is left
    out whole, not cut into a short weld); rows without a weld id from `since_ms` on."""
    since = dt.datetime.fromtimestamp(since_ms / 1000, tz=dt.UTC)
    started = pl.col("ts").min().over("cell", "weld_id")
    return frame.filter(pl.when(pl.col("weld_id").is_null()).then(pl.col("ts")).otherwise(started) >= since)


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
    since_ms: int | None = None,
) -> TelemetrySlice:
    """The line's telemetry at `version` (default: the table's current version, read before the rows,
    so the version recorded in a model's lineage is exactly the data it was trained on): its latest
    `keep_days` days (0 = all), from `from_day` on when given, and only the welds that started at or
    after `since_ms` when given (`rows_since`). Raises `LookupError` when there is none."""
    if version is None:
        version = store.version(VALIDATED_TELEMETRY)
        if version is None:
            raise LookupError(f"{VALIDATED_TELEMETRY} does not exist yet: ingest telemetry first")
    days = recent_days(line_days(store, line, version), keep_days)
    bounds = [d for d in (from_day, None if since_ms is None else day_of_ms(since_ms)) if d is not None]
    if bounds:
        days = [d for d in days if d >= max(bounds)]
    frame = read_line_telemetry(store, line, version, days, since_ms) if days else pl.DataFrame()
    if frame.height == 0:
        since = "" if since_ms is None else f" since {dt.datetime.fromtimestamp(since_ms / 1000, tz=dt.UTC)}"
        raise LookupError(
            f"{VALIDATED_TELEMETRY} has no rows for line {line}{since} (Delta version {version})"
        )
    return TelemetrySlice(frame, version, sorted({d for d in frame["date"].unique().to_list()}))
