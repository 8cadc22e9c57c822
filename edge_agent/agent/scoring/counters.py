"""What scoring did since the start: batches, windows and alerts per model version, what was not scored
and why, and the scoring latency (the heartbeat's `scoring`, and Prometheus)."""

from __future__ import annotations

import threading
from collections import Counter, deque
from typing import Any

import numpy as np

__all__ = ["ScoringCounters"]

_LATENCIES = 4096


class ScoringCounters:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.batches = 0
        self.windows = 0
        self.alerts = 0
        self.unscored: Counter[str] = Counter()
        self.by_version: dict[str, list[int]] = {}
        self._latencies: deque[float] = deque(maxlen=_LATENCIES)

    def add(self, entry: dict[str, Any], active: str | None) -> None:
        """One entry of the scoring worker's reply."""
        with self._lock:
            for version, (batches, windows, alerts) in entry.get("counts", {}).items():
                kept = self.by_version.setdefault(str(version), [0, 0, 0])
                kept[0] += int(batches)
                kept[1] += int(windows)
                kept[2] += int(alerts)
                if version == active:
                    self.batches += int(batches)
                    self.windows += int(windows)
                    self.alerts += int(alerts)
            result = entry.get("result")
            if result is not None:
                self._latencies.append(float(result.get("latency_us", 0.0)))
            reason = entry.get("unscored")
            if reason:
                self.unscored[str(reason)] += 1

    def unscored_by(self, reason: str, n: int) -> None:
        with self._lock:
            self.unscored[reason] += n

    def latency_us(self) -> dict[str, float] | None:
        with self._lock:
            values = np.fromiter(self._latencies, dtype=np.float64)
        if not values.size:
            return None
        p50, p99 = np.percentile(values, [50, 99])
        return {"p50": round(float(p50), 1), "p99": round(float(p99), 1)}

    def payload(self, *, published: int, backlog: int) -> dict[str, Any]:
        with self._lock:
            payload: dict[str, Any] = {
                "batches": self.batches,
                "windows": self.windows,
                "alerts": self.alerts,
                "unscored": dict(self.unscored),
                "results_published": published,
                "outbox_backlog": backlog,
                "by_version": {
                    v: {"batches": b, "windows": w, "alerts": a} for v, (b, w, a) in self.by_version.items()
                },
            }
        latency = self.latency_us()
        if latency is not None:
            payload["latency_us"] = latency
        return payload
