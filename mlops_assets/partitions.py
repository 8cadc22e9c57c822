"""Partitions shared by every domain: production lines (dynamic) and days x lines for telemetry.

Lines are dynamic partitions: the landing sensor registers a line the first time one of its files
lands, so a new line needs no code change. Line identifiers are unique across the enterprise (the
contract keys model manifests by line alone).
"""

from __future__ import annotations

import datetime as dt

import dagster as dg

__all__ = [
    "DAY_FIRST",
    "daily_line_partitions",
    "daily_partitions",
    "day_and_line",
    "day_line_key",
    "line_partitions",
]

DAY_FIRST = "2024-01-01"

line_partitions = dg.DynamicPartitionsDefinition(name="line")
# end_offset=1: today's partition exists while the day is still filling (telemetry lands all day).
daily_partitions = dg.DailyPartitionsDefinition(start_date=DAY_FIRST, end_offset=1)
daily_line_partitions = dg.MultiPartitionsDefinition({"date": daily_partitions, "line": line_partitions})


def day_line_key(day: dt.date, line: str) -> dg.MultiPartitionKey:
    return dg.MultiPartitionKey({"date": day.isoformat(), "line": line})


def day_and_line(partition_key: str | dg.MultiPartitionKey) -> tuple[dt.date, str]:
    """(day, line) of a daily x line partition key (`2026-11-21|line-1`)."""
    if isinstance(partition_key, dg.MultiPartitionKey):
        keys = partition_key.keys_by_dimension
    else:
        day_part, _, line_part = str(partition_key).partition("|")
        keys = {"date": day_part, "line": line_part}
    if not keys.get("line"):
        raise ValueError(f"partition key {partition_key!r} names no line")
    return dt.date.fromisoformat(keys["date"]), keys["line"]
