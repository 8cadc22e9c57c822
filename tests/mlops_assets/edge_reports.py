"""What the edge writes and publishes for the platform's monitoring, made without an agent: drift
reports (the landing files of kind `drift`, `DRIFT_SCHEMA`, with their HTML companion, and the summary
on the UNS) and heartbeats, each checked against the contract before use."""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.parquet as pq

from edge_agent.contract import ContractValidator, load_contract
from edge_agent.domain import LineAddress
from edge_agent.files.landing_format import DRIFT_SCHEMA, LandingKey, drift_landing_key
from edge_agent.uns.endpoint import MqttEndpoint
from mlops_assets.ml.rollout.uns_client import publish_retained

__all__ = ["DriftReport", "drift_report", "heartbeat", "publish", "write_drift_files"]

COLUMNS = ("current_a__mean", "current_a__std", "voltage_v__mean", "voltage_v__std")


@dataclass(frozen=True)
class DriftReport:
    address: LineAddress
    agent: str
    seq: int
    created_ms: int
    window_start_ms: int
    drift_share: float
    cells: tuple[str, ...] = ("cell-01", "cell-02")
    model_version: str = "1"
    threshold: float = 0.5

    @property
    def report_id(self) -> str:
        return f"{self.agent}:{self.seq}"

    @property
    def key(self) -> LandingKey:
        return drift_landing_key(
            site=self.address.site,
            line=self.address.line,
            agent=self.agent,
            created_ms=self.created_ms,
            report_seq=self.seq,
        )

    @property
    def topic(self) -> str:
        return f"{self.address.prefix}/_edge/{self.agent}/drift"

    def column_drift(self) -> dict[str, dict[str, Any]]:
        drifted = round(self.drift_share * len(COLUMNS))
        return {
            c: {
                "drifted": i < drifted,
                "method": "psi",
                "score": 0.5 if i < drifted else 0.01,
            }
            for i, c in enumerate(COLUMNS)
        }

    def summary(self) -> dict[str, Any]:
        """The summary the agent publishes retained on its drift topic (contract 1.2.0)."""
        column_drift = self.column_drift()
        drifted = sum(v["drifted"] for v in column_drift.values())
        share = drifted / len(COLUMNS)
        key = self.key
        assert key.companion_path is not None
        return {
            "report_id": self.report_id,
            "agent": self.agent,
            "timestamp_ms": self.created_ms,
            "model_version": self.model_version,
            "cells": list(self.cells),
            "reference_rows": 400,
            "drift_share_threshold": self.threshold,
            "window_start_ms": self.window_start_ms,
            "window_end_ms": self.created_ms,
            "rows": 120,
            "drifted_columns": drifted,
            "columns": len(COLUMNS),
            "drift_share": share,
            "dataset_drift": share >= self.threshold,
            "column_drift": column_drift,
            "report_uri": key.companion_path,
        }


def drift_report(
    address: LineAddress, agent: str, seq: int, created_ms: int, drift_share: float, **kw: Any
) -> DriftReport:
    """Report `seq` of `agent`, computed at `created_ms` over the minute before it."""
    return DriftReport(address, agent, seq, created_ms, created_ms - 60_000, drift_share, **kw)


def _checked(topic: str, payload: dict[str, Any]) -> bytes:
    data = orjson.dumps(payload)
    verdict = ContractValidator(load_contract()).check(topic, data)
    assert verdict.ok, verdict.error
    return data


def write_drift_files(
    landing: Path, report: DriftReport, *, html: bool = True, drop: str | None = None
) -> LandingKey:
    """The report's two landing files as the agent uploads them: the HTML first, then the Parquet file
    (one row of DRIFT_SCHEMA; without column `drop` to make a broken file)."""
    key = report.key
    assert key.companion_id is not None and key.companion_path is not None
    summary = report.summary()
    if html:
        (landing / key.companion_path).parent.mkdir(parents=True, exist_ok=True)
        (landing / key.companion_path).write_text(
            f"<html><body>drift report {report.report_id}</body></html>"
        )
    row = {
        **{
            k: summary[k] for k in ("agent", "report_id", "model_version", "window_start_ms", "window_end_ms")
        },
        "report_seq": report.seq,
        "created_ms": report.created_ms,
        "cells": list(report.cells),
        **{
            k: summary[k]
            for k in ("rows", "reference_rows", "drift_share", "dataset_drift", "drifted_columns", "columns")
        },
        "drift_share_threshold": report.threshold,
        "column_drift": json.dumps(summary["column_drift"]),
        "summary": _checked(report.topic, summary).decode(),
        "report_json": json.dumps({"metrics": [], "tests": []}),
        "html_file": key.companion_id,
    }
    schema = DRIFT_SCHEMA if drop is None else pa.schema([f for f in DRIFT_SCHEMA if f.name != drop])
    sink = io.BytesIO()
    pq.write_table(pa.Table.from_pylist([{k: row[k] for k in schema.names}], schema=schema), sink)
    (landing / key.relative_path).parent.mkdir(parents=True, exist_ok=True)
    (landing / key.relative_path).write_bytes(sink.getvalue())
    return key


def heartbeat(agent: str, status: str, timestamp_ms: int, model_version: str = "1") -> dict[str, Any]:
    """A heartbeat (or, OFFLINE, a Will) as the agent sends it, with the required fields."""
    return {
        "agent": agent,
        "status": status,
        "timestamp_ms": timestamp_ms,
        "started_ms": timestamp_ms - 30_000,
        "uptime_s": 30.0,
        "contract_version": load_contract().version,
        "model_version": model_version,
        "counters": {},
        "queue_depths": {},
        "dropped": {},
        "spool_bytes": 0,
        "upload_backlog_files": 0,
        "last_error": "connection lost without a clean disconnect" if status == "OFFLINE" else None,
    }


def publish(
    endpoint: MqttEndpoint, topic: str, payload: dict[str, Any] | bytes, *, check: bool = True
) -> None:
    """Publish retained (QoS 1, the PUBACK awaited); a dict is checked against the contract first."""
    data = (
        payload
        if isinstance(payload, bytes)
        else (_checked(topic, payload) if check else orjson.dumps(payload))
    )
    publish_retained(endpoint, topic, data, client_id="test-edge")
