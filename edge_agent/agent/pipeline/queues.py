"""A bounded, closable queue that hands items over in batches and counts the waits of its producers.

Full at `capacity` items or `max_bytes` of item weight (payload bytes for messages); an empty queue
always takes one item, so a single large message can never wedge the pipeline.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from functools import partial
from typing import Generic, TypeVar

__all__ = ["BatchQueue", "QueueClosed"]

T = TypeVar("T")


class QueueClosed(Exception):
    """The queue was closed while a producer waited for room."""


def _weightless(item: object) -> int:
    return 0


class BatchQueue(Generic[T]):
    def __init__(
        self,
        name: str,
        capacity: int,
        *,
        max_bytes: int | None = None,
        weigh: Callable[[T], int] = _weightless,
    ) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self.name = name
        self.capacity = capacity
        self.max_bytes = max_bytes
        self._weigh = weigh
        self._items: deque[T] = deque()
        self._bytes = 0
        self._lock = threading.Lock()
        self._not_empty = threading.Condition(self._lock)
        self._not_full = threading.Condition(self._lock)
        self._closed = False
        self.full_waits = 0
        self.high_water = 0
        self.high_water_bytes = 0

    def __len__(self) -> int:
        return len(self._items)

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def bytes(self) -> int:
        return self._bytes

    def _has_room(self, weight: int) -> bool:
        if not self._items:
            return True
        if len(self._items) >= self.capacity:
            return False
        return self.max_bytes is None or self._bytes + weight <= self.max_bytes

    def _closed_or_room(self, weight: int) -> bool:
        return self._closed or self._has_room(weight)

    def _append(self, item: T, weight: int) -> None:
        self._items.append(item)
        self._bytes += weight
        self.high_water = max(self.high_water, len(self._items))
        self.high_water_bytes = max(self.high_water_bytes, self._bytes)

    def put(self, item: T, timeout_s: float | None = None) -> bool:
        """Append, waiting while full. False on timeout; raises QueueClosed once closed."""
        weight = self._weigh(item)
        with self._lock:
            if self._closed:
                raise QueueClosed(self.name)
            if not self._has_room(weight):
                self.full_waits += 1
                if not self._not_full.wait_for(partial(self._closed_or_room, weight), timeout_s):
                    return False
                if self._closed:
                    raise QueueClosed(self.name)
            self._append(item, weight)
            self._not_empty.notify()
            return True

    def put_many(self, items: list[T]) -> None:
        """Append all, in order, waiting for room as needed (never times out); raises QueueClosed once
        closed."""
        weights = [self._weigh(item) for item in items]
        start = 0
        while start < len(items):
            with self._lock:
                if self._closed:
                    raise QueueClosed(self.name)
                if not self._has_room(weights[start]):
                    self.full_waits += 1
                    self._not_full.wait_for(partial(self._closed_or_room, weights[start]))
                    continue
                while start < len(items) and self._has_room(weights[start]):
                    self._append(items[start], weights[start])
                    start += 1
                self._not_empty.notify_all()

    def get_batch(self, max_items: int, timeout_s: float | None) -> list[T]:
        """Up to `max_items` items; waits up to `timeout_s` for the first. Empty on timeout or when closed
        and drained."""
        with self._lock:
            if not self._items and not self._closed:
                self._not_empty.wait_for(lambda: self._closed or bool(self._items), timeout_s)
            count = min(max_items, len(self._items))
            batch = [self._items.popleft() for _ in range(count)]
            if count:
                self._bytes -= sum(map(self._weigh, batch))
                self._not_full.notify_all()
            return batch

    def close(self) -> None:
        """No more puts; getters drain what is left, then get empty batches."""
        with self._lock:
            self._closed = True
            self._not_empty.notify_all()
            self._not_full.notify_all()
