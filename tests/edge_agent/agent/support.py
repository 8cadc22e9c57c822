"""Helpers for the agent's tests: settings for a test, a running agent, and reading the landing zone back."""

from __future__ import annotations

import contextlib
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import yaml

from edge_agent.agent import EdgeAgent, EdgeSettings
from edge_agent.agent.messages import Message, classify, digest
from edge_agent.agent.spool.segments import SegmentSpool
from edge_agent.agent.spool.usage import SpoolUsage
from edge_agent.contract import ContractValidator
from edge_agent.files.landing_format import CAPTURE_SCHEMA, QUARANTINE_SCHEMA, parse_landing_key
from edge_agent.simulator import LineConfig, PublishReport, WeldLine
from tests.edge_agent.clock import START_MS
from tests.s3 import MotoS3


def merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in extra.items():
        out[key] = (
            merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
        )
    return out


def settings_dict(work: Path, port: int, **overrides: Any) -> dict[str, Any]:
    """Fast timings for tests: seal after 0.3 s, heartbeat every 0.5 s, retry uploads quickly."""
    base: dict[str, Any] = {
        "agent_id": "edge-test",
        "mqtt": {"port": port, "reconnect_min_s": 0.1, "reconnect_max_s": 1.0},
        "spool": {"dir": str(work / "spool"), "seal_max_age_s": 0.3},
        "landing": {
            "url": str(work / "landing"),
            "retry_min_s": 0.1,
            "retry_max_s": 0.5,
            "scan_interval_s": 0.2,
        },
        "heartbeat": {"interval_s": 0.5},
        "log": {"level": "INFO", "format": "text"},
        "shutdown": {"drain_timeout_s": 20, "upload_timeout_s": 10},
    }
    return merge(base, overrides)


def make_settings(work: Path, port: int, **overrides: Any) -> EdgeSettings:
    return EdgeSettings.model_validate(settings_dict(work, port, **overrides))


def write_config(path: Path, data: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


@contextlib.contextmanager
def running(agent: EdgeAgent, ready_timeout_s: float = 20.0) -> Iterator[EdgeAgent]:
    """The agent started and ready (the broker holds its subscriptions), stopped afterwards (asserting a
    clean stop). On failure, print what the agent was doing. A failed start cleans up after itself."""
    with agent:
        if not agent.ready.wait(ready_timeout_s):
            raise TimeoutError("the agent did not become ready")
        try:
            yield agent
        except BaseException:
            parts = agent.parts
            print(
                "agent state at the failure:",
                agent.stats.totals(),
                agent.queue_depths(),
                agent.stats.snapshot(),
            )
            print(
                "pending sealed files:",
                len(parts.spool.backlog.pending()),
                "spool bytes:",
                parts.spool.usage.total,
            )
            raise
    assert agent.exit_code == 0


def publish_in_background(run: Any) -> tuple[threading.Thread, dict[str, Any]]:
    """Run `run()` (a publish) in a thread; the result or the exception lands in the dict."""
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["report"] = run()
        except BaseException as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=target, name="test-publisher", daemon=True)
    thread.start()
    return thread, outcome


def local_landing_files(root: Path) -> dict[str, Path]:
    """Relative landing path -> file, for every finished landing file (temp files excluded)."""
    if not root.is_dir():
        return {}
    return {p.relative_to(root).as_posix(): p for p in root.rglob("*.parquet") if not p.name.startswith(".")}


def s3_landing_files(s3: MotoS3, bucket: str, prefix: str) -> dict[str, bytes]:
    client = s3.client()
    found: dict[str, bytes] = {}
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            relative = item["Key"][len(prefix) :].lstrip("/")
            found[relative] = client.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
    return found


def read_tables(files: dict[str, Path] | dict[str, bytes]) -> dict[str, pa.Table]:
    """Each landing file as a table, checked against the landing format (name, schema, metadata)."""
    tables: dict[str, pa.Table] = {}
    for relative, source in files.items():
        key = parse_landing_key(relative)
        table = pq.read_table(pa.BufferReader(source) if isinstance(source, bytes) else source)
        expected = CAPTURE_SCHEMA if key.kind == "capture" else QUARANTINE_SCHEMA
        assert table.schema.remove_metadata().equals(expected), relative
        meta = {k.decode(): v.decode() for k, v in (table.schema.metadata or {}).items()}
        assert meta["uns.kind"] == key.kind and meta["uns.agent"] == key.agent
        assert int(meta["uns.first_seq"]) == key.first_seq and int(meta["uns.last_seq"]) == key.last_seq
        assert int(meta["uns.rows"]) == table.num_rows
        seqs = table.column("capture_seq").to_pylist()
        assert seqs == sorted(seqs) and seqs[0] == key.first_seq and seqs[-1] == key.last_seq
        tables[relative] = table
    return tables


def rows_of(tables: dict[str, pa.Table], kind: str) -> list[dict[str, Any]]:
    return [row for rel, t in tables.items() if parse_landing_key(rel).kind == kind for row in t.to_pylist()]


def cell_seq_counts(rows: list[dict[str, Any]]) -> Counter[tuple[str, int]]:
    """(cell, seq) of each captured telemetry row, counted (a count of 2 is a duplicate)."""
    return Counter(
        (row["cell"], orjson.loads(row["payload"])["seq"])
        for row in rows
        if row["channel"] == "weldTelemetry"
    )


def sent_keys(*reports: PublishReport) -> Counter[tuple[str, int]]:
    return Counter((s.cell, s.seq) for report in reports for s in report.sent)


def capture_seq_unique(tables: dict[str, pa.Table]) -> bool:
    """No capture sequence number appears twice within a kind (file names cannot overlap)."""
    for kind in ("capture", "quarantine"):
        seqs = [
            s
            for rel, t in tables.items()
            if parse_landing_key(rel).kind == kind
            for s in t.column("capture_seq").to_pylist()
        ]
        if len(seqs) != len(set(seqs)):
            return False
    return True


def messages(validator: ContractValidator, count: int, seed: int = 1, **extra: str) -> list[Message]:
    line = WeldLine(LineConfig(seed=seed, start_ms=START_MS, seq_start=0))
    out = []
    for index, (_, topic, batch) in enumerate(next(line.batches()) for _ in range(count)):
        payload = orjson.dumps(batch.payload)
        if extra.get("site"):
            topic = topic.replace("plant-1", extra["site"])
        if index % 7 == 3:
            payload = payload[:-5]  # broken JSON: quarantine material
        message = Message(topic, payload, 1, False, False, index + 1, 1, START_MS / 1000 + index / 100)
        message.verdict = classify(validator, topic, payload)
        message.digest = digest(topic, payload)
        out.append(message)
    return out


def new_spool(
    root: Path, kind: str = "capture", window: int = 64, segment_max: int = 1 << 20
) -> SegmentSpool:
    return SegmentSpool(
        root / "segments",
        kind,  # type: ignore[arg-type]
        agent="edge-test",
        contract_version="1.0.0",
        segment_max_bytes=segment_max,
        max_age_s=60,
        window_size=window,
        usage=SpoolUsage({"capture": 1 << 40, "quarantine": 1 << 40}),
    )
