"""The ingestion job on a real Dagster instance: local lake, and S3 through moto in server mode."""

from __future__ import annotations

import dagster as dg
import polars as pl
import pytest
from deltalake import DeltaTable

from edge_agent.contract import Contract
from mlops_assets.lake import (
    PAYLOAD_COMPLIANCE,
    QUARANTINED_MESSAGES,
    RAW_UNS_CAPTURES,
    VALIDATED_TELEMETRY,
    LakeStore,
)
from tests.mlops_assets.conftest import START_MS, LocalLake, day_of
from tests.mlops_assets.defs.ingestion.runs import check_results, materialisations, run_ingestion
from tests.mlops_assets.lake.test_ingest import CrashAfter, assert_reconciles, ingest
from tests.s3 import MotoS3
from tests.synthetic_landing import S3Target, TopicPayload, write_landing_files


def test_ingestion_job_writes_catalogued_tables_with_metadata_and_checks(
    lake: LocalLake, line_messages: list[TopicPayload]
) -> None:
    day = day_of(lake.land(line_messages, per_file=100))
    with dg.instance_for_test() as instance:
        result = run_ingestion(instance, day, "line-1")

    assert result.success
    meta = materialisations(result)
    assert set(meta) == {
        "raw_uns_captures",
        "validated_telemetry",
        "quarantined_messages",
        "payload_compliance",
    }
    for table, values in meta.items():
        assert {"rows_written", "table_uri", "delta_version", "dagster/row_count"} <= set(values), table
    assert meta["raw_uns_captures"]["rows_written"] == 300
    assert meta["validated_telemetry"]["rows_written"] == lake.store.read(VALIDATED_TELEMETRY).height
    assert meta["validated_telemetry"]["table_uri"] == lake.store.uri(VALIDATED_TELEMETRY)
    assert meta["validated_telemetry"]["delta_version"] == lake.store.version(VALIDATED_TELEMETRY)
    assert meta["payload_compliance"]["compliance"] == 1.0
    checks = check_results(result)
    assert {name: passed for name, (passed, _) in checks.items()} == {
        "landing_files_are_readable": True,
        "cell_seq_is_unique": True,
        "payload_schema_is_stable": True,
        "compliance_above_threshold": True,
    }
    assert_reconciles(lake.store, day, files=3)


def test_after_a_killed_run_the_rerun_metadata_reconciles_every_redone_file(
    lake: LocalLake, contract: Contract, line_messages: list[TopicPayload]
) -> None:
    messages = list(line_messages)
    messages[40] = messages[10]  # a duplicate inside the file whose silver commit lands before the kill
    day = day_of(lake.land(messages, per_file=100))
    with pytest.raises(SystemExit):  # dies after the first silver commit, before its quarantine commit
        ingest(CrashAfter(lake.store.root, table=VALIDATED_TELEMETRY), lake, contract, day)
    with dg.instance_for_test() as instance:
        result = run_ingestion(instance, day, "line-1")

    meta = materialisations(result)
    reported = pl.DataFrame([r.data for r in meta["quarantined_messages"]["reconciliation"].records])
    held = assert_reconciles(lake.store, day, files=3)  # what the tables hold, per file
    assert meta["validated_telemetry"]["files_refined"] == reported.height == 3
    expected = held.rename({"bronze": "bronze_rows", "other": "other_channel"})
    assert reported.sort("file_id").rows() == expected.select(reported.columns).rows()
    assert meta["validated_telemetry"]["valid_batches"] == expected["silver_batches"].sum() == 299


def test_compliance_check_fails_when_bad_payloads_pass_the_threshold(
    lake: LocalLake, line_messages: list[TopicPayload], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLOPS_MIN_COMPLIANCE", "0.98")
    messages = list(line_messages[:100])
    for index in range(0, 100, 10):  # 10 % refused: above any sane threshold
        messages[index] = TopicPayload(
            messages[index].topic, messages[index].payload.replace(b'"seq"', b'"sequence"')
        )
    day = day_of(lake.land(messages, per_file=50))
    with dg.instance_for_test() as instance:
        result = run_ingestion(instance, day, "line-1")

    passed, details = check_results(result)["compliance_above_threshold"]
    assert not passed and details["threshold"] == 0.98 and details["lowest_share_valid"] < 0.98
    compliance = lake.store.read(PAYLOAD_COMPLIANCE)
    assert compliance["messages"].sum() == 100 and compliance["valid"].sum() == 90
    reasons = compliance.explode("top_failure_reasons").unnest("top_failure_reasons").drop_nulls("reason")
    assert reasons.group_by("reason").agg(pl.col("count").sum()).rows() == [
        ("schema at $.seq: required field 'seq' is missing", 10)
    ]
    refused = lake.store.read(QUARANTINED_MESSAGES)
    assert refused.height == 10 and set(refused["stage"]) == {"lake"}


def test_schema_drift_check_warns_on_a_new_contract_version(
    lake: LocalLake, line_messages: list[TopicPayload], contract: Contract
) -> None:
    day = day_of(lake.land(line_messages[:50], per_file=50))
    with dg.instance_for_test() as instance:
        run_ingestion(instance, day, "line-1")
        # An agent still on an older contract lands a file later the same day.
        lake.land(
            line_messages[50:60],
            first_seq=900,
            received_start_ms=START_MS + 120_000,
            contract_version="0.9.0",
        )
        result = run_ingestion(instance, day, "line-1")

    passed, details = check_results(result)["payload_schema_is_stable"]
    assert not passed and details["contract_versions_seen"] == f"0.9.0, {contract.version}"


def test_ingestion_on_s3_through_moto(
    s3: MotoS3, contract: Contract, line_messages: list[TopicPayload], monkeypatch: pytest.MonkeyPatch
) -> None:
    bucket = s3.new_bucket("lake")
    monkeypatch.setenv("MLOPS_ENV", "prod")
    monkeypatch.setenv("MLOPS_LAKE_ROOT", f"s3://{bucket}/lake")
    monkeypatch.setenv("MLOPS_LANDING_ROOT", f"s3://{bucket}/landing")
    keys = write_landing_files(
        S3Target(s3.client(), bucket), line_messages[:200], received_start_ms=START_MS + 60_000, per_file=50
    )
    day = day_of(keys)
    with dg.instance_for_test() as instance:
        first = run_ingestion(instance, day, "line-1")
        again = run_ingestion(instance, day, "line-1")

    assert first.success and again.success
    store = LakeStore(f"s3://{bucket}/lake", s3.storage_options)
    assert_reconciles(store, day, files=4)
    silver = pl.read_delta(store.uri(VALIDATED_TELEMETRY), storage_options=s3.storage_options)
    assert silver.select("cell", "seq").n_unique() == 200
    assert silver.select("cell", "seq", "sample_index").is_unique().all()
    bronze = DeltaTable(store.uri(RAW_UNS_CAPTURES), storage_options=s3.storage_options)
    assert bronze.to_pyarrow_table().num_rows == 200 and bronze.version() == 1  # create + one append
    assert materialisations(again)["raw_uns_captures"]["rows_written"] == 0
