"""Commit rows to a lake table exactly once per landing file.

Every commit records the ids of the landing files it ingested as Delta application transactions
(`txn` actions) in the same atomic commit as the rows. So a file is in a table entirely or not at
all, re-ingesting it adds nothing, and two writers racing on the same file cannot both commit it:
Delta refuses the second commit, which is then retried on the new snapshot (that drops the file).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import polars as pl
from deltalake.exceptions import CommitFailedError

from mlops_assets.lake.store import LakeStore, WriteResult
from mlops_assets.lake.tables import PARTITION_COLUMNS, TableRef

__all__ = ["commit_files"]

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
