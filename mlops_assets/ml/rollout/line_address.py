"""Where a line sits on the UNS (enterprise, site, area), read from its latest silver telemetry, so
that deploying to a line needs no configuration beyond the line itself."""

from __future__ import annotations

import polars as pl

from edge_agent.domain import LineAddress
from mlops_assets.lake import VALIDATED_TELEMETRY, LakeStore

__all__ = ["line_address"]

_LEVELS = ("enterprise", "site", "area")


def line_address(store: LakeStore, line: str) -> LineAddress:
    """The address of `line`'s newest `validated_telemetry` row; LookupError when the line has none."""
    if not store.exists(VALIDATED_TELEMETRY):
        raise LookupError(f"there is no {VALIDATED_TELEMETRY} yet: ingest line {line}'s telemetry first")
    newest = (
        store.scan(VALIDATED_TELEMETRY)
        .filter(pl.col("line") == line)
        .select([*_LEVELS, "ts"])
        .top_k(1, by="ts")
        .collect()
    )
    if newest.height == 0:
        raise LookupError(
            f"{VALIDATED_TELEMETRY} has no row of line {line}: its enterprise, site and area (the "
            "manifest topic) are unknown until its telemetry is ingested"
        )
    row = newest.row(0, named=True)
    return LineAddress(enterprise=row["enterprise"], site=row["site"], area=row["area"], line=line)
