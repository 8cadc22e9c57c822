"""Ingestion in a process of its own (started with spawn: deltalake must not be forked)."""

from __future__ import annotations

import datetime as dt

from edge_agent.contract import load_contract
from mlops_assets.lake import LakeStore
from mlops_assets.lake.ingest import ingest_landing, refine_partition
from mlops_assets.lake.refine import TelemetryRefiner
from mlops_assets.landing import LocalLandingZone


def ingest_partition(lake_root: str, landing_root: str, day: str, line: str, max_rows: int) -> None:
    store = LakeStore(lake_root)
    now = dt.datetime.now(dt.UTC)
    ingest_landing(
        store,
        LocalLandingZone(landing_root),
        dt.date.fromisoformat(day),
        line,
        now=now,
        max_rows_per_commit=max_rows,
    )
    refine_partition(
        store,
        TelemetryRefiner(load_contract()),
        dt.date.fromisoformat(day),
        line,
        now=now,
        max_rows_per_commit=max_rows,
    )
