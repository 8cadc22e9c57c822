"""Real processes: one killed with SIGKILL in the middle of ingesting, and concurrent writers."""

from __future__ import annotations

import multiprocessing
import os
import signal

import polars as pl

from edge_agent.domain import LineAddress
from edge_agent.simulator import LineConfig
from mlops_assets.lake import QUARANTINED_MESSAGES, VALIDATED_TELEMETRY
from tests.helpers import wait_until
from tests.mlops_assets.conftest import START_MS, LocalLake, day_of
from tests.mlops_assets.lake.test_ingest import assert_reconciles
from tests.mlops_assets.lake.workers import ingest_partition
from tests.synthetic_landing import simulator_messages

SPAWN = multiprocessing.get_context("spawn")


def _start(lake: LocalLake, day: str, line: str, max_rows: int) -> multiprocessing.process.BaseProcess:
    process = SPAWN.Process(
        target=ingest_partition,
        args=(lake.store.root, str(lake.landing_root), day, line, max_rows),
        daemon=True,
    )
    process.start()
    return process


def test_sigkill_mid_ingestion_then_rerun_adds_no_duplicates(lake: LocalLake) -> None:
    messages = simulator_messages(LineConfig(start_ms=START_MS, seed=11), 1500)
    day = day_of(lake.land(messages, per_file=25))  # 60 files
    worker = _start(lake, day.isoformat(), "line-1", max_rows=50)  # about 90 commits in all

    # Kill it once silver has commits but before it is done: a real, uncontrolled death.
    wait_until(lambda: (lake.store.version(VALIDATED_TELEMETRY) or 0) >= 2, 120, "a few silver commits")
    assert worker.is_alive(), "the worker finished before it could be killed"
    os.kill(worker.pid or 0, signal.SIGKILL)
    worker.join(30)
    assert worker.exitcode == -signal.SIGKILL
    partial = lake.store.read(VALIDATED_TELEMETRY)["file_id"].n_unique()
    assert partial < 60

    ingest_partition(lake.store.root, str(lake.landing_root), day.isoformat(), "line-1", max_rows=50)

    table = assert_reconciles(lake.store, day, files=60)
    assert table["bronze"].sum() == 1500 and table["quarantined"].sum() == 0
    silver = lake.store.read(VALIDATED_TELEMETRY)
    assert silver.select("cell", "seq", "sample_index").is_unique().all()
    assert silver.select("cell", "seq").n_unique() == 1500


def test_two_lines_ingested_at_the_same_time_both_commit(lake: LocalLake) -> None:
    days = set()
    for line in ("line-1", "line-2"):
        config = LineConfig(address=LineAddress(line=line), start_ms=START_MS, seed=3)
        days.add(
            day_of(lake.land(simulator_messages(config, 400), line=line, agent=f"edge-{line}", per_file=20))
        )
    (day,) = days
    workers = [_start(lake, day.isoformat(), line, max_rows=40) for line in ("line-1", "line-2")]
    for worker in workers:
        worker.join(180)
        assert worker.exitcode == 0

    silver = lake.store.read(VALIDATED_TELEMETRY)
    assert silver.group_by("line").agg(pl.struct("cell", "seq").n_unique().alias("batches")).sort(
        "line"
    ).rows() == [
        ("line-1", 400),
        ("line-2", 400),
    ]
    assert silver.select("line", "cell", "seq", "sample_index").is_unique().all()


def test_two_runs_racing_on_the_same_files_store_them_once(lake: LocalLake) -> None:
    day = day_of(lake.land(simulator_messages(LineConfig(start_ms=START_MS, seed=5), 400), per_file=20))
    workers = [_start(lake, day.isoformat(), "line-1", max_rows=40) for _ in range(2)]
    for worker in workers:
        worker.join(180)
        assert worker.exitcode == 0

    table = assert_reconciles(lake.store, day, files=20)
    assert table["bronze"].sum() == 400
    assert lake.store.read(QUARANTINED_MESSAGES).height == 0
