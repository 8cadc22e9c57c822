"""`mlops evaluate` end to end: two CSV files in, one score per test row out (input order kept)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from mlops_assets.ml.autoencoder.dataset import Segment
from mlops_assets.ml.autoencoder.metrics import detection_metrics
from mlops_assets.ml.autoencoder.trainer import EpochReport
from mlops_assets.ml.byod.csv_table import read_table
from mlops_assets.ml.byod.detector import (
    DetectorOptions,
    FittedDetector,
    fit_detector,
    row_segments,
    score_rows,
)
from mlops_assets.ml.byod.table_columns import (
    TableColumns,
    detect_columns,
    find_label_column,
    label_values,
    time_values,
)

__all__ = ["EvaluationRun", "evaluate_files", "segments_of"]

log = logging.getLogger(__name__)


@dataclass
class EvaluationRun:
    columns: TableColumns
    detector: FittedDetector
    scores: np.ndarray
    is_anomaly: np.ndarray
    labels: np.ndarray | None
    metrics: dict[str, Any] | None
    notes: list[str] = field(default_factory=list)


def segments_of(frame: pl.DataFrame, signals: list[str], time_column: str | None) -> list[Segment]:
    missing = [s for s in signals if s not in frame.columns]
    if missing:
        raise ValueError(f"the file lacks the signal columns {missing} found in the training file")
    non_numeric = [s for s in signals if not frame[s].dtype.is_numeric()]
    if non_numeric:
        examples = {s: frame[s].drop_nulls().head(1).to_list() for s in non_numeric}
        raise ValueError(
            f"the columns {non_numeric} are numeric in the training file but hold text in this one "
            f"(e.g. {examples})"
        )
    values = frame.select([pl.col(s).cast(pl.Float64) for s in signals]).to_numpy()
    times = time_values(frame[time_column]) if time_column and time_column in frame.columns else None
    return [
        Segment(key=f"rows {a}-{b - 1}", values=values[a:b], start=float(a), first_row=a)
        for a, b in row_segments(len(values), times)
    ]


def evaluate_files(
    train_path: Path,
    test_path: Path,
    out_path: Path | None,
    label_column: str | None = None,
    time_column: str | None = None,
    sep: str | None = None,
    options: DetectorOptions | None = None,
    on_epoch: Callable[[EpochReport], None] | None = None,
    header: bool | None = None,
) -> EvaluationRun:
    """Train on `train_path`, score every data row of `test_path` (blank lines are not rows); write
    `score,is_anomaly` per row, in input order, to `out_path`. `label_column` names the test file's
    labels (else detected by name); the training file's own label column (the same name, else detected
    by name) is never a signal, and the rows it marks anomalous do not train. `header`: whether the
    files' first line names the columns (None: decided per file)."""
    notes: list[str] = []
    options = options or DetectorOptions()
    train = read_table(train_path, sep, header)
    test = read_table(test_path, sep, header)
    if train.height == 0 or test.height == 0:
        raise ValueError(f"{train_path if train.height == 0 else test_path}: no data rows")
    test_label = find_label_column(test, label_column)
    train_label = find_label_column(train, label_column if label_column in train.columns else None)
    columns = detect_columns(
        train,
        time_column,
        train_label or test_label or label_column,
        also_labels=[name for name in (test_label, label_column) if name is not None],
        test=test,
    )
    if time_column is not None and time_column not in test.columns:
        raise ValueError(f"--time-column {time_column!r} is not a column of the test file")
    notes += [f"test file: {doubt}" for doubt in columns.notes]
    columns = _without_signals_empty_in(test, columns, notes)
    train_segments = segments_of(train, columns.signals, columns.time)
    if train_label is not None:
        # Rows labelled anomalous in the "normal" file must not teach the model what normal is. A column
        # marking most rows anomalous is no anomaly label of a normal file (a set point named "target"):
        # it is left out of the signals but drops nothing.
        bad, how = label_values(train[train_label])
        if bad.mean() > 0.5:
            notes.append(
                f"training file: column {train_label!r} would mark {bad.mean():.0%} of the rows anomalous "
                f"({how}); not used as labels, no rows left out"
            )
        elif bad.any():
            notes.append(
                f"training file: {int(bad.sum())} rows labelled anomalous in column {train_label!r} "
                f"({how}) left out"
            )
            train_segments = _drop_rows(train_segments, bad.astype(bool))
    # The test file's columns are checked before training: a missing signal is an error in seconds,
    # not after minutes of training.
    test_segments = segments_of(test, columns.signals, columns.time)
    detector = fit_detector(train_segments, columns.signals, options, on_epoch)
    scores = np.full(test.height, np.nan)
    for segment, rows in zip(test_segments, score_rows(detector, test_segments), strict=True):
        scores[segment.first_row : segment.first_row + segment.n_rows] = rows
    is_anomaly = (scores > detector.threshold.value).astype(np.int8)
    labels = metrics = None
    if test_label is not None:
        labels, how = label_values(test[test_label])
        notes.append(f"labels from column {test_label!r}: {how}")
        metrics = detection_metrics(labels, scores, detector.threshold.value)
    if out_path is not None:
        out_path.parent.mkdir(parents=True, exist_ok=True)
        pl.DataFrame({"score": scores, "is_anomaly": is_anomaly}).write_csv(out_path)
    return EvaluationRun(columns, detector, scores, is_anomaly, labels, metrics, notes)


def _without_signals_empty_in(test: pl.DataFrame, columns: TableColumns, notes: list[str]) -> TableColumns:
    """A signal with no value at all in the test file cannot be scored (carrying values forward needs one
    to carry): the model is trained on the other signals, and the note says so. None left: an error."""
    empty = [s for s in columns.signals if s in test.columns and test[s].null_count() == test.height]
    if not empty:
        return columns
    kept = [s for s in columns.signals if s not in empty]
    if not kept:
        raise ValueError(
            f"the test file has no value at all in any signal column ({empty}): nothing to score; "
            "export the test file with these columns filled"
        )
    notes.append(
        f"test file: the signal columns {empty} have no value at all; the model is trained and scores on "
        f"the other signals only ({kept}). Export them with values to have them judged"
    )
    why = "no value at all in the test file: left out of the model"
    return replace(columns, signals=kept, ignored={**columns.ignored, **dict.fromkeys(empty, why)})


def _drop_rows(segments: list[Segment], bad: np.ndarray) -> list[Segment]:
    """Split segments around rows labelled anomalous, keeping only the normal runs."""
    out: list[Segment] = []
    for seg in segments:
        flags = bad[seg.first_row : seg.first_row + seg.n_rows]
        start = None
        for i, flag in enumerate([*flags.tolist(), True]):
            if not flag and start is None:
                start = i
            elif flag and start is not None:
                out.append(
                    Segment(
                        key=f"rows {seg.first_row + start}-{seg.first_row + i - 1}",
                        values=seg.values[start:i],
                        start=float(seg.first_row + start),
                        first_row=seg.first_row + start,
                    )
                )
                start = None
    return out
