"""A drift report as the agent holds it: the job the scoring stage hands over (the windows taken from
the scoring worker), the finished report, its summary for the drift channel and its landing row.

Pure logic, no I/O. The summary follows the contract's `driftReport`; the fields contract 1.2.0 added
are left out when the loaded contract does not declare them (an agent given an older copy).
"""

from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["DRIFT_ADDED_FIELDS", "DriftJob", "DriftReport", "landing_row", "summary_payload"]

DRIFT_ADDED_FIELDS = ("report_id", "cells", "reference_rows", "drift_share_threshold")
"""`driftReport` fields of contract 1.2.0: sent only when the loaded contract declares them."""


@dataclass(frozen=True)
class DriftJob:
    """The newest windows one model version scored (standardised, flattened), oldest first, with their
    time spans, the model's spec (JSON) and package folder."""

    model_version: str
    package: Path
    """The serving package's folder (its `reference_profile.parquet` is the reference)."""
    spec: str
    windows: np.ndarray
    start_ms: np.ndarray
    end_ms: np.ndarray
    cells: list[str]

    @classmethod
    def from_windows(cls, taken: dict[str, Any]) -> DriftJob:
        """From the scoring worker's `windows` answer (`ScoringEngine.take_windows`)."""
        return cls(
            model_version=str(taken["version"]),
            package=Path(taken["package"]),
            spec=str(taken["spec"]),
            windows=np.asarray(taken["windows"]),
            start_ms=np.asarray(taken["start_ms"], dtype=np.int64),
            end_ms=np.asarray(taken["end_ms"], dtype=np.int64),
            cells=[str(c) for c in taken["cells"]],
        )

    @property
    def rows(self) -> int:
        return len(self.windows)


@dataclass(frozen=True)
class DriftReport:
    agent: str
    seq: int
    created_ms: int
    job: DriftJob
    column_drift: dict[str, dict[str, Any]]
    """Every column: {drifted, method, score}."""
    drifted_columns: int
    drift_share: float
    drift_share_threshold: float
    reference_rows: int
    report_json: str
    html: bytes

    @property
    def report_id(self) -> str:
        return f"{self.agent}:{self.seq}"

    @property
    def dataset_drift(self) -> bool:
        return self.drift_share >= self.drift_share_threshold

    @property
    def drifted_names(self) -> list[str]:
        return [name for name, column in self.column_drift.items() if column["drifted"]]

    @classmethod
    def from_outcome(
        cls,
        *,
        agent: str,
        seq: int,
        created_ms: int,
        job: DriftJob,
        threshold: float,
        outcome: dict[str, Any],
    ) -> DriftReport:
        """From the drift worker's answer (`drift.worker.report`)."""
        return cls(
            agent=agent,
            seq=seq,
            created_ms=created_ms,
            job=job,
            column_drift={
                str(name): {
                    "drifted": bool(c["drifted"]),
                    "method": str(c["method"])[:128],
                    "score": float(c["score"]),
                }
                for name, c in outcome["columns"].items()
            },
            drifted_columns=int(outcome["drifted"]),
            drift_share=min(1.0, max(0.0, float(outcome["share"]))),
            drift_share_threshold=threshold,
            reference_rows=int(outcome["reference_rows"]),
            report_json=str(outcome["report_json"]),
            html=np.asarray(outcome["html"], dtype=np.uint8).tobytes(),
        )


def _measures(report: DriftReport) -> dict[str, Any]:
    """What the summary and the landing row both say of the report, in the same words."""
    job = report.job
    return {
        "model_version": job.model_version,
        "cells": job.cells,
        "window_start_ms": int(job.start_ms.min()),
        "window_end_ms": int(job.end_ms.max()),
        "rows": job.rows,
        "reference_rows": report.reference_rows,
        "drifted_columns": report.drifted_columns,
        "columns": len(report.column_drift),
        "drift_share": report.drift_share,
        "drift_share_threshold": report.drift_share_threshold,
        "dataset_drift": report.dataset_drift,
    }


def summary_payload(report: DriftReport, report_uri: str, *, declared: Collection[str]) -> dict[str, Any]:
    """The `driftReport` summary; fields of `DRIFT_ADDED_FIELDS` not in `declared` are left out."""
    payload: dict[str, Any] = {
        "report_id": report.report_id,
        "agent": report.agent,
        "timestamp_ms": report.created_ms,
        **_measures(report),
        "column_drift": report.column_drift,
        "report_uri": report_uri,
    }
    for field in DRIFT_ADDED_FIELDS:
        if field not in declared:
            del payload[field]
    return payload


def landing_row(report: DriftReport, summary: bytes, html_file: str) -> dict[str, Any]:
    """The report's one row of `landing_format.DRIFT_SCHEMA`."""
    return {
        "agent": report.agent,
        "report_id": report.report_id,
        "report_seq": report.seq,
        "created_ms": report.created_ms,
        **_measures(report),
        "column_drift": json.dumps(report.column_drift, sort_keys=True),
        "summary": summary.decode("utf-8"),
        "report_json": report.report_json,
        "html_file": html_file,
    }
