"""Exactly once per landing file when two writers race: the interleaving made deterministic.

Two runs racing on a partition rarely interleave the bad way on a test machine (see
`test_processes.py`). Here the loser takes its Delta snapshot, a competing writer commits on top of
it, and only then does the loser commit: the window in which duplicates would happen.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections.abc import Sequence
from pathlib import Path

import polars as pl
import pytest
from deltalake import DeltaTable

from mlops_assets.lake import LakeStore, TableRef
from mlops_assets.lake.commits import commit_files

TABLE = TableRef("bronze", "race_test")
DAY = dt.date(2025, 11, 21)
FILE_A = "plant-1/line-1/edge-1/2025-11-21/capture-edge-1-000000000001-000000000003.parquet"
FILE_B = "plant-1/line-1/edge-1/2025-11-21/capture-edge-1-000000000004-000000000006.parquet"


def rows(file_id: str, first: int) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "file_id": [file_id] * 3,
            "capture_seq": [first, first + 1, first + 2],
            "date": [DAY] * 3,
            "line": ["line-1"] * 3,
        }
    )


@dataclasses.dataclass(frozen=True)
class CompetedStore(LakeStore):
    """A real lake where, right after this writer's first snapshot, another writer commits `rival`."""

    rival: pl.DataFrame = dataclasses.field(default_factory=pl.DataFrame)
    snapshots: list[int] = dataclasses.field(default_factory=list)

    def _open_or_create(
        self, table: TableRef, frame: pl.DataFrame, partition_by: Sequence[str] | None
    ) -> DeltaTable:
        snapshot = super()._open_or_create(table, frame, partition_by)
        self.snapshots.append(snapshot.version())
        if len(self.snapshots) == 1:
            other = LakeStore(self.root)  # a second writer with a snapshot of its own
            ids = self.rival["file_id"].unique().to_list()
            won = other.append(table, self.rival, partition_by=partition_by, file_ids=ids)
            assert won.version == snapshot.version() + 1
        return snapshot


@pytest.mark.parametrize(
    ("rival_file", "retries", "stored_by_loser"),
    [(FILE_A, 1, []), (FILE_B, 0, [FILE_A])],
    ids=["same file: refused, retried, skipped", "other file: both commit"],
)
def test_a_competing_commit_between_snapshot_and_commit(
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    rival_file: str,
    retries: int,
    stored_by_loser: list[str],
) -> None:
    root = str(tmp_path)
    store = CompetedStore(root, rival=rows(rival_file, 1 if rival_file == FILE_A else 4))

    with caplog.at_level(logging.WARNING, logger="mlops_assets.lake.commits"):
        result = commit_files(store, TABLE, rows(FILE_A, 1), [FILE_A], {"mlops.step": "test"})

    lost = [r for r in caplog.records if "lost a race" in r.getMessage()]
    assert len(lost) == retries and len(store.snapshots) == retries + 1
    assert result.file_ids == stored_by_loser
    table = pl.read_delta(LakeStore(root).uri(TABLE))  # plain polars
    assert table.group_by("file_id").len().sort("file_id").rows() == sorted({(FILE_A, 3), (rival_file, 3)})
    delta = DeltaTable(LakeStore(root).uri(TABLE))
    assert delta.version() == 1 + len(stored_by_loser)  # created empty, the rival's commit, ours if any
    assert {delta.transaction_version(FILE_A), delta.transaction_version(rival_file)} == {1}
