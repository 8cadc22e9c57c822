"""Which landing files the lake has not finished ingesting, grouped by (day, line) partition.

A capture or quarantine file is finished when `quarantined_messages` (the last of the three commits:
bronze, silver, quarantine) records its id (or, on a lake written before path ids, its bare name: see
`commits.ingested_files`); a drift report when `edge_drift_reports` records its id. The lake itself is
the ledger, so nothing is "seen but lost" when a run dies: its files stay pending until a run finishes
them.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

from mlops_assets.lake.commits import ingested_files
from mlops_assets.lake.store import LakeStore
from mlops_assets.lake.tables import EDGE_DRIFT_REPORTS, QUARANTINED_MESSAGES
from mlops_assets.landing.zone import LandingFile, LandingZone

__all__ = ["PendingKind", "PendingPartition", "PendingScan", "scan_pending"]

PendingKind = Literal["telemetry", "drift"]


@dataclass(frozen=True)
class PendingPartition:
    day: dt.date
    line: str
    file_ids: tuple[str, ...]
    kind: PendingKind = "telemetry"
    """telemetry: captured messages for `ingestion_job`; drift: drift reports for `drift_reports_job`."""

    @property
    def pending_set(self) -> str:
        """Names this set of pending files: the same files give the same key (`day|line|digest`, with
        `|drift` after the line for drift reports)."""
        digest = hashlib.sha1("\n".join(self.file_ids).encode()).hexdigest()[:16]
        kind = "|drift" if self.kind == "drift" else ""
        return f"{self.day.isoformat()}|{self.line}{kind}|{digest}"


@dataclass(frozen=True)
class PendingScan:
    partitions: list[PendingPartition]
    """Captured messages to ingest (kind telemetry)."""
    lines: list[str]
    """Every line with landing files since the scan's first day."""
    newest_day: dt.date | None
    """The newest day with landing files since the scan's first day."""
    skipped: list[str]
    """Paths that are not landing files."""
    drift_partitions: list[PendingPartition] = field(default_factory=list)
    """Drift reports to ingest (kind drift)."""


def _grouped(files: Iterable[LandingFile], done: set[str], kind: PendingKind) -> list[PendingPartition]:
    grouped: dict[tuple[dt.date, str], list[str]] = defaultdict(list)
    for file in files:
        if file.file_id not in done:
            grouped[(file.key.day, file.key.line)].append(file.file_id)
    return [
        PendingPartition(day, line, tuple(sorted(ids)), kind) for (day, line), ids in sorted(grouped.items())
    ]


def scan_pending(store: LakeStore, zone: LandingZone, *, since: dt.date | None) -> PendingScan:
    listing = zone.list(since=since)
    done = ingested_files(store, QUARANTINED_MESSAGES, listing.files)
    # Drift reports came after path ids: no lake recorded one by its bare name.
    reports_done = store.committed_file_ids(EDGE_DRIFT_REPORTS, [f.file_id for f in listing.drift_files])
    every = [*listing.files, *listing.drift_files]
    return PendingScan(
        partitions=_grouped(listing.files, done, "telemetry"),
        lines=sorted({f.key.line for f in every}),
        newest_day=max((f.key.day for f in every), default=None),
        skipped=listing.skipped,
        drift_partitions=_grouped(listing.drift_files, reports_done, "drift"),
    )
