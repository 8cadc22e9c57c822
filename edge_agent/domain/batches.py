"""Welds cut into telemetry messages that follow the contract (`weldTelemetry`), and the record of a sent one."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from edge_agent.domain.welds import Weld

__all__ = ["SentBatch", "TelemetryBatch", "batch_weld"]


@dataclass(frozen=True)
class TelemetryBatch:
    """One message's worth of a weld, with the ground truth that does not travel in the payload."""

    seq: int
    timestamp_ms: int
    payload: dict[str, Any]
    label: str | None
    drifted: bool


@dataclass(frozen=True, slots=True)
class SentBatch:
    """Ground truth of one published message."""

    cell: str
    topic: str
    seq: int
    weld_id: str
    label: str | None
    drifted: bool


def batch_weld(weld: Weld, batch_size: int, first_seq: int, decimals: int = 3) -> Iterator[TelemetryBatch]:
    """Split a weld into batches of at most `batch_size` samples; the last may be shorter."""
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    rounded = {name: np.round(values, decimals) for name, values in weld.signals.items()}
    seq = first_seq
    for start in range(0, weld.n_samples, batch_size):
        stop = min(start + batch_size, weld.n_samples)
        timestamp_ms = weld.start_ms + round(start * weld.sample_interval_ms)
        payload: dict[str, Any] = {
            "seq": seq,
            "timestamp_ms": timestamp_ms,
            "sample_interval_ms": weld.sample_interval_ms,
            "n_samples": stop - start,
            "weld_id": weld.weld_id,
            "quality": "GOOD",
            "signals": {name: values[start:stop].tolist() for name, values in rounded.items()},
        }
        if weld.recipe:
            payload["recipe"] = weld.recipe
        yield TelemetryBatch(seq, timestamp_ms, payload, weld.label, weld.drifted)
        seq += 1
