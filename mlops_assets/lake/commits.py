"""Commit rows to a lake table exactly once per landing file: every commit records the ids of the files
it ingested as Delta application transactions (`txn`) in the same atomic commit as the rows, so a file
is in a table entirely or not at all, and of two writers racing on the same file only one commits it."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

import polars as pl
from deltalake.exceptions import CommitFailedError

from mlops_assets.lake.store import LakeStore, WriteResult
from mlops_assets.lake.tables import PARTITION_COLUMNS, RAW_UNS_CAPTURES, TableRef

if TYPE_CHECKING:
    from mlops_assets.landing.zone import LandingFile

__all__ = ["commit_files", "ingested_files"]

log = logging.getLogger(__name__)
ATTEMPTS = 5


def commit_files(
    store: LakeStore, table: TableRef, frame: pl.DataFrame, file_ids: Sequence[str], metadata: dict[str, str]
) -> WriteResult:
    """Append `frame` recording `file_ids`; the result says which file ids this commit recorded."""
    for attempt in range(1, ATTEMPTS + 1):
        try:
            return store.append(
                table, frame, partition_by=PARTITION_COLUMNS, file_ids=file_ids, metadata=metadata
            )
        except (
            CommitFailedError
        ) as exc:  # lost a race (same files, or a schema change): retry on the new snapshot
            log.warning("commit to %s lost a race (attempt %d of %d): %s", table, attempt, ATTEMPTS, exc)
    raise RuntimeError(f"could not commit {len(file_ids)} files to {table} after {ATTEMPTS} attempts")


def ingested_files(store: LakeStore, table: TableRef, files: Sequence[LandingFile]) -> set[str]:
    """The `file_id`s of those `files` that `table` has recorded, under their path id or their legacy id.

    The id of a landing file changed from its bare name to its path under the landing root. A lake
    written before that records only bare names: read by path id alone, every file it already holds
    would look new, be appended again, and silver would quarantine all its batches as duplicates. So a
    file also counts as recorded when its bare name is, and only a bare name (no '/') is ever looked
    up that way: every id recorded since contains '/', so a lake written by this version is read by
    path id only, exactly as before.

    A bare name says nothing about the day, line or plant, and the same name comes back (an agent
    re-imaged with its sequence restarted, a second plant's agent of the same name). So a legacy match
    counts only when bronze holds rows under that bare name in the file's own (day, line) partition,
    from its site and agent; otherwise the file is new and is ingested. Only lakes with legacy ids pay
    for that read.
    """
    legacy = {f.file_id: f.legacy_file_id for f in files if "/" not in f.legacy_file_id}
    recorded = store.committed_file_ids(table, [*(f.file_id for f in files), *legacy.values()])
    done = {f.file_id for f in files if f.file_id in recorded}
    candidates = [f for f in files if f.file_id not in done and legacy.get(f.file_id) in recorded]
    return done | _legacy_rows_in_bronze(store, candidates) if candidates else done


def _legacy_rows_in_bronze(store: LakeStore, files: Sequence[LandingFile]) -> set[str]:
    """Those of `files` whose bare name has bronze rows in the file's own (day, line) partition, from
    the same site and agent (two plants' agents of the same name write files of the same name)."""
    names = sorted({f.legacy_file_id for f in files})
    columns = ["file_id", "date", "line", "site", "agent"]
    found = store.read(
        RAW_UNS_CAPTURES,
        dates={f.key.day for f in files},
        columns=columns,
        where=pl.col("file_id").is_in(names),
    ).unique()
    held = {tuple(row) for row in found.iter_rows()}
    return {
        f.file_id for f in files if (f.legacy_file_id, f.key.day, f.key.line, f.key.site, f.key.agent) in held
    }
