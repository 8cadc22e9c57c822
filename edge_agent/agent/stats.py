"""The agent's counters: per topic, per quarantine reason, per drop reason, and events.

Shared by every stage, counted per batch under one lock; read by the heartbeat and the Prometheus
collector. At most `max_topics` topics are counted; later ones under `_other`.
"""

from __future__ import annotations

import bisect
import threading
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["COUNTER_FIELDS", "LATENCY_BUCKETS_S", "OTHER_TOPICS_KEY", "Stats"]

COUNTER_FIELDS = ("received", "valid", "quarantined", "captured", "uploaded")
OTHER_TOPICS_KEY = "_other"
LATENCY_BUCKETS_S = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
_LAST_ERROR_MAX = 1900


class Stats:
    def __init__(self, max_topics: int = 1000) -> None:
        self.max_topics = max_topics
        self._lock = threading.Lock()
        self._topics: dict[str, list[int]] = {}
        self.quarantine_reasons: Counter[str] = Counter()
        self.dropped: Counter[str] = Counter()
        self.events: Counter[str] = Counter()
        self.last_error: str | None = None
        self._latency_counts = [0] * (len(LATENCY_BUCKETS_S) + 1)
        self._latency_sum = 0.0

    def _row(self, key: str) -> list[int]:
        row = self._topics.get(key)
        if row is None:
            if len(self._topics) >= self.max_topics:
                key = OTHER_TOPICS_KEY
                row = self._topics.get(key)
            if row is None:
                row = self._topics[key] = [0] * len(COUNTER_FIELDS)
        return row

    def count(self, field: str, keys: Iterable[str]) -> None:
        """Add one to `field` of each key (a key may repeat)."""
        index = COUNTER_FIELDS.index(field)
        tally = Counter(keys)
        with self._lock:
            for key, n in tally.items():
                self._row(key)[index] += n

    def count_verdicts(self, keys_valid: Iterable[tuple[str, bool]], reasons: Iterable[str]) -> None:
        received = Counter(k for k, _ in keys_valid)
        valid = Counter(k for k, ok in keys_valid if ok)
        with self._lock:
            for key, n in received.items():
                self._row(key)[0] += n
            for key, n in valid.items():
                self._row(key)[1] += n
            self.quarantine_reasons.update(reasons)

    def drop(self, reason: str, n: int = 1) -> None:
        with self._lock:
            self.dropped[reason] += n

    def event(self, name: str, n: int = 1) -> None:
        with self._lock:
            self.events[name] += n

    def error(self, message: str) -> None:
        with self._lock:
            self.last_error = message[:_LAST_ERROR_MAX]
            self.events["errors"] += 1

    def observe_latencies(self, seconds: Iterable[float]) -> None:
        with self._lock:
            for value in seconds:
                self._latency_counts[bisect.bisect_left(LATENCY_BUCKETS_S, value)] += 1
                self._latency_sum += value

    def topic_counters(self) -> dict[str, dict[str, int]]:
        with self._lock:
            return {k: dict(zip(COUNTER_FIELDS, row, strict=True)) for k, row in self._topics.items()}

    def totals(self) -> dict[str, int]:
        with self._lock:
            return {f: sum(row[i] for row in self._topics.values()) for i, f in enumerate(COUNTER_FIELDS)}

    def latency(self) -> tuple[list[int], float]:
        with self._lock:
            return list(self._latency_counts), self._latency_sum

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "quarantine_reasons": dict(self.quarantine_reasons),
                "dropped": dict(self.dropped),
                "events": dict(self.events),
                "last_error": self.last_error,
            }

    def merge_topic_counts(self, field: str, counts: Mapping[str, int]) -> None:
        index = COUNTER_FIELDS.index(field)
        with self._lock:
            for key, n in counts.items():
                self._row(key)[index] += n
