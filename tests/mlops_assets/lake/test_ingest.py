"""Landing files to bronze, silver and quarantine on a real Delta lake: nothing lost, nothing twice."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

import orjson
import polars as pl
import pytest
from deltalake import DeltaTable

from edge_agent.contract import Contract, ContractValidator
from edge_agent.domain import LineAddress
from edge_agent.simulator import LineConfig
from mlops_assets.lake import (
    QUARANTINED_MESSAGES,
    RAW_UNS_CAPTURES,
    SILVER_FIXED_SCHEMA,
    VALIDATED_TELEMETRY,
    LakeStore,
    TableRef,
    WriteResult,
)
from mlops_assets.lake.ingest import RefineOutcome, ingest_landing, refine_partition
from mlops_assets.lake.pending import scan_pending
from mlops_assets.lake.refine import TelemetryRefiner
from mlops_assets.resources import LakehouseResource
from tests.mlops_assets.conftest import START_MS, LocalLake, day_of
from tests.synthetic_landing import TopicPayload, simulator_messages

NOW = dt.datetime(2025, 11, 21, 12, tzinfo=dt.UTC)
LINE = "line-1"


def ingest(
    store: LakeStore, lake: LocalLake, contract: Contract, day: dt.date, line: str = LINE
) -> RefineOutcome:
    ingest_landing(store, lake.zone, day, line, now=NOW, max_rows_per_commit=150)
    return refine_partition(store, TelemetryRefiner(contract), day, line, now=NOW, max_rows_per_commit=150)


def reconciliation(store: LakeStore, day: dt.date) -> pl.DataFrame:
    """Per landing file, read back from the tables: bronze rows, silver batches, quarantined rows."""
    bronze = store.read(RAW_UNS_CAPTURES, line=LINE, dates=[day], columns=["file_id", "channel"])
    other = (
        bronze.filter(pl.col("channel") == "modelManifest").group_by("file_id").agg(pl.len().alias("other"))
    )
    silver = (
        store.read(VALIDATED_TELEMETRY, line=LINE, columns=["file_id", "cell", "seq"])
        .unique()
        .group_by("file_id")
        .agg(pl.len().alias("silver_batches"))
    )
    quarantined = (
        store.read(QUARANTINED_MESSAGES, line=LINE, dates=[day], columns=["file_id"])
        .group_by("file_id")
        .agg(pl.len().alias("quarantined"))
    )
    return (
        bronze.group_by("file_id")
        .agg(pl.len().alias("bronze"))
        .join(silver, on="file_id", how="left")
        .join(quarantined, on="file_id", how="left")
        .join(other, on="file_id", how="left")
        .fill_null(0)
        .sort("file_id")
    )


def assert_reconciles(store: LakeStore, day: dt.date, files: int) -> pl.DataFrame:
    table = reconciliation(store, day)
    assert table.height == files
    unbalanced = table.filter(
        pl.col("bronze") != pl.col("silver_batches") + pl.col("quarantined") + pl.col("other")
    )
    assert unbalanced.height == 0, unbalanced
    return table


def test_counts_reconcile_per_file_and_plain_readers_see_the_tables(
    lake: LocalLake, contract: Contract, line_messages: list[TopicPayload]
) -> None:
    messages = list(line_messages)
    messages[3] = TopicPayload(messages[3].topic, b"not json")
    messages[150] = TopicPayload(messages[150].topic, messages[150].payload.replace(b'"GOOD"', b'"SUPERB"'))
    manifest = contract.channel("modelManifest").messages["modelManifest"].examples[0].payload
    messages.append(TopicPayload("acme/plant-1/body-shop/line-1/_model/manifest", orjson.dumps(manifest)))
    keys = lake.land(messages, per_file=100)
    day = day_of(keys)

    ingest(lake.store, lake, contract, day)

    table = assert_reconciles(lake.store, day, files=4)
    assert table["bronze"].sum() == 301 and table["quarantined"].sum() == 2 and table["other"].sum() == 1
    silver = pl.read_delta(lake.store.uri(VALIDATED_TELEMETRY))  # plain polars, no project code
    assert (
        silver.height
        == sum(len(orjson.loads(m.payload)["signals"]["current_a"]) for m in line_messages) - 200
    )
    assert dict(silver.select(list(SILVER_FIXED_SCHEMA)).schema) == SILVER_FIXED_SCHEMA
    assert (
        silver.group_by("enterprise", "site", "area", "line", "cell", "seq", "sample_index")
        .len()["len"]
        .max()
        == 1
    )
    delta = DeltaTable(lake.store.uri(RAW_UNS_CAPTURES))  # plain deltalake
    assert delta.metadata().partition_columns == ["date", "line"]
    assert delta.to_pyarrow_table().num_rows == 301
    refused = pl.read_delta(lake.store.uri(QUARANTINED_MESSAGES)).sort("capture_seq")
    assert refused.select("stage", "error_kind", "error_path").rows() == [
        ("lake", "not_json", "$"),
        ("lake", "schema", "$.quality"),
    ]
    assert "SUPERB" in refused["error_reason"][1] and refused["payload"][0] == b"not json"


def test_reingesting_adds_nothing(
    lake: LocalLake, contract: Contract, line_messages: list[TopicPayload]
) -> None:
    day = day_of(lake.land(line_messages, per_file=100))
    ingest(lake.store, lake, contract, day)
    versions = {
        t: lake.store.version(t) for t in (RAW_UNS_CAPTURES, VALIDATED_TELEMETRY, QUARANTINED_MESSAGES)
    }
    rows = {t: lake.store.read(t).height for t in versions}

    ingest(lake.store, lake, contract, day)

    assert {t: lake.store.version(t) for t in versions} == versions  # not even an empty commit
    assert {t: lake.store.read(t).height for t in versions} == rows


@dataclasses.dataclass(frozen=True)
class CrashAfter(LakeStore):
    """A real lake whose process dies right after committing to `table` (the next commit never happens)."""

    table: TableRef = VALIDATED_TELEMETRY

    def append(self, table: TableRef, frame: pl.DataFrame, **kwargs: Any) -> WriteResult:
        result = super().append(table, frame, **kwargs)
        if table == self.table:
            raise SystemExit(f"killed after committing to {table}")
        return result


@pytest.mark.parametrize(
    "crash_after",
    [RAW_UNS_CAPTURES, VALIDATED_TELEMETRY, QUARANTINED_MESSAGES],
    ids=["bronze", "silver", "quarantine"],
)
def test_a_run_dying_between_commits_is_completed_by_a_rerun(
    lake: LocalLake, contract: Contract, line_messages: list[TopicPayload], crash_after: TableRef
) -> None:
    messages = list(line_messages)
    messages[40] = messages[10]  # a duplicate batch, to check that duplicates survive the crash too
    day = day_of(lake.land(messages, per_file=100))
    crashing = CrashAfter(lake.store.root, table=crash_after)

    with pytest.raises(SystemExit):
        ingest(crashing, lake, contract, day)
    rerun = ingest(lake.store, lake, contract, day)

    table = assert_reconciles(lake.store, day, files=3)
    assert table["bronze"].sum() == 300 and table["quarantined"].sum() == 1
    duplicate = lake.store.read(QUARANTINED_MESSAGES)
    assert duplicate["error_kind"].to_list() == ["duplicate"]
    # What the rerun reports per file (the run's reconciliation metadata) is what the tables hold,
    # also for a file whose silver commit landed before the crash.
    reported = rerun.reconciliation.rename({"bronze_rows": "bronze", "other_channel": "other"})
    assert reported.height == len(rerun.files) > 0
    assert (
        reported.sort("file_id").rows()
        == table.filter(pl.col("file_id").is_in(rerun.files)).select(reported.columns).rows()
    )


def test_a_batch_delivered_twice_in_different_files_is_stored_once(
    lake: LocalLake, contract: Contract, line_messages: list[TopicPayload]
) -> None:
    first = lake.land(line_messages[:100], per_file=100)
    day = day_of(first)
    ingest(lake.store, lake, contract, day)
    # The same 50 batches again, in a later file (a redelivery after a reconnect), in a later run.
    lake.land(line_messages[50:100], per_file=100, first_seq=1000, received_start_ms=1763740800000 + 120_000)

    ingest(lake.store, lake, contract, day)

    assert_reconciles(lake.store, day, files=2)
    quarantined = lake.store.read(QUARANTINED_MESSAGES)
    assert quarantined.height == 50 and set(quarantined["error_kind"]) == {"duplicate"}
    assert quarantined["error_reason"][0].endswith(first[0].file_id)


def test_a_batch_repeated_inside_one_file_is_stored_once(
    lake: LocalLake, contract: Contract, line_messages: list[TopicPayload]
) -> None:
    messages = list(line_messages[:20])
    messages[15] = messages[5]
    day = day_of(lake.land(messages, per_file=20))

    ingest(lake.store, lake, contract, day)

    silver = lake.store.read(VALIDATED_TELEMETRY)
    assert silver.select("cell", "seq", "sample_index").is_unique().all()
    assert silver.select("cell", "seq").n_unique() == 19
    assert lake.store.read(QUARANTINED_MESSAGES)["capture_seq"].to_list() == [16]
    assert_reconciles(lake.store, day, files=1)


def test_edge_quarantine_files_keep_the_edges_reason(lake: LocalLake, contract: Contract) -> None:
    refused = [TopicPayload("acme/plant-1/body-shop/line-1/cell-01/weld/telemetry", b'{"seq": "one"}')] * 3
    day = day_of(lake.land(refused, kind="quarantine"))

    ingest(lake.store, lake, contract, day)

    rows = lake.store.read(QUARANTINED_MESSAGES)
    assert rows.height == 3 and set(rows["stage"]) == {"edge"}
    edge = ContractValidator(contract).check(refused[0].topic, refused[0].payload).error
    assert edge is not None
    assert set(rows.select("error_kind", "error_path", "error_reason").rows()) == {
        (edge.kind.value, edge.path, edge.reason)
    }
    assert lake.store.read(VALIDATED_TELEMETRY).height == 0
    assert_reconciles(lake.store, day, files=1)


def test_a_new_signal_becomes_a_new_column(
    lake: LocalLake, contract: Contract, line_messages: list[TopicPayload]
) -> None:
    day = day_of(lake.land(line_messages[:20], per_file=20))
    ingest(lake.store, lake, contract, day)
    replay = dict(orjson.loads(line_messages[20].payload))
    n = replay["n_samples"]
    replay["signals"] = {"electrode_position_mm": [462.0] * n, "current_a": [900.0] * n}
    lake.land(
        [TopicPayload(line_messages[20].topic, orjson.dumps(replay))],
        first_seq=500,
        received_start_ms=1763740800000 + 90_000,
    )

    ingest(lake.store, lake, contract, day)

    silver = lake.store.read(VALIDATED_TELEMETRY)
    new = silver.filter(pl.col("electrode_position_mm").is_not_null())
    assert new.height == n and new["voltage_v"].null_count() == n
    assert silver.filter(pl.col("electrode_position_mm").is_null()).height == silver.height - n


def test_an_unreadable_landing_file_is_reported_and_the_others_are_ingested(
    lake: LocalLake, line_messages: list[TopicPayload]
) -> None:
    keys = lake.land(line_messages[:200], per_file=100)
    broken = lake.landing_root / keys[0].relative_path
    broken.write_bytes(b"this is not parquet")
    (lake.landing_root / keys[0].relative_path).with_suffix(".tmp").write_bytes(b"upload in progress")

    outcome = ingest_landing(lake.store, lake.zone, keys[0].day, LINE, now=NOW)

    assert list(outcome.unreadable) == [keys[0].relative_path]
    assert outcome.ingested == [keys[1].relative_path] and outcome.rows == 100
    assert outcome.not_landing_files == [keys[0].relative_path.replace(".parquet", ".tmp")]


def test_a_reimaged_agent_restarting_its_sequence_is_ingested_again(
    lake: LocalLake, contract: Contract, line_messages: list[TopicPayload]
) -> None:
    first = lake.land(line_messages[:40], per_file=20)
    ingest(lake.store, lake, contract, day_of(first))
    # A day later the agent comes back with a fresh spool: its sequence restarts at 1, so its files
    # have the very names of yesterday's.
    later = lake.land(line_messages[40:80], per_file=20, received_start_ms=START_MS + 86_400_000)
    assert [k.file_id for k in later] == [k.file_id for k in first]

    rerun = ingest(lake.store, lake, contract, day_of(later))

    assert len(rerun.files) == 2
    assert lake.store.read(VALIDATED_TELEMETRY).select("cell", "seq").n_unique() == 80
    assert_reconciles(lake.store, day_of(later), files=2)


def test_two_plants_with_agents_of_the_same_name_do_not_collide(
    lake: LocalLake, contract: Contract, line_messages: list[TopicPayload]
) -> None:
    day = day_of(lake.land(line_messages[:20], per_file=20, site="plant-1", agent="edge-1"))
    other = simulator_messages(
        LineConfig(address=LineAddress(site="plant-2", line="line-9"), start_ms=START_MS), 20
    )
    (twin,) = lake.land(other, per_file=20, site="plant-2", line="line-9", agent="edge-1")

    ingest(lake.store, lake, contract, day)
    pending = scan_pending(lake.store, lake.zone, since=None).partitions
    assert [(p.line, p.file_ids) for p in pending] == [("line-9", (twin.relative_path,))]
    ingest(lake.store, lake, contract, day, line="line-9")

    silver = lake.store.read(VALIDATED_TELEMETRY)
    assert dict(silver.group_by("site").agg(pl.struct("cell", "seq").n_unique()).rows()) == {
        "plant-1": 20,
        "plant-2": 20,
    }
    assert not scan_pending(lake.store, lake.zone, since=None).partitions


def test_a_table_read_at_a_recorded_version_is_what_was_there_then(
    lake: LocalLake, contract: Contract, line_messages: list[TopicPayload]
) -> None:
    day = day_of(lake.land(line_messages[:20], per_file=20))
    ingest(lake.store, lake, contract, day)
    version = lake.store.version(VALIDATED_TELEMETRY)
    before = lake.store.read(VALIDATED_TELEMETRY)
    lake.land(line_messages[20:40], per_file=20, first_seq=100, received_start_ms=START_MS + 120_000)
    ingest(lake.store, lake, contract, day)

    lakehouse = LakehouseResource(root=lake.store.root)
    assert lakehouse.read_validated_telemetry(LINE).height > before.height
    assert lakehouse.read_validated_telemetry(LINE, version=version).equals(before.sort("cell", "ts"))
