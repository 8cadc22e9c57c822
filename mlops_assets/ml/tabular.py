"""Reading historian exports (CSV) for `mlops evaluate`: columns, time, labels, signals.

Everything is decided from the data and printed, nothing is tuned by hand per dataset:
- separator: given, or the most frequent of `, ; TAB |` on the first line; a header when the first
  line has text where the second has numbers or dates (so a headerless export starting with a time
  stamp keeps its first row), none when its cells read like the second line's; blank lines are not rows;
- a text column whose values are mostly numbers (decimal commas, stray `n/a`s) is numeric;
- the time column: given, or the first column named like a time (`time`, `timestamp`, `datetime`,
  `date`, `ts`, ...) or whose text parses as dates;
- index columns (an unnamed column, or integers counting up by one) are not signals;
- clocks and counters (given the test file too): a numeric column that never falls through the training
  file, over at least 20 distinct values, never falls through the test file either (at least 2 distinct
  values there), and whose test values all lie at or above the training maximum is no signal: as one,
  every test row would lie beyond the training range and look anomalous (mirrored: never rising, at or
  below the training minimum). A column whose test values lie beyond the training range but do not move
  (one row, or one value) cannot tell a counter from a signal out of range: it stays a signal, with a
  note. With no time column otherwise, the first clock rising at every step through both files orders
  the rows as the time column;
- label columns: given, or a column named like a label (`label`, `anomaly`, `is_anomaly`, `target`, ...);
  labels may be 0/1, booleans or strings (normal-sounding words are 0, the rest 1);
- signals: every other numeric column of the training file.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl

__all__ = [
    "LABEL_NAMES",
    "TableColumns",
    "detect_columns",
    "find_label_column",
    "label_values",
    "read_table",
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
_NULLS = [
    "",
    "NA",
    "N/A",
    "n/a",
    "NaN",
    "nan",
    "NAN",
    "null",
    "NULL",
    "None",
    "none",
    "?",
    "-",
    "--",
    "#N/A",
    "inf",
    "-inf",
]


def _normalise(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.strip().lower()).strip("_")


def _first_lines(path: Path, n: int) -> list[str]:
    """The first `n` lines that are not blank (blank lines are not rows, as in pandas)."""
    found: list[str] = []
    with path.open("r", encoding="utf-8", errors="replace") as handle:
        for line in handle:
            if line.strip():
                found.append(line)
                if len(found) == n:
                    break
    return found


def sniff_separator(path: Path) -> str:
    first = (_first_lines(path, 1) or [""])[0]
    counts = {sep: first.count(sep) for sep in (",", ";", "\t", "|")}
    best = max(counts, key=lambda s: counts[s])
    return best if counts[best] > 0 else ","


_DATE = re.compile(
    r"(\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}([ T]\d{1,2}:\d{2}(:\d{2}([.,]\d+)?)?)?|\d{1,2}:\d{2}(:\d{2}([.,]\d+)?)?)"
    r"\s*(Z|UTC|[+-]\d{2}:?\d{2})?"
)


def _cell_kind(text: str) -> str:
    """`number`, `date`, `empty` (also the null spellings) or `text`."""
    cell = text.strip().strip('"').strip()
    if cell in _NULLS:
        return "empty"
    try:
        float(cell.replace(",", "."))
        return "number"
    except ValueError:
        pass
    return "date" if _DATE.fullmatch(cell) else "text"


def _has_header(path: Path, sep: str) -> bool:
    """Whether the first line names the columns. It does when one of its cells is text where the second
    line holds a number or a date; it does not when its cells read like the second line's (a headerless
    export starting with a time stamp keeps its first row). Undecided (a lone line, text columns only):
    a header unless every cell is a number."""
    rows = list(csv.reader(_first_lines(path, 2), delimiter=sep))
    if not rows:
        return False
    first = [_cell_kind(c) for c in rows[0]]
    if len(rows) > 1:
        second = [_cell_kind(c) for c in rows[1]]
        if any(a == "text" and b in ("number", "date") for a, b in zip(first, second, strict=False)):
            return True
        if any(a in ("number", "date") and a == b for a, b in zip(first, second, strict=False)):
            return False
    return not all(k in ("number", "date", "empty") for k in first)


_BLANK_LINE = re.compile(rb"(?:\A|\n)[ \t\r]*\n|\n[ \t\r]+\Z")


def _data_bytes(path: Path) -> bytes:
    """The file's bytes without blank lines: a blank line is not a row (pandas skips them too), and an
    extra row would put every later score on the wrong row."""
    data = path.read_bytes()
    if not _BLANK_LINE.search(data):
        return data
    return b"".join(line for line in data.splitlines(keepends=True) if line.strip())


def _to_number(column: pl.Series) -> pl.Series | None:
    """The column as Float64 when at least 90 % of its non-empty values read as numbers (all of them
    when it has none: an empty column is an empty numeric one), else None."""
    if column.dtype.is_numeric():
        return column.cast(pl.Float64)
    if column.dtype == pl.Boolean:
        return column.cast(pl.Float64)
    if column.dtype != pl.String:
        return None
    text = column.str.strip_chars()
    present = text.is_not_null() & (text != "")
    if present.sum() == 0:  # no value at all: an empty numeric column (not a text one)
        return pl.Series(column.name, [None] * column.len(), dtype=pl.Float64)
    for candidate in (text, text.str.replace_all(",", ".", literal=True)):
        number = candidate.cast(pl.Float64, strict=False)
        if number.is_not_null().sum() >= 0.9 * float(present.sum()):
            return number
    return None


def read_table(path: Path, sep: str | None = None, header: bool | None = None) -> pl.DataFrame:
    """A CSV as a frame, one row per data line (blank lines are not rows): numeric-looking text columns
    become Float64, others stay text. `header`: whether the first line names the columns (None:
    decided from the first two lines)."""
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    sep = sep or sniff_separator(path)
    header = _has_header(path, sep) if header is None else header
    frame = pl.read_csv(
        _data_bytes(path),
        separator=sep,
        has_header=header,
        infer_schema=False,  # all text: we decide per column, robustly, below
        null_values=_NULLS,
        truncate_ragged_lines=True,
        encoding="utf8-lossy",
    )
    if not header:
        frame = frame.rename({c: f"column_{i}" for i, c in enumerate(frame.columns)})
    columns = []
    for name in frame.columns:
        as_number = _to_number(frame[name])
        columns.append(as_number.alias(name) if as_number is not None else frame[name])
    return pl.DataFrame(columns)


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
    """The column as a clock or counter (see the module docstring), else None and, when its test values
    lie beyond the training range without moving, why it stays a signal (else "")."""
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
    """Decide the time, label and signal columns from the training file (see the module docstring).
    `also_labels`: other names that hold labels (the test file's label column), never signals. `test`:
    the file to be scored; given, numeric clocks and counters running on through it beyond the training
    range are no signals."""
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
    """Labels as 0/1 and a sentence saying how they were read. Missing labels count as normal (0)."""
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
