"""`mlops sql` over a real lake, on disk and on S3 through moto."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

import pytest

from edge_agent.contract import load_contract
from mlops_assets.cli import main
from mlops_assets.lake import LakeStore
from mlops_assets.lake.ingest import ingest_landing, refine_partition
from mlops_assets.lake.refine import TelemetryRefiner
from mlops_assets.landing import landing_zone
from tests.mlops_assets.conftest import START_MS, LocalLake, day_of
from tests.s3 import MotoS3
from tests.synthetic_landing import S3Target, TopicPayload, write_landing_files

NOW = dt.datetime(2025, 11, 21, 12, tzinfo=dt.UTC)


def _fill(
    store: LakeStore,
    landing_root: str,
    messages: list[TopicPayload],
    day: dt.date,
    options: dict[str, str] | None = None,
) -> None:
    zone = landing_zone(landing_root, options)
    ingest_landing(store, zone, day, "line-1", now=NOW)
    refine_partition(store, TelemetryRefiner(load_contract()), day, "line-1", now=NOW)


def test_sql_over_the_local_lake_in_every_format(
    lake: LocalLake, line_messages: list[TopicPayload], capsys: pytest.CaptureFixture[str]
) -> None:
    messages = list(line_messages[:30])
    messages[0] = TopicPayload(messages[0].topic, b"oops")
    day = day_of(lake.land(messages, per_file=10))
    _fill(lake.store, str(lake.landing_root), messages, day)

    assert (
        main(
            [
                "sql",
                "SELECT cell, count(DISTINCT seq) AS batches FROM validated_telemetry GROUP BY cell ORDER BY cell",
            ]
        )
        == 0
    )
    table = capsys.readouterr().out
    assert "cell-01" in table and "3 rows" in table
    assert main(["sql", "--format", "json", "SELECT stage, error_kind FROM quarantined_messages"]) == 0
    assert json.loads(capsys.readouterr().out) == [{"stage": "lake", "error_kind": "not_json"}]
    query = (
        "SELECT b.file_id, count(*) AS rows FROM raw_uns_captures b "
        "JOIN quarantined_messages q ON b.file_id = q.file_id AND b.capture_seq = q.capture_seq GROUP BY b.file_id"
    )
    assert main(["sql", "--format", "csv", query]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0] == "file_id,rows" and len(lines) == 2 and lines[1].endswith(",1")
    assert main(["sql", "--tables"]) == 0
    listing = capsys.readouterr().out
    assert "raw_uns_captures  (bronze" in listing and "validated_telemetry  (silver" in listing


def test_a_bad_query_is_a_clear_error(lake: LocalLake, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sql", "SELECT * FROM no_such_table"]) == 1
    assert "no_such_table" in capsys.readouterr().err


def test_sql_on_s3_through_the_installed_command(
    s3: MotoS3, line_messages: list[TopicPayload], tmp_path: Path
) -> None:
    bucket = s3.new_bucket("lake")
    keys = write_landing_files(
        S3Target(s3.client(), bucket), line_messages[:20], received_start_ms=START_MS + 60_000, per_file=10
    )
    store = LakeStore(f"s3://{bucket}/lake", s3.storage_options)
    _fill(store, f"s3://{bucket}/landing", line_messages[:20], day_of(keys), s3.storage_options)

    mlops = Path(sys.executable).with_name("mlops")
    env = {
        **s3.env,
        "PATH": "/usr/bin:/bin",
        "MLOPS_ENV": "prod",
        "MLOPS_LAKE_ROOT": f"s3://{bucket}/lake",
        "HOME": str(tmp_path),
    }
    done = subprocess.run(
        [str(mlops), "sql", "--format", "ndjson", "SELECT count(*) AS messages FROM raw_uns_captures"],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"messages": 20}
