"""The scoring worker's rolling windows for the drift monitor: every window the active model scores
(standardised, as scored), with its cell and time span; the newest `capacity` are kept. The per-batch
cost on the scoring path is a copy; a take hands them over as they are (the drift worker turns them
into profile rows, off the scoring path).

Windows belong to one model version (its spec shapes them): a swap starts the buffer afresh.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["RollingWindows"]


class RollingWindows:
    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be >= 1, got {capacity}")
        self.capacity = capacity
        self.version: str | None = None
        self._windows = np.empty((capacity, 0), dtype=np.float32)
        self._start_ms = np.empty(capacity, dtype=np.int64)
        self._end_ms = np.empty(capacity, dtype=np.int64)
        self._cell = np.empty(capacity, dtype=np.int32)
        self._cells: dict[str, int] = {}
        self._appended = 0
        self._fresh = 0
        """Windows appended since the last `take`."""

    @property
    def held(self) -> int:
        return min(self._appended, self.capacity)

    def reset(self, version: str, n_features: int) -> None:
        """Start afresh for `version` (a swap: another spec, another reference)."""
        self.version = version
        self._windows = np.empty((self.capacity, n_features), dtype=np.float32)
        self._cells.clear()
        self._appended = self._fresh = 0

    def append(
        self, version: str, cell: str, windows: np.ndarray, start_ms: np.ndarray, end_ms: np.ndarray
    ) -> None:
        """Flattened standardised windows `(n, window * n_signals)` of `version`, with their times."""
        if version != self.version or windows.shape[1] != self._windows.shape[1]:
            self.reset(version, windows.shape[1])
        windows = windows[-self.capacity :]
        n = len(windows)
        if n == 0:
            return
        first = self._appended % self.capacity
        slots = (
            np.arange(first, first + n) % self.capacity
            if first + n > self.capacity
            else slice(first, first + n)
        )
        self._windows[slots] = windows
        self._start_ms[slots] = start_ms[-n:]
        self._end_ms[slots] = end_ms[-n:]
        self._cell[slots] = self._cells.setdefault(cell, len(self._cells))
        self._appended += n
        self._fresh += n

    def take(self, min_new: int) -> dict[str, Any] | None:
        """The windows held, oldest first, when at least `min_new` arrived since the last take (then the
        count starts again); None otherwise. Arrays stay numpy (`state_codec` carries them)."""
        if self.version is None or self._fresh < min_new or self.held == 0:
            return None
        order = (self._appended - self.held + np.arange(self.held)) % self.capacity
        names = sorted(self._cells, key=self._cells.__getitem__)
        self._fresh = 0
        return {
            "version": self.version,
            "windows": self._windows[order],
            "start_ms": self._start_ms[order],
            "end_ms": self._end_ms[order],
            "cells": sorted({names[c] for c in np.unique(self._cell[order]).tolist()}),
        }
