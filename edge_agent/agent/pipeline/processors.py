"""Slots for the processors that follow capture: scoring (ONNX) and drift, added by later issues.

A processor sees valid messages after they are durable, through its own bounded queue and thread pool
(`pipeline.score_workers`, `pipeline.drift_workers`). It is best-effort by design: capture never waits
for it. When its queue is full the messages are not offered to it, and that is counted as
`dropped.<kind>_queue_full` (they are still captured and uploaded).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from typing import Literal, Protocol

from edge_agent.agent.messages import Message
from edge_agent.agent.pipeline.queues import BatchQueue, QueueClosed
from edge_agent.agent.stats import Stats

__all__ = ["Downstream", "Processor", "ProcessorKind", "ProcessorPool"]

log = logging.getLogger(__name__)

ProcessorKind = Literal["score", "drift"]


class Processor(Protocol):
    kind: ProcessorKind

    def process(self, messages: list[Message]) -> None:
        """Handle a batch of captured, valid messages (`message.verdict.channel` says which channel)."""
        ...


class ProcessorPool:
    def __init__(
        self, processor: Processor, *, workers: int, capacity: int, batch: int, stats: Stats
    ) -> None:
        self.processor = processor
        self.kind = processor.kind
        self.workers = max(1, workers)
        self.batch = batch
        self.stats = stats
        self.queue: BatchQueue[Message] = BatchQueue(processor.kind, capacity)
        self._threads: list[threading.Thread] = []

    def offer(self, messages: list[Message]) -> None:
        refused = 0
        for message in messages:
            try:
                if not self.queue.put(message, timeout_s=0):
                    refused += 1
            except QueueClosed:
                refused += 1
        if refused:
            self.stats.drop(f"{self.kind}_queue_full", refused)

    def start(self) -> None:
        for index in range(self.workers):
            thread = threading.Thread(target=self._run, name=f"{self.kind}-{index}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self, timeout_s: float) -> None:
        self.queue.close()
        for thread in self._threads:
            thread.join(timeout_s)

    def _run(self) -> None:
        while True:
            batch = self.queue.get_batch(self.batch, timeout_s=0.5)
            if not batch:
                if self.queue.closed and not len(self.queue):
                    return
                continue
            try:
                self.processor.process(batch)
            except Exception as exc:
                self.stats.event(f"{self.kind}_errors")
                self.stats.error(f"{self.kind} processor failed on {len(batch)} messages: {exc!r}")
                log.exception("%s processor failed", self.kind)


class Downstream:
    """Every processor pool; `offer` fans captured messages out without ever blocking the writer."""

    def __init__(self, pools: Sequence[ProcessorPool] = ()) -> None:
        self.pools = list(pools)

    def offer(self, messages: list[Message]) -> None:
        for pool in self.pools:
            pool.offer(messages)

    def start(self) -> None:
        for pool in self.pools:
            pool.start()

    def stop(self, timeout_s: float) -> None:
        for pool in self.pools:
            pool.stop(timeout_s)

    def depths(self) -> dict[str, int]:
        return {pool.kind: len(pool.queue) for pool in self.pools}
