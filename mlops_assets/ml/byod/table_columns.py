"""Which columns of a historian export are time, labels and signals (`mlops evaluate`, `mlops replay`):
decided from the data and printed, never tuned by hand per dataset (rules in `detect_columns`)."""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass, field

import numpy as np
import polars as pl

__all__ = [
    "LABEL_NAMES",
    "TableColumns",
    "detect_columns",
    "find_label_column",
    "label_values",
    "time_values",
]

MIN_CLOCK_ROWS = 20
"""Distinct values a numeric column must rise (or fall) through in the training file to be taken as a clock
or counter: a noisy signal rises at every step through 20 values by chance with probability 1/20!, and a
process ramp that does must still run on beyond the training range through the test file to count."""

_TIME_NAMES = frozenset(
    {
        "time",
        "timestamp",
        "datetime",
        "date",
        "ts",
        "t",
        "time_stamp",
        "date_time",
        "time_s",
        "time_ms",
        "timestamp_utc",
        "time_utc",
        "datetime_utc",
        "utc",
        "local_time",
        "sample_time",
        "epoch",
    }
)
LABEL_NAMES = frozenset(
    {
        "label",
        "labels",
        "anomaly",
        "anomalies",
        "is_anomaly",
        "anomaly_label",
        "target",
        "class",
        "outlier",
        "is_outlier",
        "attack",
        "fault",
        "ground_truth",
        "changepoint",
        "machine_status",
        "status_label",
    }
)
_NORMAL_WORDS = frozenset(
    {
        "0",
        "0.0",
        "false",
        "f",
        "no",
        "n",
        "normal",
        "ok",
        "good",
        "nominal",
        "healthy",
        "pass",
        "negative",
        "none",
        "benign",
        "inlier",
        "regular",
        "-1.0e9",
    }
)


def _normalise(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.strip().lower()).strip("_")


def _parses_as_time(column: pl.Series) -> bool:
    if column.dtype != pl.String:
        return False
    sample = column.drop_nulls().head(200)
    if sample.len() == 0:
        return False
    try:
        parsed = sample.str.to_datetime(strict=False, time_unit="us")
    except pl.exceptions.ComputeError:  # no date format fits: not a time column
        return False
    return parsed.is_not_null().sum() >= 0.9 * sample.len()


def _is_index(name: str, column: pl.Series) -> bool:
    if name.strip() == "" or name.startswith("Unnamed") or _normalise(name) in {"index", "idx", "row", "id"}:
        return True
    if not column.dtype.is_numeric() or column.len() < 3 or column.null_count():
        return False
    values = column.to_numpy()
    steps = np.diff(values)
    return bool(np.all(values == np.round(values)) and np.all(steps == 1))


def _finite(column: pl.Series) -> np.ndarray:
    values = column.cast(pl.Float64).drop_nulls().to_numpy()
    return values[np.isfinite(values)]


def _direction(values: np.ndarray) -> tuple[int, bool]:
    """(+1 never falling, -1 never rising, 0 neither or constant; whether at every step strictly)."""
    if np.unique(values).size < 2:
        return 0, False
    steps = np.diff(values)
    if np.all(steps >= 0):
        return 1, bool(np.all(steps > 0))
    if np.all(steps <= 0):
        return -1, bool(np.all(steps < 0))
    return 0, False


@dataclass(frozen=True)
class _Clock:
    direction: int
    """+1 counting up, -1 counting down."""
    strict: bool
    """Rising (falling) at every step through both files: may order the rows as the time column."""
    bound: float
    """The training maximum (minimum) that every test value lies at or beyond."""

    def describe(self) -> str:
        up = self.direction > 0
        if self.strict:
            way = "strictly increasing" if up else "strictly decreasing"
        else:
            way = "non-decreasing" if up else "non-increasing"
        side = "at or above the training maximum" if up else "at or below the training minimum"
        return (
            f"numeric and {way} through the training and the test file, every test value {side} "
            f"{self.bound:g}: a clock or counter"
        )


def _clock(train: pl.Series, test: pl.Series | None) -> tuple[_Clock | None, str]:
    """The column as a clock or counter (see `detect_columns`), else None and, when its test values lie
    beyond the training range without moving, why it stays a signal (else "")."""
    values = _finite(train)
    direction, strict = _direction(values)
    if direction == 0 or np.unique(values).size < MIN_CLOCK_ROWS:
        return None, ""
    if test is None or not test.dtype.is_numeric():  # missing (an error later) or text: no clock
        return None, ""
    later = _finite(test)
    bound = float(values.max() if direction > 0 else values.min())
    beyond = later.size > 0 and bool(np.all(later >= bound) if direction > 0 else np.all(later <= bound))
    if not beyond:  # some test value lies on the training side of the bound: a signal (a ramp again)
        return None, ""
    if np.unique(later).size < 2:
        return None, (
            f"column {test.name!r} {'rises' if direction > 0 else 'falls'} through the training file and "
            "its test values lie beyond the training range, but take one value only: a clock or counter "
            "cannot be told from a signal out of range there, so it stays a signal and may flag every "
            "row; if it is a clock or counter, leave it out of both files"
        )
    test_direction, test_strict = _direction(later)
    if test_direction != direction:  # moving back and forth beyond the range: a signal out of range
        return None, ""
    return _Clock(direction, strict and test_strict, bound), ""


