"""Bytes held by the spool, per kind (segments and sealed files), against the configured bounds.

Every part that adds or removes spool files reports here; the writer reads it to apply the spool-full
policy, the heartbeat and metrics read it to report.
"""

from __future__ import annotations

import threading
from pathlib import Path

from edge_agent.agent.messages import SpoolKind

__all__ = ["SpoolUsage"]


class SpoolUsage:
    def __init__(self, limits: dict[SpoolKind, int]) -> None:
        self.limits = dict(limits)
        self._bytes: dict[SpoolKind, int] = dict.fromkeys(limits, 0)
        self._lock = threading.Lock()
        self._freed = threading.Condition(self._lock)

    def add(self, kind: SpoolKind, delta: int) -> None:
        with self._lock:
            # May dip below zero for a moment when an upload removes a file before the seal stage counted it.
            self._bytes[kind] += delta
            if delta < 0:
                self._freed.notify_all()

    def used(self, kind: SpoolKind) -> int:
        return max(0, self._bytes[kind])

    @property
    def total(self) -> int:
        return sum(max(0, v) for v in self._bytes.values())

    def full(self, kind: SpoolKind) -> bool:
        return self._bytes[kind] >= self.limits[kind]

    def wait_below_limit(self, kind: SpoolKind, timeout_s: float) -> bool:
        with self._lock:
            return self._freed.wait_for(lambda: self._bytes[kind] < self.limits[kind], timeout_s)

    def rescan(self, kind: SpoolKind, files: list[Path]) -> None:
        """Reset a kind's usage from the files on disk (at start-up)."""
        size = 0
        for path in files:
            try:
                size += path.stat().st_size
            except FileNotFoundError:
                continue
        with self._lock:
            self._bytes[kind] = size
