"""Where a cell's stream is cut into segments: the one rule the lake's training data and the edge share.

A segment is a weld when weld ids are present: a new one starts where the weld id changes. Without weld
ids, a new one starts after a pause longer than `GAP_FACTOR` sample intervals (of the sample after the
pause, never less than 1 ms). The lake applies the rule to whole columns (`new_segment_flags`), the edge
to each batch as it arrives (`segment_break`); both read sample times in whole milliseconds as the lake
stores them (`TelemetryBlock.sample_ms`).
"""

from __future__ import annotations

from typing import Literal

import numpy as np

__all__ = ["GAP_FACTOR", "SegmentBreak", "new_segment_flags", "segment_break"]

GAP_FACTOR = 10.0
"""A pause longer than this many sample intervals starts a new segment when there is no weld id."""

SegmentBreak = Literal["next_weld", "gap"]


def new_segment_flags(
    cells: np.ndarray, welds: np.ndarray, ms: np.ndarray, interval: np.ndarray
) -> np.ndarray:
    """For rows sorted by (cell, time): True where a row starts a segment. `welds` holds "" for no weld id."""
    new = np.ones(len(cells), dtype=bool)
    if len(cells) > 1:
        gap = np.diff(ms) > GAP_FACTOR * np.maximum(interval[1:], 1.0)
        new[1:] = (cells[1:] != cells[:-1]) | (welds[1:] != welds[:-1]) | ((welds[1:] == "") & gap)
    return new


def segment_break(
    previous_weld: str | None, previous_last_ms: int, weld: str | None, first_ms: int, interval_ms: float
) -> SegmentBreak | None:
    """Why a batch starting at `first_ms` does not continue the cell's open segment, or None when it does."""
    if (previous_weld or "") != (weld or ""):
        return "next_weld"
    if not weld and first_ms - previous_last_ms > GAP_FACTOR * max(interval_ms, 1.0):
        return "gap"
    return None
