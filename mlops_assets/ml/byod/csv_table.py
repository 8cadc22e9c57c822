"""A historian export (CSV) as a frame for `mlops evaluate` and `mlops replay`: separator, header and
numeric columns decided from the data, blank lines not rows."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import polars as pl

__all__ = ["NULL_SPELLINGS", "read_table", "sniff_separator"]

NULL_SPELLINGS = [
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
"""Cell texts read as a missing value."""


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
    if cell in NULL_SPELLINGS:
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
    """A CSV as a frame, one row per data line (blank lines are not rows): a text column whose values are
    mostly numbers (decimal commas, stray `n/a`s) becomes Float64, others stay text. `sep`: given, or the
    most frequent of `, ; TAB |` on the first line. `header`: whether the first line names the columns
    (None: decided from the first two lines, see `_has_header`)."""
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    sep = sep or sniff_separator(path)
    header = _has_header(path, sep) if header is None else header
    frame = pl.read_csv(
        _data_bytes(path),
        separator=sep,
        has_header=header,
        infer_schema=False,  # all text: we decide per column, robustly, below
        null_values=NULL_SPELLINGS,
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
