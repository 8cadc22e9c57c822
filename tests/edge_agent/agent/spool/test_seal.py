"""Sealing a segment: one landing file per site and line, its kind's schema, byte-for-byte idempotent."""

from __future__ import annotations

import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from edge_agent.agent.spool.seal import seal_segment
from edge_agent.contract import ContractValidator
from edge_agent.files.landing_format import parse_landing_key
from tests.edge_agent.agent.support import messages, new_spool


def test_sealing_twice_gives_the_same_files_byte_for_byte(
    tmp_path: Path, contract_validator: ContractValidator
) -> None:
    spool = new_spool(tmp_path)
    spool.recover()
    spool.append(messages(contract_validator, 60) + messages(contract_validator, 20, seed=2, site="plant-2"))
    spool.sync()
    segment = spool.active_path
    assert segment is not None
    spool.close()
    first = seal_segment(segment, "capture", tmp_path / "a", default_site="plant-1", default_line="line-1")
    second = seal_segment(segment, "capture", tmp_path / "b", default_site="plant-1", default_line="line-1")
    assert [f.key for f in first] == [f.key for f in second] and len(first) == 2
    for one, other in zip(first, second, strict=True):
        assert one.path.read_bytes() == other.path.read_bytes()
    # sealing into a folder that already holds the files (a crash before the segment was deleted)
    # leaves them alone
    shutil.copytree(tmp_path / "a", tmp_path / "c")
    third = seal_segment(segment, "capture", tmp_path / "c", default_site="plant-1", default_line="line-1")
    assert [f.written for f in third] == [False, False]
    sites = {f.key.site: f for f in first}
    assert set(sites) == {"plant-1", "plant-2"}
    key = parse_landing_key(sites["plant-2"].key.relative_path)
    assert key == sites["plant-2"].key
    table = pq.read_table(sites["plant-2"].path)
    assert table.num_rows == 20 and set(table.column("site").to_pylist()) == {"plant-2"}


@pytest.mark.parametrize("kind", ["capture", "quarantine"])
def test_only_the_matching_kind_is_sealed_with_its_schema(
    tmp_path: Path, contract_validator: ContractValidator, kind: str
) -> None:
    spool = new_spool(tmp_path, kind=kind)
    spool.recover()
    chosen = [m for m in messages(contract_validator, 50) if m.kind == kind]
    spool.append(chosen)
    segment = spool.active_path
    assert segment is not None
    spool.close()
    files = seal_segment(segment, kind, tmp_path / "sealed", default_site="plant-1", default_line="line-1")  # type: ignore[arg-type]
    rows = [r for f in files for r in pq.read_table(f.path).to_pylist()]
    assert [(r["topic"], r["payload"]) for r in rows] == [(m.topic, m.payload) for m in chosen]
    if kind == "quarantine":
        assert {r["error_kind"] for r in rows} == {"not_json"}
    assert all(r["received_at_ms"] == int(m.received_at * 1000) for r, m in zip(rows, chosen, strict=True))
