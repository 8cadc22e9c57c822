"""Sealing one closed segment: its records as landing files, Parquet, one per (site, line), written atomically.

Deterministic (names from the capture sequence range, bytes from the records alone), so sealing a segment
again after a crash yields the same files; one already there is left alone.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.parquet as pq

from edge_agent.agent.messages import SpoolKind
from edge_agent.agent.spool.segment_format import SegmentHeader, SpoolRecord, scan
from edge_agent.files.fsutil import makedirs_durable, replace_atomically
from edge_agent.files.landing_format import CAPTURE_SCHEMA, QUARANTINE_SCHEMA, LandingKey, landing_key

__all__ = ["SealedFile", "build_table", "seal_segment"]

_LEVELS = ("enterprise", "site", "area", "line", "cell")


@dataclass(frozen=True)
class SealedFile:
    path: Path
    key: LandingKey
    rows: int
    written: bool
    """False when a file of that name was already there (a segment sealed again after a crash)."""
    size: int
    """Bytes written (0 when not written), measured before the rename: the uploader may take the file
    away at once."""


def _parameters(raw: str | None, parsed: dict[str | None, dict[str, str]]) -> dict[str, str]:
    """Decoded channel parameters; each distinct JSON text (one per topic) is decoded once."""
    found = parsed.get(raw)
    if found is None:
        found = parsed[raw] = orjson.loads(raw) if raw else {}
    return found


def build_table(kind: SpoolKind, header: SegmentHeader, records: list[SpoolRecord]) -> pa.Table:
    """The landing-format table of these records (in the order given)."""
    parsed: dict[str | None, dict[str, str]] = {None: {}}
    parameters = [_parameters(r.parameters_json, parsed) for r in records]
    columns: dict[str, list[Any]] = {
        "agent": [header.agent] * len(records),
        "capture_seq": [r.seq for r in records],
        "received_at_ms": [r.received_at_ms for r in records],
        "topic": [r.topic for r in records],
        "channel": [r.channel for r in records],
        **{level: [p.get(level) for p in parameters] for level in _LEVELS},
        "parameters": [r.parameters_json for r in records],
        "payload": [r.payload for r in records],
        "qos": [r.qos for r in records],
        "retain": [r.retain for r in records],
        "contract_version": [header.contract_version] * len(records),
    }
    schema = CAPTURE_SCHEMA
    if kind == "quarantine":
        schema = QUARANTINE_SCHEMA
        columns["error_kind"] = [r.error_kind or "" for r in records]
        columns["error_path"] = [r.error_path or "" for r in records]
        columns["error_reason"] = [r.error_reason or "" for r in records]
    table = pa.Table.from_pydict(columns, schema=schema)
    return table.replace_schema_metadata(
        {
            "uns.kind": kind,
            "uns.agent": header.agent,
            "uns.contract_version": header.contract_version,
            "uns.first_seq": str(records[0].seq),
            "uns.last_seq": str(records[-1].seq),
            "uns.rows": str(len(records)),
        }
    )


def _write(table: pa.Table, sizes: list[int], path: Path) -> None:
    pq.write_table(table, path, compression="zstd", write_statistics=True)
    sizes.append(path.stat().st_size)


def seal_segment(
    segment: Path,
    kind: SpoolKind,
    sealed_root: Path,
    *,
    default_site: str,
    default_line: str,
    fsync: bool = True,
) -> list[SealedFile]:
    """Write the segment's records as landing files under `sealed_root/<landing relative path>`.

    Messages whose topic names no site or line (outside the contract) are filed under the agent's own.
    """
    result = scan(segment.read_bytes())
    if result.header is None or not result.records:
        return []
    header = result.header
    groups: dict[tuple[str, str], list[SpoolRecord]] = defaultdict(list)
    parsed: dict[str | None, dict[str, str]] = {None: {}}
    for record in result.records:
        params = _parameters(record.parameters_json, parsed)
        groups[(params.get("site") or default_site, params.get("line") or default_line)].append(record)
    sealed: list[SealedFile] = []
    for (site, line), records in sorted(groups.items()):
        records.sort(key=lambda r: r.seq)
        key = landing_key(
            site=site,
            line=line,
            agent=header.agent,
            first_received_ms=records[0].received_at_ms,
            kind=kind,
            first_seq=records[0].seq,
            last_seq=records[-1].seq,
        )
        path = sealed_root / key.relative_path
        written = not path.exists()
        sizes: list[int] = []
        if written:
            makedirs_durable(path.parent)
            replace_atomically(path, partial(_write, build_table(kind, header, records), sizes), fsync=fsync)
        sealed.append(SealedFile(path, key, len(records), written, sum(sizes)))
    return sealed
