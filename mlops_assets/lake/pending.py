"""Which landing files the lake has not finished ingesting, grouped by (day, line) partition.

A file is finished when `quarantined_messages` (the last of the three commits: bronze, silver,
quarantine) records its id (or, on a lake written before path ids, its bare name: see
`commits.ingested_files`). The lake itself is the ledger, so nothing is "seen but lost" when a run
dies: its files stay pending until a run finishes them.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import defaultdict
from dataclasses import dataclass

from mlops_assets.lake.commits import ingested_files
from mlops_assets.lake.store import LakeStore
from mlops_assets.lake.tables import QUARANTINED_MESSAGES
from mlops_assets.landing.zone import LandingZone

__all__ = ["PendingPartition", "PendingScan", "scan_pending"]


@dataclass(frozen=True)
class PendingPartition:
    day: dt.date
    line: str
    file_ids: tuple[str, ...]

    @property
    def pending_set(self) -> str:
        """Names this set of pending files: the same files give the same key (`day|line|digest`)."""
        digest = hashlib.sha1("\n".join(self.file_ids).encode()).hexdigest()[:16]
        return f"{self.day.isoformat()}|{self.line}|{digest}"


@dataclass(frozen=True)
class PendingScan:
    partitions: list[PendingPartition]
    lines: list[str]
    """Every line with landing files since the scan's first day."""
    newest_day: dt.date | None
    """The newest day with landing files since the scan's first day."""
    skipped: list[str]
    """Paths that are not landing files."""


def scan_pending(store: LakeStore, zone: LandingZone, *, since: dt.date | None) -> PendingScan:
    listing = zone.list(since=since)
    done = ingested_files(store, QUARANTINED_MESSAGES, listing.files)
    grouped: dict[tuple[dt.date, str], list[str]] = defaultdict(list)
    for file in listing.files:
        if file.file_id not in done:
            grouped[(file.key.day, file.key.line)].append(file.file_id)
    partitions = [
        PendingPartition(day, line, tuple(sorted(ids))) for (day, line), ids in sorted(grouped.items())
    ]
    newest = max((f.key.day for f in listing.files), default=None)
    return PendingScan(partitions, sorted({f.key.line for f in listing.files}), newest, listing.skipped)
