"""A historian export (CSV) as welds for the simulator's publisher (`mlops replay`): columns become
contract signal names, missing values are carried forward (the contract has no NaN), and a time column
going backwards or jumping starts a new weld, as in `mlops evaluate`."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edge_agent.domain import Weld
from edge_agent.features import fill_missing
from mlops_assets.ml.byod.csv_table import read_table
from mlops_assets.ml.byod.detector import row_segments
from mlops_assets.ml.byod.table_columns import detect_columns, time_values

__all__ = ["MAX_SIGNALS", "ReplaySource", "read_replay_source", "signal_name"]

MAX_SIGNALS = 32  # the contract's maxProperties of `signals`
_SIGNAL = re.compile(r"^[a-z][a-z0-9_]{0,47}$")


def signal_name(column: str) -> str:
    """A contract signal name (`^[a-z][a-z0-9_]{0,47}$`) for `column`: lower case, every run of other
    characters -> `_`, a leading digit gets `s_`, cut to 48 characters."""
    name = re.sub(r"[^a-z0-9]+", "_", column.strip().lower()).strip("_") or "signal"
    if not name[0].isalpha():
        name = f"s_{name}"
    return name[:48].rstrip("_") or "signal"


def _unique_names(columns: Sequence[str]) -> dict[str, str]:
    """`signal_name` of each column; a clash gets `_2`, `_3`, ... in column order."""
    mapping: dict[str, str] = {}
    used: set[str] = set()
    for column in columns:
        base = signal_name(column)
        name, k = base, 2
        while name in used:
            suffix = f"_{k}"
            name = base[: 48 - len(suffix)] + suffix
            k += 1
        assert _SIGNAL.match(name), name
        used.add(name)
        mapping[column] = name
    return mapping


@dataclass(frozen=True)
class ReplaySource:
    welds: list[Weld]
    mapping: dict[str, str]
    """CSV column -> signal name on the UNS."""
    sample_interval_ms: float
    time_column: str | None
    ignored: dict[str, str]


def read_replay_source(
    path: Path,
    *,
    start_ms: int,
    sep: str | None = None,
    time_column: str | None = None,
    label_column: str | None = None,
    interval_ms: float | None = None,
    signals: Sequence[str] | None = None,
) -> ReplaySource:
    frame = read_table(path, sep)
    if frame.height == 0:
        raise ValueError(f"{path}: no data rows")
    columns = detect_columns(frame, time_column, label_column)
    chosen = list(signals) if signals else columns.signals
    unknown = [c for c in chosen if c not in columns.signals]
    if unknown:
        raise ValueError(f"--signals {unknown} are not numeric signal columns of {path} ({columns.signals})")
    if len(chosen) > MAX_SIGNALS:
        raise ValueError(
            f"{len(chosen)} signal columns, the contract carries at most {MAX_SIGNALS}: pick some with --signals"
        )
    times = time_values(frame[columns.time]) if columns.time else None
    if interval_ms is None:
        steps = np.diff(times) if times is not None and len(times) > 1 else np.empty(0)
        steps = steps[np.isfinite(steps) & (steps > 0)]
        # Rounded to the microsecond: epoch seconds in float64 carry ~1e-7 s of noise.
        interval_ms = round(float(np.median(steps) * 1000.0), 3) if steps.size else 1000.0
    if not 0 < interval_ms <= 60_000:
        raise ValueError(f"sample interval {interval_ms} ms is outside the contract's (0, 60000]")
    mapping = _unique_names(chosen)
    values = fill_missing(frame.select(chosen).cast({c: float for c in chosen}).to_numpy())
    # Leading gaps have nothing to carry forward: take the first value that follows.
    for j in range(values.shape[1]):
        column = values[:, j]
        finite = np.flatnonzero(np.isfinite(column))
        if finite.size == 0:
            raise ValueError(f"column {chosen[j]!r} has no value at all")
        column[: finite[0]] = column[finite[0]]
    stem = re.sub(r"[^A-Za-z0-9_.:-]+", "-", path.stem).strip("-.") or "replay"
    welds, clock = [], float(start_ms)
    for k, (a, b) in enumerate(row_segments(len(values), times)):
        weld = Weld(
            weld_id=f"{stem[:50]}-{k:05d}",
            start_ms=int(clock),
            sample_interval_ms=interval_ms,
            signals={mapping[c]: np.ascontiguousarray(values[a:b, j]) for j, c in enumerate(chosen)},
        )
        welds.append(weld)
        clock += weld.duration_ms + interval_ms
    return ReplaySource(welds, mapping, interval_ms, columns.time, columns.ignored)
