"""`lake_maintenance_job` compacts with Z-order and vacuums a real lake without changing its data."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import dagster as dg
import polars as pl
from deltalake import DeltaTable

from edge_agent.contract import Contract
from mlops_assets.definitions import build_definitions
from mlops_assets.lake import RAW_UNS_CAPTURES, VALIDATED_TELEMETRY
from mlops_assets.lake.ingest import ingest_landing, refine_partition
from mlops_assets.lake.refine import TelemetryRefiner
from tests.mlops_assets.conftest import LocalLake, day_of
from tests.synthetic_landing import TopicPayload

NOW = dt.datetime(2025, 11, 21, 12, tzinfo=dt.UTC)


def _parquet_files(root: Path) -> int:
    return len(list(root.rglob("*.parquet")))


def test_maintenance_compacts_zorders_and_vacuums(
    lake: LocalLake, contract: Contract, line_messages: list[TopicPayload]
) -> None:
    day = day_of(lake.land(line_messages, per_file=20))
    ingest_landing(lake.store, lake.zone, day, "line-1", now=NOW, max_rows_per_commit=20)  # 15 small commits
    refine_partition(lake.store, TelemetryRefiner(contract), day, "line-1", now=NOW, max_rows_per_commit=20)
    bronze_before = lake.store.read(RAW_UNS_CAPTURES).sort("file_id", "capture_seq")
    silver_before = lake.store.read(VALIDATED_TELEMETRY).sort("cell", "seq", "sample_index")
    bronze_dir = Path(lake.store.uri(RAW_UNS_CAPTURES))
    files_before = _parquet_files(bronze_dir)
    assert files_before >= 15

    job = build_definitions().resolve_job_def("lake_maintenance_job")
    config = {
        "ops": {
            "maintain_lake": {"config": {"retention_hours": 0, "enforce_retention": False, "recent_days": 0}}
        }
    }
    with dg.instance_for_test() as instance:
        result = job.execute_in_process(run_config=config, instance=instance)

    assert result.success and result.output_for_node("maintain_lake") == 3
    operations = [h["operation"] for h in DeltaTable(lake.store.uri(VALIDATED_TELEMETRY)).history()]
    assert "OPTIMIZE" in operations and "VACUUM END" in operations
    observed = {
        e.asset_observation_data.asset_observation.asset_key.to_user_string(): {
            k: v.value for k, v in e.asset_observation_data.asset_observation.metadata.items()
        }
        for e in result.get_asset_observation_events()
    }
    assert observed["validated_telemetry"]["z_order"] == "cell, ts"
    assert observed["raw_uns_captures"]["z_order"] == "cell, received_at"
    assert int(observed["raw_uns_captures"]["files_vacuumed"]) >= 15  # type: ignore[arg-type]
    assert _parquet_files(bronze_dir) < files_before  # compacted, and the old files are gone from disk
    assert lake.store.read(RAW_UNS_CAPTURES).sort("file_id", "capture_seq").equals(bronze_before)
    assert (
        pl.read_delta(lake.store.uri(VALIDATED_TELEMETRY))
        .sort("cell", "seq", "sample_index")
        .equals(silver_before)
    )
