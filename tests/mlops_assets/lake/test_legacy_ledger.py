"""A lake written before landing files were recorded by path (their bare name was the id) is read
by this version without ingesting anything again."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from edge_agent.contract import Contract
from mlops_assets.lake import QUARANTINED_MESSAGES, RAW_UNS_CAPTURES, VALIDATED_TELEMETRY, LakeStore
from mlops_assets.lake.bronze import bronze_rows
from mlops_assets.lake.commits import commit_files
from mlops_assets.lake.ingest import ingest_landing, refine_partition
from mlops_assets.lake.pending import scan_pending
from mlops_assets.lake.refine import TelemetryRefiner
from tests.mlops_assets.conftest import START_MS, LocalLake, day_of
from tests.mlops_assets.lake.test_ingest import LINE, NOW, assert_reconciles
from tests.synthetic_landing import TopicPayload

TABLES = (RAW_UNS_CAPTURES, VALIDATED_TELEMETRY, QUARANTINED_MESSAGES)


def ingest_as_before_path_ids(store: LakeStore, lake: LocalLake, day: dt.date) -> None:
    """Bronze as the version before path ids wrote it (760bafe `bronze.py`, `zone.py`): rows and Delta
    transaction under `LandingKey.file_id`, the bare file name, one commit per file."""
    for file in lake.zone.list(day=day, line=LINE).files:
        rows = bronze_rows(lake.zone.read(file), file.key, ingested_at=NOW)
        rows = rows.with_columns(pl.lit(file.key.file_id).alias("file_id"))
        commit_files(store, RAW_UNS_CAPTURES, rows, [file.key.file_id], {"mlops.step": "landing_to_bronze"})


def duplicates(store: LakeStore) -> int:
    return store.read(QUARANTINED_MESSAGES).filter(pl.col("error_kind") == "duplicate").height


@pytest.mark.parametrize("old_steps", ["bronze, silver and quarantine", "bronze only"])
def test_files_a_lake_recorded_by_bare_name_are_not_ingested_again(
    lake: LocalLake, contract: Contract, line_messages: list[TopicPayload], old_steps: str
) -> None:
    keys = lake.land(line_messages, per_file=100)
    day = day_of(keys)
    refiner = TelemetryRefiner(contract)
    ingest_as_before_path_ids(lake.store, lake, day)
    if old_steps == "bronze, silver and quarantine":
        # Silver and quarantine take their ids from the bronze rows, so they recorded bare names too.
        refine_partition(lake.store, refiner, day, LINE, now=NOW)
        assert not scan_pending(lake.store, lake.zone, since=None).partitions
    # else the upgrade stopped the old version between its bronze commit and its silver one.
    bronze = lake.store.read(RAW_UNS_CAPTURES)

    outcome = ingest_landing(lake.store, lake.zone, day, LINE, now=NOW)
    refine_partition(lake.store, refiner, day, LINE, now=NOW)

    assert outcome.ingested == [] and outcome.rows == 0
    assert outcome.already_ingested == sorted(k.relative_path for k in keys)
    assert lake.store.read(RAW_UNS_CAPTURES).height == bronze.height == 300
    assert duplicates(lake.store) == 0
    assert_reconciles(lake.store, day, files=3)
    assert not scan_pending(lake.store, lake.zone, since=None).partitions  # the sensor asks for nothing

    # A file landing after the upgrade is recorded by its path, next to the old ones.
    (new,) = lake.land(line_messages[:20], per_file=20, first_seq=500, received_start_ms=START_MS + 300_000)
    assert scan_pending(lake.store, lake.zone, since=None).partitions[0].file_ids == (new.relative_path,)
    outcome = ingest_landing(lake.store, lake.zone, day, LINE, now=NOW)
    refine_partition(lake.store, refiner, day, LINE, now=NOW)

    assert outcome.ingested == [new.relative_path] and outcome.rows == 20
    assert all(lake.store.committed_file_ids(t, [new.relative_path]) for t in TABLES)
    assert duplicates(lake.store) == 20  # its batches are the old files' first 20: real duplicates
    assert not scan_pending(lake.store, lake.zone, since=None).partitions


def test_a_bare_name_counts_only_in_its_own_partition(
    lake: LocalLake, contract: Contract, line_messages: list[TopicPayload]
) -> None:
    """A bare name says nothing about the day: an agent re-imaged the next day restarts its sequence and
    lands a file of the same name, which is new data and must be ingested."""
    keys = lake.land(line_messages, per_file=100)
    day = day_of(keys)
    ingest_as_before_path_ids(lake.store, lake, day)
    refine_partition(lake.store, TelemetryRefiner(contract), day, LINE, now=NOW)
    (again,) = lake.land(line_messages[:100], per_file=100, received_start_ms=START_MS + 86_400_000)
    assert again.file_id == keys[0].file_id and again.day == day + dt.timedelta(days=1)
    pending = scan_pending(lake.store, lake.zone, since=None).partitions
    assert [p.file_ids for p in pending] == [(again.relative_path,)]
    outcome = ingest_landing(lake.store, lake.zone, again.day, LINE, now=NOW)
    assert outcome.ingested == [again.relative_path] and outcome.rows == 100
