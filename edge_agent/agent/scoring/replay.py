"""Captured records after a scoring checkpoint, read back from the spool (sealed files and segments).

After a crash the records captured since the last checkpoint are still in the spool: the upload fence
kept their sealed files, and unsealed segments are where the writer left them. A segment sealed just
before the crash may exist as both; records are kept once, by capture sequence.
"""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path
from typing import NamedTuple

import pyarrow.parquet as pq

from edge_agent.agent.spool.sealed_backlog import SealedBacklog
from edge_agent.agent.spool.segment_format import scan
from edge_agent.agent.spool.segments import list_segments

__all__ = ["ReplayRecord", "captured_after"]


class ReplayRecord(NamedTuple):
    seq: int
    topic: str
    channel: str
    payload: bytes


def _from_sealed(backlog: SealedBacklog, after_seq: int, channels: Collection[str]) -> list[ReplayRecord]:
    found = []
    for file in backlog.pending("capture"):
        if file.key.last_seq <= after_seq:
            continue
        table = pq.read_table(file.path, columns=["capture_seq", "topic", "channel", "payload"])
        for seq, topic, channel, payload in zip(
            *(table.column(c).to_pylist() for c in ("capture_seq", "topic", "channel", "payload")),
            strict=True,
        ):
            if seq > after_seq and channel in channels:
                found.append(ReplayRecord(seq, topic, channel, payload))
    return found


def _from_segments(segments: Path, after_seq: int, channels: Collection[str]) -> list[ReplayRecord]:
    found = []
    for _, path in list_segments(segments, "capture"):
        for record in scan(path.read_bytes()).records:
            if record.seq > after_seq and record.channel in channels:
                found.append(
                    ReplayRecord(record.seq, record.topic, str(record.channel), bytes(record.payload))
                )
    return found


def captured_after(
    backlog: SealedBacklog, segments: Path, after_seq: int, channels: Collection[str]
) -> list[ReplayRecord]:
    """The capture records of `channels` with a sequence above `after_seq`, once each, in order."""
    unique = {r.seq: r for r in _from_sealed(backlog, after_seq, channels)}
    unique.update((r.seq, r) for r in _from_segments(segments, after_seq, channels))
    return [unique[seq] for seq in sorted(unique)]
