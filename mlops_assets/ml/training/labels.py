"""Weld quality labels: which welds are known bad, from inspection or from a simulator's ground truth.

They live in the lake as `silver/weld_labels` (line, weld_id, is_anomaly, label, source, labelled_at):
training leaves known-bad welds out, evaluation measures against them. Absent labels mean "not known
bad", which is how a plant's data looks.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence

import polars as pl

from edge_agent.domain import FlashButtRecord, SentBatch
from mlops_assets.lake import LakeStore, TableRef

__all__ = ["WELD_LABELS", "flash_butt_labels", "label_map", "simulator_labels", "write_labels"]

WELD_LABELS = TableRef("silver", "weld_labels")
_SCHEMA: dict[str, pl.DataType] = {
    "line": pl.String(),
    "weld_id": pl.String(),
    "is_anomaly": pl.Boolean(),
    "label": pl.String(),
    "source": pl.String(),
    "labelled_at": pl.Datetime("us", "UTC"),
}


def _frame(line: str, rows: Iterable[tuple[str, bool, str | None]], source: str) -> pl.DataFrame:
    now = dt.datetime.now(dt.UTC)
    data = [(line, weld, bad, label, source, now) for weld, bad, label in rows]
    return pl.DataFrame(data, schema=_SCHEMA, orient="row").unique(
        ["line", "weld_id"], keep="last", maintain_order=True
    )


def flash_butt_labels(records: Sequence[FlashButtRecord], line: str) -> pl.DataFrame:
    """Folder labels of the real flash-butt welds (`bad/` = anomalous)."""
    return _frame(
        line, ((r.weld_id, not r.good, None if r.good else "bad_weld") for r in records), "flash_butt_folder"
    )


def simulator_labels(sent: Iterable[SentBatch], line: str) -> pl.DataFrame:
    """Ground truth of a simulated run: every weld that was published, bad when it carried a defect."""
    seen: dict[str, str | None] = {}
    for batch in sent:
        seen.setdefault(batch.weld_id, batch.label)
    return _frame(line, ((w, label is not None, label) for w, label in seen.items()), "simulator")


def write_labels(store: LakeStore, labels: pl.DataFrame) -> int | None:
    """Upsert labels for their lines (one commit per call); returns the table version."""
    if labels.height == 0:
        return store.version(WELD_LABELS)
    lines = labels["line"].unique().to_list()
    predicate = " OR ".join(f"line = '{line}'" for line in lines)
    existing = (
        store.read(WELD_LABELS, where=pl.col("line").is_in(lines)) if store.exists(WELD_LABELS) else None
    )
    merged = (
        labels
        if existing is None or existing.height == 0
        else pl.concat([existing.select(list(_SCHEMA)), labels]).unique(
            ["line", "weld_id"], keep="last", maintain_order=True
        )
    )
    return store.replace_where(WELD_LABELS, merged, predicate, partition_by=["line"]).version


def label_map(store: LakeStore, line: str) -> dict[str, bool]:
    """weld_id -> is_anomaly for one line (empty when there is no label table)."""
    frame = store.read(WELD_LABELS, line=line, columns=["weld_id", "is_anomaly"])
    if frame.height == 0:
        return {}
    return dict(zip(frame["weld_id"].to_list(), frame["is_anomaly"].to_list(), strict=True))
