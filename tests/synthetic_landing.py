"""Synthetic landing files: simulator traffic sealed exactly as the edge agent seals it, without a
broker or an agent. For benchmarks, load tests and tests of the lake.

    messages = simulator_messages(LineConfig(start_ms=...), count=300)      # (topic, payload bytes)
    keys = write_landing_files(LocalTarget(root), messages, agent="edge-line-1",
                               received_start_ms=..., per_file=100)

Files hold CAPTURE_SCHEMA (or QUARANTINE_SCHEMA with the edge validator's reasons) and the Parquet
key-value metadata of FILE_METADATA_KEYS; the path is `LandingKey.relative_path`. Capture sequence
numbers run on from `first_seq`, one per message, so file names never collide within one call.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import orjson
import pyarrow as pa
import pyarrow.parquet as pq

from edge_agent.contract import ContractValidator, TopicMatch, load_contract
from edge_agent.files.landing_format import (
    CAPTURE_SCHEMA,
    QUARANTINE_SCHEMA,
    FileKind,
    LandingKey,
    landing_key,
)
from edge_agent.simulator import LineConfig, WeldLine

__all__ = ["LocalTarget", "S3Target", "TopicPayload", "simulator_messages", "write_landing_files"]


@dataclass(frozen=True)
class TopicPayload:
    topic: str
    payload: bytes


class Target(Protocol):
    def put(self, relative_path: str, data: bytes) -> None: ...


@dataclass(frozen=True)
class LocalTarget:
    root: Path

    def put(self, relative_path: str, data: bytes) -> None:
        path = self.root / relative_path
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


@dataclass(frozen=True)
class S3Target:
    client: Any
    """A boto3 S3 client."""
    bucket: str
    prefix: str = "landing"

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"

    def put(self, relative_path: str, data: bytes) -> None:
        self.client.put_object(Bucket=self.bucket, Key=f"{self.prefix}/{relative_path}", Body=data)


def simulator_messages(config: LineConfig, count: int) -> list[TopicPayload]:
    """The first `count` telemetry messages of a simulated line, as they travel on the UNS."""
    batches = WeldLine(config).batches()
    out = []
    for _ in range(count):
        _, topic, batch = next(batches)
        out.append(TopicPayload(topic, orjson.dumps(batch.payload)))
    return out


def _rows(
    messages: Sequence[TopicPayload],
    validator: ContractValidator,
    *,
    agent: str,
    first_seq: int,
    received_ms: Sequence[int],
    quarantine: bool,
    contract_version: str,
) -> dict[str, list[Any]]:
    columns: dict[str, list[Any]] = {
        f.name: [] for f in (QUARANTINE_SCHEMA if quarantine else CAPTURE_SCHEMA)
    }
    for offset, (message, received) in enumerate(zip(messages, received_ms, strict=True)):
        route = validator.route(message.topic)
        params: dict[str, str] = dict(route.parameters) if isinstance(route, TopicMatch) else {}
        channel = route.channel.id if isinstance(route, TopicMatch) else None
        values = {
            "agent": agent,
            "capture_seq": first_seq + offset,
            "received_at_ms": received,
            "topic": message.topic,
            "channel": channel,
            **{k: params.get(k) for k in ("enterprise", "site", "area", "line", "cell")},
            "parameters": json.dumps(params) if params else None,
            "payload": message.payload,
            "qos": 1,
            "retain": False,
            "contract_version": contract_version,
        }
        if quarantine:
            error = validator.check(message.topic, message.payload).error
            values |= {
                "error_kind": error.kind.value if error else "schema",
                "error_path": error.path if error else "$",
                "error_reason": error.reason if error else "refused by the edge",
            }
        for name in columns:
            columns[name].append(values[name])
    return columns


def _parquet_bytes(
    columns: dict[str, list[Any]], *, kind: FileKind, agent: str, first: int, last: int, contract_version: str
) -> bytes:
    schema = QUARANTINE_SCHEMA if kind == "quarantine" else CAPTURE_SCHEMA
    metadata = {
        "uns.kind": kind, "uns.agent": agent, "uns.contract_version": contract_version,
        "uns.first_seq": str(first), "uns.last_seq": str(last), "uns.rows": str(last - first + 1),
    }  # fmt: skip
    sink = io.BytesIO()
    pq.write_table(pa.table(columns, schema=schema.with_metadata(metadata)), sink)
    return sink.getvalue()


def write_landing_files(
    target: Target,
    messages: Iterable[TopicPayload],
    *,
    agent: str = "edge-line-1",
    site: str = "plant-1",
    line: str = "line-1",
    received_start_ms: int,
    received_step_ms: int = 10,
    per_file: int = 100,
    first_seq: int = 1,
    kind: FileKind = "capture",
    contract_version: str | None = None,
) -> list[LandingKey]:
    """Seal `messages` into landing files of `per_file` rows each; returns their keys.
    `contract_version` defaults to the current contract's (an older one mimics an agent not updated)."""
    contract = load_contract()
    validator = ContractValidator(contract)
    version = contract_version or contract.version
    keys = []
    pending = list(messages)
    seq = first_seq
    received = received_start_ms
    for start in range(0, len(pending), per_file):
        part = pending[start : start + per_file]
        times = [received + i * received_step_ms for i in range(len(part))]
        columns = _rows(
            part,
            validator,
            agent=agent,
            first_seq=seq,
            received_ms=times,
            quarantine=kind == "quarantine",
            contract_version=version,
        )
        last = seq + len(part) - 1
        key = landing_key(
            site=site,
            line=line,
            agent=agent,
            first_received_ms=times[0],
            kind=kind,
            first_seq=seq,
            last_seq=last,
        )
        data = _parquet_bytes(columns, kind=kind, agent=agent, first=seq, last=last, contract_version=version)
        target.put(key.relative_path, data)
        keys.append(key)
        seq = last + 1
        received = times[-1] + received_step_ms
    return keys
