"""Synthetic landing files follow the landing format the edge agent seals (checked by the same reader
as the agent's own landing files)."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq

from edge_agent.contract import Contract, ContractValidator
from edge_agent.files.landing_format import FILE_METADATA_KEYS
from mlops_assets.landing import LocalLandingZone
from tests.edge_agent.agent.support import local_landing_files, read_tables
from tests.mlops_assets.conftest import START_MS
from tests.synthetic_landing import LocalTarget, TopicPayload, write_landing_files


def test_capture_and_quarantine_files_follow_the_landing_format(
    tmp_path: Path, contract: Contract, line_messages: list[TopicPayload]
) -> None:
    target = LocalTarget(tmp_path)
    captured = write_landing_files(target, line_messages[:25], received_start_ms=START_MS, per_file=10)
    refused = [TopicPayload(line_messages[0].topic, b'{"seq": "one"}')] * 2
    (quarantine,) = write_landing_files(target, refused, received_start_ms=START_MS, kind="quarantine")

    tables = read_tables(local_landing_files(tmp_path))

    assert sorted(tables) == sorted(k.relative_path for k in [*captured, quarantine])
    assert [k.first_seq for k in captured] == [1, 11, 21] and captured[-1].last_seq == 25
    metadata = pq.read_schema(tmp_path / captured[0].relative_path).metadata or {}
    assert {k.decode() for k in metadata} == set(FILE_METADATA_KEYS)
    error = ContractValidator(contract).check(refused[0].topic, refused[0].payload).error
    assert error is not None
    assert (
        tables[quarantine.relative_path].select(["error_kind", "error_reason"]).to_pylist()
        == [{"error_kind": error.kind.value, "error_reason": error.reason}] * 2
    )
    listed = LocalLandingZone(tmp_path).list()
    assert [f.file_id for f in listed.files if f.key.kind == "capture"] == [k.relative_path for k in captured]
    assert not listed.skipped
