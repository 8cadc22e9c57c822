"""Delta maintenance: compact small files (Z-ordered on cell and time where a table has both) and
vacuum files no version younger than the retention needs.

Runs next to ingestion: OPTIMIZE only rewrites files and commits with Delta's conflict checks, so a
concurrent append is never lost (at worst the optimize commit fails and the next run repeats it).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from mlops_assets.lake.store import LakeStore
from mlops_assets.lake.tables import TableRef

__all__ = ["Z_ORDER_TIME_COLUMNS", "MaintenanceReport", "maintain_table"]

# The time column each layer is read by; Z-order interleaves it with `cell`.
Z_ORDER_TIME_COLUMNS = ("ts", "received_at")


@dataclass
class MaintenanceReport:
    table: TableRef
    z_order: list[str] = field(default_factory=list)
    files_removed: int = 0
    files_added: int = 0
    vacuumed_files: int = 0
    version_before: int | None = None
    version_after: int | None = None


def maintain_table(
    store: LakeStore,
    table: TableRef,
    *,
    retention_hours: int,
    enforce_retention: bool = True,
    recent_days: int = 0,
    today: dt.date | None = None,
) -> MaintenanceReport:
    """OPTIMIZE (Z-order on cell and time when both exist, else compaction) the whole table or its
    last `recent_days` date partitions, then VACUUM with `retention_hours`."""
    delta = store.delta_table(table)
    report = MaintenanceReport(table)
    if delta is None:
        return report
    report.version_before = delta.version()
    columns = [f.name for f in delta.schema().fields]
    time_column = next((c for c in Z_ORDER_TIME_COLUMNS if c in columns), None)
    report.z_order = ["cell", time_column] if "cell" in columns and time_column else []
    partitioned_by_date = "date" in delta.metadata().partition_columns
    filters: list[list[tuple[str, str, str]] | None] = [None]
    if recent_days > 0 and partitioned_by_date:
        last = today or dt.datetime.now(dt.UTC).date()
        filters = [[("date", "=", (last - dt.timedelta(days=i)).isoformat())] for i in range(recent_days)]
    for partition_filter in filters:
        if report.z_order:
            metrics = delta.optimize.z_order(report.z_order, partition_filters=partition_filter)
        else:
            metrics = delta.optimize.compact(partition_filters=partition_filter)
        report.files_removed += int(metrics.get("numFilesRemoved", 0))
        report.files_added += int(metrics.get("numFilesAdded", 0))
    removed = delta.vacuum(
        retention_hours=retention_hours, dry_run=False, enforce_retention_duration=enforce_retention
    )
    report.vacuumed_files = len(removed)
    report.version_after = delta.version()
    return report