@dataclass(frozen=True)
class TableColumns:
    time: str | None
    label: str | None
    signals: list[str]
    ignored: dict[str, str] = field(default_factory=dict)
    time_reason: str = ""
    """Why the time column is the time column (printed)."""
    notes: list[str] = field(default_factory=list)
    """Doubts worth printing (a column kept as a signal that may be a counter)."""


def detect_columns(
    train: pl.DataFrame,
    time: str | None,
    label: str | None,
    also_labels: Collection[str] = (),
    test: pl.DataFrame | None = None,
) -> TableColumns:
    """Decide the time, label and signal columns from the training file. `also_labels`: other names that
    hold labels (the test file's label column), never signals. `test`: the file to be scored.

    - time: given, or the first column named like a time (`time`, `timestamp`, `ts`, ...) or whose text
      parses as dates;
    - index columns (an unnamed column, or integers counting up by one) are not signals;
    - clocks and counters (with `test`): a numeric column that never falls through the training file,
      over at least `MIN_CLOCK_ROWS` distinct values, never falls through the test file either (at least
      2 distinct values there), and whose test values all lie at or above the training maximum is no
      signal: as one, every test row would look anomalous (mirrored: never rising, at or below the
      training minimum). Test values beyond the range that do not move (one row, or one value) cannot
      tell a counter from a signal out of range: it stays a signal, with a note. With no time column
      otherwise, the first clock rising at every step through both files orders the rows;
    - labels: given, or a column named like a label (`LABEL_NAMES`); never signals;
    - signals: every other numeric column of the training file."""
    if time is not None and time not in train.columns:
        raise ValueError(f"--time-column {time!r} is not a column of the training file: {train.columns}")
    reason = "given (--time-column)" if time is not None else ""
    if time is None:
        for c in train.columns:
            if _normalise(c) in _TIME_NAMES:
                time, reason = c, "named like a time"
                break
            if _parses_as_time(train[c]):
                time, reason = c, "its text parses as dates"
                break
    ignored: dict[str, str] = {}
    signals: list[str] = []
    notes: list[str] = []
    for name in train.columns:
        column = train[name]
        if name == time:
            continue
        if name == label or name in also_labels or (label is None and _normalise(name) in LABEL_NAMES):
            ignored[name] = "label"
        elif not column.dtype.is_numeric():
            ignored[name] = "not numeric"
        elif _is_index(name, column):
            ignored[name] = "row index"
        elif column.null_count() == column.len():
            ignored[name] = "empty"
        else:
            clock, doubt = _clock(column, _column(test, name)) if test is not None else (None, "")
            if clock is None:
                signals.append(name)
                notes += [doubt] if doubt else []
            elif time is None and clock.direction > 0 and clock.strict:
                time, reason = name, f"{clock.describe()} that orders the rows, not a signal"
            else:
                ignored[name] = (
                    f"{clock.describe()}, not a signal (its test values lie beyond the training range: "
                    "every row would look anomalous)"
                )
    if not signals:
        raise ValueError(f"no numeric signal column in the training file (columns: {train.columns})")
    return TableColumns(
        time=time, label=label, signals=signals, ignored=ignored, time_reason=reason, notes=notes
    )


def _column(frame: pl.DataFrame, name: str) -> pl.Series | None:
    return frame[name] if name in frame.columns else None


def find_label_column(frame: pl.DataFrame, given: str | None) -> str | None:
    """The label column of a file: the given one (must exist), or one named like a label, or None."""
    if given is not None:
        if given not in frame.columns:
            raise ValueError(f"--label-column {given!r} is not a column of {frame.columns}")
        return given
    for name in frame.columns:
        if _normalise(name) in LABEL_NAMES - {"changepoint"}:
            return name
    return None


def label_values(column: pl.Series) -> tuple[np.ndarray, str]:
    """Labels as 0/1 and a sentence saying how they were read: 0/1, booleans, or words (normal-sounding
    words are 0, the rest 1). Missing labels count as normal (0)."""
    if column.dtype == pl.Boolean:
        return column.fill_null(False).cast(pl.Int8).to_numpy(), "booleans: true = anomalous"
    if column.dtype.is_numeric():
        values = column.cast(pl.Float64).fill_null(0.0).fill_nan(0.0).to_numpy()
        return (values != 0).astype(np.int8), "numbers: non-zero = anomalous"
    text = column.cast(pl.String).str.strip_chars().str.to_lowercase().fill_null("")
    distinct = [v for v in text.unique().to_list() if v]
    normal = {v for v in distinct if v in _NORMAL_WORDS}
    if not normal and distinct:
        # No word we know: the most frequent value is taken as normal (anomalies are the minority).
        normal = {text.filter(text != "").mode().sort()[0]}
    labels = (~text.is_in(sorted(normal)) & (text != "")).cast(pl.Int8).to_numpy()
    return labels, f"text: {sorted(normal)} = normal, {sorted(set(distinct) - normal)} = anomalous"


def time_values(column: pl.Series) -> np.ndarray | None:
    """The time column as float seconds (dates parsed), or None when it cannot be read as time."""
    if column.dtype.is_numeric():
        return column.cast(pl.Float64).to_numpy()
    if column.dtype == pl.String:
        try:
            parsed = column.str.to_datetime(strict=False, time_unit="us")
        except pl.exceptions.ComputeError:
            return None
        if parsed.is_not_null().sum() >= 0.9 * max(column.len(), 1):
            return parsed.dt.epoch("us").cast(pl.Float64).to_numpy() / 1e6
    if column.dtype == pl.Datetime:
        return column.dt.epoch("us").cast(pl.Float64).to_numpy() / 1e6
    return None
