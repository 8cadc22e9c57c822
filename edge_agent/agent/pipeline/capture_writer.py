"""The capture writer: group commit of validated messages, then acknowledgement.

One thread appends a batch to its spools, makes them durable (fdatasync), and only then acknowledges the
whole group: acknowledged means on disk. It drops redeliveries of what it already wrote and applies the
spool-full policy; a failed write is cut back and retried, a failed fsync is fatal.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from edge_agent.agent.backoff import jittered_backoff
from edge_agent.agent.messages import SPOOL_KINDS, Message, SpoolKind
from edge_agent.agent.pipeline.processors import Downstream
from edge_agent.agent.pipeline.queues import BatchQueue, QueueClosed
from edge_agent.agent.spool.seal_stage import SealStage
from edge_agent.agent.spool.sealed_backlog import SealedBacklog
from edge_agent.agent.spool.segment_format import record_size
from edge_agent.agent.spool.segments import SegmentSpool
from edge_agent.agent.spool.usage import SpoolUsage
from edge_agent.agent.stats import Stats
from edge_agent.agent.supervision import FatalHandler, start_stage

__all__ = ["CaptureWriter"]

log = logging.getLogger(__name__)


class CaptureWriter:
    """Only this thread touches the spools: the agent seals and closes them once it is gone."""

    def __init__(
        self,
        queue: BatchQueue[Message],
        spools: dict[SpoolKind, SegmentSpool],
        *,
        ack: Callable[[list[Message]], None],
        current_generation: Callable[[], int],
        seal_stage: SealStage,
        backlog: SealedBacklog,
        usage: SpoolUsage,
        stats: Stats,
        downstream: Downstream,
        group_max: int,
        quarantine_when_full: str,
        on_fatal: FatalHandler,
        scoring: Callable[[list[Message]], None] | None = None,
    ) -> None:
        """`scoring` takes what was captured, in capture order, and may make the writer wait for room."""
        self.queue = queue
        self.scoring = scoring
        self.spools = spools
        self.ack = ack
        self.current_generation = current_generation
        self.seal_stage = seal_stage
        self.backlog = backlog
        self.usage = usage
        self.stats = stats
        self.downstream = downstream
        self.group_max = group_max
        self.quarantine_when_full = quarantine_when_full
        self.on_fatal = on_fatal
        self.blocked_on: SpoolKind | None = None
        self.groups = 0
        self._abort = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = start_stage("capture-writer", self._run, stats=self.stats, on_fatal=self.on_fatal)

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def join(self, timeout_s: float) -> bool:
        """After the queue is closed: wait until every message in it is written and acknowledged."""
        if self._thread is not None:
            self._thread.join(timeout_s)
            return not self._thread.is_alive()
        return True

    def abort(self) -> None:
        """Stop after the group in hand (shutdown): what is still queued stays unacknowledged."""
        self._abort.set()

    def seal_all(self) -> None:
        """Close every segment that holds records and hand it to the seal stage (shutdown, writer stopped)."""
        for kind in SPOOL_KINDS:
            closed = self.spools[kind].rotate()
            if closed is not None:
                self.seal_stage.submit(kind, closed)

    def _run(self) -> None:
        while not self._abort.is_set():
            now = time.monotonic()
            wait_s = min(0.5, *(s.seconds_until_due(now) for s in self.spools.values()))
            group = self.queue.get_batch(self.group_max, timeout_s=wait_s)
            if group:
                self._commit(group)
            self._rotate_due()
            if not group and self.queue.closed and not len(self.queue):
                return

    def _rotate_due(self) -> None:
        now = time.monotonic()
        for kind in SPOOL_KINDS:
            if self.spools[kind].due(now):
                closed = self.spools[kind].rotate()
                if closed is not None:
                    self.seal_stage.submit(kind, closed)

    def _split(self, group: list[Message]) -> tuple[dict[SpoolKind, list[Message]], list[Message]]:
        to_write: dict[SpoolKind, list[Message]] = {"capture": [], "quarantine": []}
        in_group: dict[SpoolKind, set[bytes]] = {"capture": set(), "quarantine": set()}
        duplicates: list[Message] = []
        generation = self.current_generation()
        for message in group:
            kind = message.kind
            suspect = message.qos > 0 and (message.dup or message.generation != generation)
            if suspect and (message.digest in self.spools[kind].window or message.digest in in_group[kind]):
                duplicates.append(message)
                continue
            in_group[kind].add(message.digest)
            to_write[kind].append(message)
        return to_write, duplicates

    def _commit(self, group: list[Message]) -> None:
        """Write, make durable and acknowledge the group, in parts that fit the spool's room."""
        while group:
            to_write, duplicates = self._split(group)
            for kind in SPOOL_KINDS:
                if to_write[kind] and not self._wait_for_room(kind):
                    self.stats.event("unacknowledged_on_shutdown", len(group))
                    return
            cut = self._fitting(group, to_write)
            if cut < len(group):
                self.stats.event("group_commits_split")
                group, rest = group[:cut], group[cut:]
                to_write, duplicates = self._split(group)
            else:
                rest = []
            self._commit_part(group, to_write, duplicates)
            group = rest

    def _fitting(self, group: list[Message], to_write: dict[SpoolKind, list[Message]]) -> int:
        """How many messages of the group, from its start, fit the room each spool has left. The first
        message of a kind always fits (the spool is not full: `_wait_for_room`), so this is at least 1."""
        room = {kind: self.usage.limits[kind] - self.usage.used(kind) for kind in SPOOL_KINDS}
        if all(sum(map(record_size, to_write[kind])) <= room[kind] for kind in SPOOL_KINDS):
            return len(group)
        writing = {id(m): kind for kind in SPOOL_KINDS for m in to_write[kind]}
        taken = dict.fromkeys(SPOOL_KINDS, 0)
        for index, message in enumerate(group):
            kind = writing.get(id(message))
            if kind is None:  # a redelivery: acknowledged, not written
                continue
            size = record_size(message)
            if taken[kind] and taken[kind] + size > room[kind]:
                return index
            taken[kind] += size
        return len(group)

    def _commit_part(
        self, group: list[Message], to_write: dict[SpoolKind, list[Message]], duplicates: list[Message]
    ) -> None:
        self._write_durably(to_write)
        self.ack(group)
        self.groups += 1
        done = time.time()
        captured, quarantined = to_write["capture"], to_write["quarantine"]
        self.stats.count("captured", (m.counter_key for m in captured))
        self.stats.count("quarantined", (m.counter_key for m in quarantined))
        self.stats.observe_latencies(done - m.received_at for m in (*captured, *quarantined))
        if duplicates:
            self.stats.drop("duplicate_redelivery", len(duplicates))
        if captured:
            self.downstream.offer(captured)
            if self.scoring is not None:
                try:
                    self.scoring(captured)
                except QueueClosed:  # stopping: the next start scores them from the spool
                    self.stats.event("scored_at_next_start", len(captured))

    def _write_durably(self, to_write: dict[SpoolKind, list[Message]]) -> None:
        failures = 0
        for kind in SPOOL_KINDS:
            while to_write[kind]:
                try:
                    self.spools[kind].append(to_write[kind])
                    break
                except OSError as exc:
                    delay = jittered_backoff(failures, 0.1, 5.0)
                    failures += 1
                    self.stats.event("spool_write_failures")
                    self.stats.error(f"writing the {kind} spool failed: {exc!r}; retrying in {delay:.1f} s")
                    log.error("writing the %s spool failed (%r); retrying in %.1f s", kind, exc, delay)
                    if self._abort.wait(delay):
                        raise
        for kind in SPOOL_KINDS:
            if to_write[kind]:
                # An fsync error propagates: fatal. After a failed fsync the kernel may have dropped the
                # pages, so a retry would lie; recovery at the next start reads what really is on disk.
                self.spools[kind].sync()
        for kind in SPOOL_KINDS:
            self.spools[kind].window.extend(m.digest for m in to_write[kind])

    def _make_room(self, kind: SpoolKind) -> bool:
        """True when the kind has room (after dropping the oldest quarantine files, if that is the policy)."""
        if self.usage.full(kind) and kind == "quarantine" and self.quarantine_when_full == "drop_oldest":
            self.backlog.drop_oldest(kind, lambda: not self.usage.full(kind))
        return not self.usage.full(kind)

    def _wait_for_room(self, kind: SpoolKind) -> bool:
        if self._make_room(kind):
            return True
        self.blocked_on = kind
        self.stats.event(f"{kind}_spool_full")
        self.stats.error(
            f"{kind} spool full ({self.usage.used(kind)} of {self.usage.limits[kind]} bytes): "
            "not acknowledging; the broker buffers until uploads free space"
        )
        log.warning("%s spool full: pausing capture until uploads free space", kind)
        closed = self.spools[kind].rotate()  # let the active segment be sealed and uploaded too
        if closed is not None:
            self.seal_stage.submit(kind, closed)
        # Nothing sealed to drop yet, say: keep trying, since sealing the rotated segment makes some.
        while not (self.usage.wait_below_limit(kind, 0.5) or self._make_room(kind)):
            if self._abort.is_set():
                return False
        self.blocked_on = None
        log.info("%s spool has room again: capture resumes", kind)
        return True
