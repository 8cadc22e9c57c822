"""Welds -> rows of `validated_telemetry` (the silver schema), for the evaluation scripts and tests that
need a lake without running the edge agent and ingestion. The same batching as the simulator
(`batch_weld`), so seq and sample_index are what ingestion would have written."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

import numpy as np
import polars as pl

from edge_agent.contract import load_contract
from edge_agent.domain import LineAddress, Weld, batch_weld
from mlops_assets.lake import SILVER_FIXED_SCHEMA, VALIDATED_TELEMETRY, LakeStore, WriteResult

__all__ = ["silver_rows", "write_silver"]


def silver_rows(
    welds: Iterable[Weld],
    cell: str,
    address: LineAddress | None = None,
    batch_size: int = 100,
    first_seq: int = 0,
) -> pl.DataFrame:
    address = address or LineAddress()
    parts = []
    seq = first_seq
    now = dt.datetime.now(dt.UTC)
    version = load_contract().version  # the rows say which contract checked them, as ingestion does
    for weld in welds:
        for batch in batch_weld(weld, batch_size, seq):
            n = batch.payload["n_samples"]
            ts = np.int64(batch.timestamp_ms) * 1000 + np.round(
                np.arange(n) * weld.sample_interval_ms * 1000
            ).astype(np.int64)
            columns = {
                "enterprise": [address.enterprise] * n,
                "site": [address.site] * n,
                "area": [address.area] * n,
                "line": [address.line] * n,
                "cell": [cell] * n,
                "seq": [batch.seq] * n,
                "sample_index": np.arange(n, dtype=np.int32),
                "ts": ts,
                "sample_interval_ms": [weld.sample_interval_ms] * n,
                "weld_id": [weld.weld_id] * n,
                "recipe": [weld.recipe] * n,
                "quality": ["GOOD"] * n,
                "file_id": [f"test-{cell}-{batch.seq}"] * n,
                "contract_version": [version] * n,
                "received_at": [now] * n,
                **{
                    name: np.asarray(values, dtype=np.float64)
                    for name, values in batch.payload["signals"].items()
                },
            }
            parts.append(pl.DataFrame(columns).with_columns(pl.col("ts").cast(pl.Datetime("us", "UTC"))))
            seq = batch.seq + 1
    frame = pl.concat(parts, how="diagonal_relaxed")
    frame = frame.with_columns(pl.col("ts").dt.date().alias("date"))
    fixed = [pl.col(c).cast(t) for c, t in SILVER_FIXED_SCHEMA.items()]
    signals = [c for c in frame.columns if c not in SILVER_FIXED_SCHEMA]
    return frame.select([*fixed, *[pl.col(s).cast(pl.Float64) for s in signals]])


def write_silver(store: LakeStore, frame: pl.DataFrame) -> WriteResult:
    return store.append(VALIDATED_TELEMETRY, frame, partition_by=["date", "line"])
