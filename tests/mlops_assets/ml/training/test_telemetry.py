"""Reading a line's silver telemetry for training (real Delta tables): a pinned version whose rows are
exactly the ones returned, and the latest days only."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl
import pytest

from edge_agent.domain import LineAddress
from edge_agent.simulator import SyntheticWeldGenerator
from mlops_assets.lake import VALIDATED_TELEMETRY, LakeStore, TableRef
from mlops_assets.ml.evaluation.silver_welds import silver_rows, write_silver
from mlops_assets.ml.training.telemetry import read_line_telemetry, recent_days, telemetry_slice
from tests.mlops_assets.defs.training.chain import START_MS

LINE = "line-1"
DAY_MS = 86_400_000


def _write(store: LakeStore, cell: str, start_ms: int, welds: int = 3) -> None:
    generator = SyntheticWeldGenerator(cell=cell, seed=1, sample_rate_hz=200.0, start_ms=start_ms)
    write_silver(
        store, silver_rows([generator.next_weld() for _ in range(welds)], cell, LineAddress(line=LINE))
    )


@dataclass(frozen=True)
class _CommitWhileVersionIsRead(LakeStore):
    """A lake where another writer commits to the table just as its version is asked for."""

    pending: list[Callable[[], None]] = field(default_factory=list)

    def version(self, table: TableRef) -> int | None:
        while self.pending:
            self.pending.pop()()
        return super().version(table)


def test_the_version_recorded_is_the_version_of_the_rows_read(tmp_path: Path) -> None:
    root = str(tmp_path / "lake")
    store = LakeStore(root)
    _write(store, "cell-01", START_MS)
    first = store.version(VALIDATED_TELEMETRY)
    racing = _CommitWhileVersionIsRead(root, pending=[lambda: _write(store, "cell-02", START_MS)])

    found = telemetry_slice(racing, LINE)
    # Whichever commits land around the read, the rows are those of the version it reports.
    assert found.version == store.version(VALIDATED_TELEMETRY) == (first or 0) + 1
    assert found.frame.equals(read_line_telemetry(store, LINE, found.version))
    assert set(found.frame["cell"].unique()) == {"cell-01", "cell-02"}

    # A pinned version reads the rows of that version, not the newer ones.
    assert first is not None
    pinned = telemetry_slice(store, LINE, version=first)
    assert pinned.version == first and set(pinned.frame["cell"].unique()) == {"cell-01"}


def test_only_the_latest_days_are_read(tmp_path: Path) -> None:
    store = LakeStore(str(tmp_path / "lake"))
    with pytest.raises(LookupError, match="ingest telemetry first"):
        telemetry_slice(store, LINE)
    _write(store, "cell-01", START_MS)
    _write(store, "cell-01", START_MS + 2 * DAY_MS)
    everything = telemetry_slice(store, LINE)
    first, last = everything.days[0], everything.days[-1]
    assert last - first == dt.timedelta(days=2) and len(everything.days) == 2
    assert telemetry_slice(store, LINE, keep_days=3).days == [first, last]  # 3 calendar days: both
    latest = telemetry_slice(store, LINE, keep_days=2)  # the last day and the empty one before it
    assert latest.days == [last]
    assert latest.frame.height < everything.frame.height
    assert (latest.frame["ts"].dt.date() == last).all()
    assert set(everything.frame.filter(pl.col("ts").dt.date() == last)["seq"]) == set(latest.frame["seq"])
    with pytest.raises(LookupError, match="has no rows for line line-9"):
        telemetry_slice(store, "line-9")
    assert recent_days([], 5) == [] and recent_days([first, last], 0) == [first, last]
