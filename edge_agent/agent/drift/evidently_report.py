"""Evidently's data drift report of profile rows against a reference profile, read into plain values.

Imported only by the drift worker process: evidently costs seconds and hundreds of MB to import, which
the agent process never pays. Evidently 0.7 has no dataset-level drift flag: the share comes from the
`DriftedColumnsCount` metric, each column's score and method from its `ValueDrift` metric, and whether
it drifted from that metric's test (`FAIL`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import pandas as pd
from evidently import DataDefinition, Dataset, Report
from evidently.presets import DataDriftPreset

__all__ = ["ColumnDrift", "DriftOutcome", "drift_report"]


@dataclass(frozen=True)
class ColumnDrift:
    drifted: bool
    method: str
    score: float


@dataclass(frozen=True)
class DriftOutcome:
    columns: dict[str, ColumnDrift]
    drifted: int
    share: float
    report_json: str
    html: str


def drift_report(
    current: pd.DataFrame,
    reference: pd.DataFrame,
    drift_share: float,
    *,
    method: str = "psi",
    threshold: float | None = 0.2,
) -> DriftOutcome:
    """Every column of `current` (numeric) compared with the same column of `reference` by `method`
    (an Evidently stattest name), drifted from `threshold` on (None: Evidently's for the method)."""
    names = list(current.columns)
    definition = DataDefinition(numerical_columns=names)
    preset = DataDriftPreset(drift_share=drift_share, method=method, threshold=threshold)
    snapshot = Report([preset], include_tests=True).run(
        current_data=Dataset.from_pandas(current, data_definition=definition),
        reference_data=Dataset.from_pandas(reference[names], data_definition=definition),
    )
    document = snapshot.dict()
    columns, drifted, share = _read(document, names)
    return DriftOutcome(columns, drifted, share, snapshot.json(), snapshot.get_html_str(as_iframe=False))


def _read(document: dict[str, Any], names: list[str]) -> tuple[dict[str, ColumnDrift], int, float]:
    failed = {
        test["metric_config"]["metric_id"]
        for test in document.get("tests", [])
        if test.get("status") == "FAIL"
    }
    tested = {test["metric_config"]["metric_id"] for test in document.get("tests", [])}
    columns: dict[str, ColumnDrift] = {}
    count: dict[str, float] | None = None
    for metric in document["metrics"]:
        kind = str(metric["config"].get("type", ""))
        if kind.endswith(":DriftedColumnsCount"):
            count = metric["value"]
        elif kind.endswith(":ValueDrift"):
            if metric["id"] not in tested:
                raise ValueError(f"Evidently gave no drift test for column {metric['config']['column']}")
            score = float(metric["value"])
            columns[str(metric["config"]["column"])] = ColumnDrift(
                drifted=metric["id"] in failed,
                method=str(metric["config"]["method"]),
                score=score if math.isfinite(score) else 0.0,  # JSON has no NaN; the test still decides
            )
    if count is None or set(columns) != set(names):
        raise ValueError(
            f"Evidently's report lacks the drift of {sorted(set(names) - set(columns))} or its count"
        )
    return columns, int(count["count"]), float(count["share"])
