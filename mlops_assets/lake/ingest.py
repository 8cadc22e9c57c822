"""Landing files to bronze for one (day, line) partition, exactly once per landing file (see
`commits.py`). Bronze to silver and quarantine is `silver_ingest.refine_partition`; order of commits
for a file: bronze, then silver, then quarantine, so a run killed anywhere is completed by a rerun.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field

import polars as pl

from mlops_assets.lake.bronze import LandingFileError, bronze_rows
from mlops_assets.lake.commits import commit_files, ingested_files
from mlops_assets.lake.silver_ingest import RefineOutcome, refine_partition
from mlops_assets.lake.store import LakeStore
from mlops_assets.lake.tables import RAW_UNS_CAPTURES
from mlops_assets.landing.zone import LandingZone

__all__ = ["BronzeOutcome", "RefineOutcome", "ingest_landing", "refine_partition"]

log = logging.getLogger(__name__)


@dataclass
class BronzeOutcome:
    ingested: list[str] = field(default_factory=list)
    already_ingested: list[str] = field(default_factory=list)
    unreadable: dict[str, str] = field(default_factory=dict)
    not_landing_files: list[str] = field(default_factory=list)
    rows: int = 0
    versions: list[int] = field(default_factory=list)


def ingest_landing(
    store: LakeStore,
    zone: LandingZone,
    day: dt.date,
    line: str,
    *,
    now: dt.datetime,
    max_rows_per_commit: int = 500_000,
) -> BronzeOutcome:
    """Append to `raw_uns_captures` every landing file of (day, line) it does not hold yet."""
    listing = zone.list(day=day, line=line)
    outcome = BronzeOutcome(not_landing_files=listing.skipped)
    done = ingested_files(store, RAW_UNS_CAPTURES, listing.files)
    outcome.already_ingested = sorted(done)
    pending = [f for f in listing.files if f.file_id not in done]
    frames: list[pl.DataFrame] = []
    ids: list[str] = []
    for file in pending:
        try:
            frames.append(bronze_rows(zone.read(file), file.key, ingested_at=now))
            ids.append(file.file_id)
        except (LandingFileError, OSError, ValueError) as exc:  # pyarrow raises ArrowInvalid (a ValueError)
            outcome.unreadable[file.key.relative_path] = f"{type(exc).__name__}: {exc}"
            log.error("landing file %s is unreadable: %s", file.uri, exc)
            continue
        if sum(f.height for f in frames) >= max_rows_per_commit:
            _flush_bronze(store, frames, ids, outcome)
            frames, ids = [], []
    if ids:
        _flush_bronze(store, frames, ids, outcome)
    return outcome


def _flush_bronze(
    store: LakeStore, frames: list[pl.DataFrame], ids: list[str], outcome: BronzeOutcome
) -> None:
    result = commit_files(
        store, RAW_UNS_CAPTURES, pl.concat(frames), ids, {"mlops.step": "landing_to_bronze"}
    )
    outcome.ingested += result.file_ids
    if result.version is not None:
        outcome.rows += result.rows
        outcome.versions.append(result.version)
