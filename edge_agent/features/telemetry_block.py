"""One telemetry batch as numbers: what validation decodes once and scoring reads, and its wire form.

A `TelemetryBlock` holds a valid `weldTelemetry` payload's samples as float64 arrays (one per signal), with the fields the segmenter needs. `encode_block`/`decode_block` carry it
between processes as plain bytes (no pickling), so a batch parsed by the validation worker reaches the
scoring worker without being parsed again.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["TelemetryBlock", "block_from_payload", "decode_block", "encode_block"]

_HEAD = struct.Struct("<qqdIHH")  # seq, timestamp_ms, sample_interval_ms, n_samples, n_signals, weld_id bytes
_NAME = struct.Struct("<B")


@dataclass(frozen=True, slots=True)
class TelemetryBlock:
    seq: int
    timestamp_ms: int
    sample_interval_ms: float
    weld_id: str | None
    signals: Mapping[str, np.ndarray]
    """float64 arrays of `n_samples` values, in the payload's order (the contract allows numbers only)."""
    n_samples: int

    def sample_ms(self) -> np.ndarray:
        """Each sample's time in whole milliseconds, exactly as the lake computes `ts` (microseconds,
        rounded, then truncated to milliseconds), so that edge and lake cut segments alike."""
        offset_us = np.round(np.arange(self.n_samples, dtype=np.float64) * self.sample_interval_ms * 1000.0)
        return (self.timestamp_ms * 1000 + offset_us.astype(np.int64)) // 1000

    @property
    def last_ms(self) -> int:
        offset_us = round((self.n_samples - 1) * self.sample_interval_ms * 1000.0)
        return (self.timestamp_ms * 1000 + offset_us) // 1000


def block_from_payload(data: Mapping[str, Any]) -> TelemetryBlock:
    """The block of a payload the contract accepted (`weldTelemetry`); KeyError/TypeError otherwise."""
    signals = {str(name): np.asarray(values, dtype=np.float64) for name, values in data["signals"].items()}
    weld_id = data.get("weld_id")
    return TelemetryBlock(
        seq=int(data["seq"]),
        timestamp_ms=int(data["timestamp_ms"]),
        sample_interval_ms=float(data["sample_interval_ms"]),
        weld_id=str(weld_id) if weld_id else None,
        signals=signals,
        n_samples=int(data["n_samples"]),
    )


def encode_block(block: TelemetryBlock) -> bytes:
    weld = (block.weld_id or "").encode()
    parts = [
        _HEAD.pack(
            block.seq,
            block.timestamp_ms,
            block.sample_interval_ms,
            block.n_samples,
            len(block.signals),
            len(weld),
        ),
        weld,
    ]
    for name in block.signals:
        raw = name.encode()
        parts.append(_NAME.pack(len(raw)))
        parts.append(raw)
    if block.signals:
        parts.append(np.ascontiguousarray(np.stack(list(block.signals.values())), dtype="<f8").tobytes())
    return b"".join(parts)


def decode_block(raw: bytes | memoryview) -> TelemetryBlock:
    seq, timestamp_ms, interval, n_samples, n_signals, weld_len = _HEAD.unpack_from(raw, 0)
    pos = _HEAD.size
    weld_id = bytes(raw[pos : pos + weld_len]).decode() or None
    pos += weld_len
    names = []
    for _ in range(n_signals):
        (length,) = _NAME.unpack_from(raw, pos)
        pos += _NAME.size
        names.append(bytes(raw[pos : pos + length]).decode())
        pos += length
    matrix = np.frombuffer(raw, dtype="<f8", count=n_signals * n_samples, offset=pos).reshape(
        n_signals, n_samples
    )
    return TelemetryBlock(
        seq=seq,
        timestamp_ms=timestamp_ms,
        sample_interval_ms=interval,
        weld_id=weld_id,
        signals={name: matrix[i] for i, name in enumerate(names)},
        n_samples=n_samples,
    )
