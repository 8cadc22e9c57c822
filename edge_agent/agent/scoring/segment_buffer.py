"""The samples of a cell's open segment, as the scorer keeps them: fill-forwarded, one column per signal.

Rows are appended batch by batch; a signal first seen mid-segment reads NaN before it (as the lake's
null), and a missing value carries the last valid one forward (`edge_agent.features.fill_missing`, done
incrementally). `trim` forgets rows before a given index for segments that are not welds (a continuous
stream never closes), keeping the indexes of the rows that remain.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from edge_agent.features.telemetry_block import TelemetryBlock

__all__ = ["BatchSpan", "SegmentBuffer"]


@dataclass(frozen=True, slots=True)
class BatchSpan:
    """Where a batch's samples sit in the segment: rows [start, start + n_samples)."""

    seq: int
    start: int
    n_samples: int
    timestamp_ms: int
    sample_interval_ms: float

    def sample_ms(self, row: int) -> int:
        offset_us = round((row - self.start) * self.sample_interval_ms * 1000.0)
        return (self.timestamp_ms * 1000 + offset_us) // 1000


@dataclass
class SegmentBuffer:
    names: list[str] = field(default_factory=list)
    values: np.ndarray = field(default_factory=lambda: np.empty((0, 0), dtype=np.float64))
    offset: int = 0
    """Segment index of row 0 of `values`."""
    n: int = 0
    """Samples in the segment so far (held or trimmed)."""
    spans: list[BatchSpan] = field(default_factory=list)
    last_valid: dict[str, float] = field(default_factory=dict)

    @property
    def held(self) -> int:
        return self.n - self.offset

    def _column(self, name: str) -> int:
        if name not in self.names:
            self.names.append(name)
            grown = np.full((self.values.shape[0], len(self.names)), np.nan, dtype=np.float64)
            grown[:, : self.values.shape[1]] = self.values
            self.values = grown
        return self.names.index(name)

    def _reserve(self, rows: int) -> None:
        need = self.held + rows
        if need > self.values.shape[0]:
            grown = np.full((max(need, 2 * self.values.shape[0], 64), len(self.names)), np.nan)
            grown[: self.held] = self.values[: self.held]
            self.values = grown

    def append(self, block: TelemetryBlock) -> BatchSpan:
        for name in block.signals:
            self._column(name)
        self._reserve(block.n_samples)
        rows = self.values[self.held : self.held + block.n_samples]
        rows[:] = np.nan
        for name, samples in block.signals.items():
            column = self.names.index(name)
            filled = np.asarray(samples, dtype=np.float64)
            if not np.isfinite(filled).all():
                filled = _carry_forward(filled, self.last_valid.get(name))
            rows[:, column] = filled
            finite = np.flatnonzero(np.isfinite(filled))
            if finite.size:
                self.last_valid[name] = float(filled[finite[-1]])
        for name in self.names:  # a signal the batch lacks carries its last value over the batch
            if name not in block.signals and name in self.last_valid:
                rows[:, self.names.index(name)] = self.last_valid[name]
        span = BatchSpan(block.seq, self.n, block.n_samples, block.timestamp_ms, block.sample_interval_ms)
        self.spans.append(span)
        self.n += block.n_samples
        return span

    def rows(self, start: int, stop: int, signals: tuple[str, ...]) -> np.ndarray:
        """Segment rows [start, stop) of `signals`, in that order; a signal never seen is all NaN."""
        if start < self.offset or stop > self.n:
            raise IndexError(f"rows {start}..{stop} not held (held {self.offset}..{self.n})")
        out = np.full((stop - start, len(signals)), np.nan, dtype=np.float64)
        for index, name in enumerate(signals):
            if name in self.names:
                out[:, index] = self.values[start - self.offset : stop - self.offset, self.names.index(name)]
        return out

    def span_of(self, row: int) -> BatchSpan:
        """The batch that holds segment row `row` (spans are in order; the search is from the end)."""
        for span in reversed(self.spans):
            if span.start <= row:
                return span
        raise IndexError(f"row {row} is before the first batch still held")

    def samples_ms(self, rows: np.ndarray) -> np.ndarray:
        """`BatchSpan.sample_ms` of held segment rows given in ascending order (int64). A plain loop: for
        the dozen rows of a batch it is faster than numpy's small-array overhead."""
        spans = self.spans
        index = len(spans) - 1
        first = int(rows[0]) if len(rows) else 0
        while index > 0 and spans[index].start > first:
            index -= 1
        if spans[index].start > first:
            raise IndexError(f"row {first} is before the first batch still held")
        out = []
        for row in rows.tolist():
            while index + 1 < len(spans) and spans[index + 1].start <= row:
                index += 1
            out.append(spans[index].sample_ms(row))
        return np.array(out, dtype=np.int64)

    def trim(self, keep_from: int) -> None:
        """Forget rows before `keep_from` (never rows not yet held)."""
        keep_from = min(keep_from, self.n)
        drop = keep_from - self.offset
        if drop <= 0:
            return
        held = self.held
        self.values[: held - drop] = self.values[drop:held]
        self.offset = keep_from
        while len(self.spans) > 1 and self.spans[1].start <= keep_from:
            self.spans.pop(0)


def _carry_forward(values: np.ndarray, previous: float | None) -> np.ndarray:
    out = values.copy()
    last = previous if previous is not None else np.nan
    for index, value in enumerate(out):
        if np.isfinite(value):
            last = value
        else:
            out[index] = last
    return out
