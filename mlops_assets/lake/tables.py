"""Names and layout of the lake's tables: `<lake root>/<layer>/<table>`, each a Delta table.

Other domains declare their own `TableRef`s (for example `TableRef("gold", "weld_features")`); the
lake finds every table under its layers, so `mlops sql` sees them without registration.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import polars as pl

__all__ = [
    "EDGE_DRIFT_REPORTS",
    "LAYERS",
    "PARTITION_COLUMNS",
    "PAYLOAD_COMPLIANCE",
    "QUARANTINED_MESSAGES",
    "RAW_UNS_CAPTURES",
    "SILVER_FIXED_COLUMNS",
    "SILVER_FIXED_SCHEMA",
    "SILVER_UNIQUE_KEY",
    "VALIDATED_TELEMETRY",
    "TableRef",
    "signal_columns",
]

LAYERS = ("bronze", "silver", "gold")
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")

# Every telemetry table is partitioned the same way, so that a Dagster partition (day, line) maps onto
# Delta partitions and readers prune by line and day.
PARTITION_COLUMNS = ("date", "line")


@dataclass(frozen=True)
class TableRef:
    """A table of the lake: its layer (bronze, silver, gold) and its name (also its SQL name)."""

    layer: str
    name: str

    def __post_init__(self) -> None:
        if self.layer not in LAYERS:
            raise ValueError(f"table {self.name!r}: layer {self.layer!r} is not one of {LAYERS}")
        if not _NAME.match(self.name):
            raise ValueError(f"table name {self.name!r} must be snake_case (it is also its SQL name)")

    @property
    def path(self) -> str:
        return f"{self.layer}/{self.name}"

    def __str__(self) -> str:
        return self.path


RAW_UNS_CAPTURES = TableRef("bronze", "raw_uns_captures")
VALIDATED_TELEMETRY = TableRef("silver", "validated_telemetry")
QUARANTINED_MESSAGES = TableRef("silver", "quarantined_messages")
PAYLOAD_COMPLIANCE = TableRef("gold", "payload_compliance")
# The drift reports of the edge: landing files like the captures, so the lake's ledger (pending.py) knows it.
EDGE_DRIFT_REPORTS = TableRef("gold", "edge_drift_reports")

# The fixed (non-signal) columns of `validated_telemetry`; every other column is a signal (Float64).
SILVER_FIXED_SCHEMA: dict[str, pl.DataType] = {
    "enterprise": pl.String(),
    "site": pl.String(),
    "area": pl.String(),
    "line": pl.String(),
    "cell": pl.String(),
    "seq": pl.Int64(),
    "sample_index": pl.Int32(),
    "ts": pl.Datetime("us", "UTC"),
    "sample_interval_ms": pl.Float64(),
    "weld_id": pl.String(),
    "recipe": pl.String(),
    "quality": pl.String(),
    "file_id": pl.String(),
    "contract_version": pl.String(),
    "received_at": pl.Datetime("us", "UTC"),
    "date": pl.Date(),
}
SILVER_FIXED_COLUMNS: tuple[str, ...] = tuple(SILVER_FIXED_SCHEMA)
SILVER_UNIQUE_KEY = ("enterprise", "site", "area", "line", "cell", "seq", "sample_index")


def signal_columns(columns: list[str] | tuple[str, ...]) -> list[str]:
    """The signal columns of a `validated_telemetry` frame or schema, in their order."""
    return [c for c in columns if c not in SILVER_FIXED_SCHEMA]
