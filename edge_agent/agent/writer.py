"""The capture writer: group commit of validated messages, then acknowledgement.

One thread takes a batch of validated messages (up to `group_commit_max`), appends each to its spool
(capture or quarantine), makes both durable with one fdatasync each, and only then acknowledges the
whole group to the broker. Acknowledged therefore means on disk: a `kill -9` after the ack loses
nothing. Before writing, a QoS 1 redelivery of a message already written is recognised by its digest
(see `dedup`) and acknowledged without being written twice; a QoS 1 message from a connection that has
since dropped is checked the same way, because its redelivery may have overtaken it in the pipeline.
QoS 0 messages are never redelivered, so they are never taken for a redelivery.

Spool-full policy (documented in the README):
- the bound is checked message by message: a group is written (and acknowledged) in the part that
  fits the room left, in order; the rest waits for room. The first message written into a room too
  small for it still goes, so that no message can wedge the writer: the bound can be passed by one
  record (see the `settings` docstring for the other ways: a segment header, and sealing).
- capture spool full: stop writing and acknowledging (the rest of the group stays in hand). The queues fill, the
  network thread stops taking messages, and with MQTT 5 the broker stops sending at `receive_maximum`
  unacknowledged messages: the broker buffers in our persistent session. Nothing is dropped; the pause
  is counted (`capture_spool_full` events) and the heartbeat turns DEGRADED.
- quarantine spool full: `drop_oldest` (default) deletes the oldest sealed quarantine files not yet
  uploaded, counting their rows in `dropped.quarantine_spool_full`, so bad input can never stop good
  data for long (only until the sealer has sealed something to drop); `block` treats it like the
  capture spool.

Storage errors: a failed write is cut back and retried (the group stays unacknowledged); a failed fsync
is fatal (after a failed fsync the kernel may have dropped the pages, so retrying would lie) and stops
the agent; recovery at the next start reads what really is on disk.

Stopping: after `abort()` the thread finishes the group in hand (or gives up waiting for room) and
exits; what is still queued stays unacknowledged at the broker. Only this thread touches the spools, so
the agent seals and closes them only once the thread is gone.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from edge_agent.agent.backoff import jittered_backoff
from edge_agent.agent.buffers import BatchQueue
from edge_agent.agent.messages import SPOOL_KINDS, Message, SpoolKind
from edge_agent.agent.processors import Downstream
from edge_agent.agent.record_codec import record_size
from edge_agent.agent.sealed_store import SealedStore
from edge_agent.agent.sealer import Sealer
from edge_agent.agent.segments import SegmentSpool
from edge_agent.agent.spool_usage import SpoolUsage
from edge_agent.agent.stats import Stats
from edge_agent.agent.supervision import FatalHandler, start_stage

__all__ = ["CaptureWriter"]

log = logging.getLogger(__name__)


class CaptureWriter:
    def __init__(
        self,
        queue: BatchQueue[Message],
        spools: dict[SpoolKind, SegmentSpool],
        *,
        ack: Callable[[list[Message]], None],
        current_generation: Callable[[], int],
        sealer: Sealer,
        store: SealedStore,
        usage: SpoolUsage,
        stats: Stats,
        downstream: Downstream,
        group_max: int,
        quarantine_when_full: str,
        on_fatal: FatalHandler,
    ) -> None:
        self.queue = queue
        self.spools = spools
        self.ack = ack
        self.current_generation = current_generation
        self.sealer = sealer
        self.store = store
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
        """Close every segment that holds records and hand it to the sealer (shutdown, writer stopped)."""
        for kind in SPOOL_KINDS:
            closed = self.spools[kind].rotate()
            if closed is not None:
                self.sealer.submit(kind, closed)

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
                    self.sealer.submit(kind, closed)

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
                self.spools[kind].sync()  # an fsync error propagates: fatal, see the module docstring
        for kind in SPOOL_KINDS:
            self.spools[kind].window.extend(m.digest for m in to_write[kind])

    def _make_room(self, kind: SpoolKind) -> bool:
        """True when the kind has room (after dropping the oldest quarantine files, if that is the policy)."""
        if self.usage.full(kind) and kind == "quarantine" and self.quarantine_when_full == "drop_oldest":
            self.store.drop_oldest(kind, lambda: not self.usage.full(kind))
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
            self.sealer.submit(kind, closed)
        # Nothing sealed to drop yet, say: keep trying, since sealing the rotated segment makes some.
        while not (self.usage.wait_below_limit(kind, 0.5) or self._make_room(kind)):
            if self._abort.is_set():
                return False
        self.blocked_on = None
        log.info("%s spool has room again: capture resumes", kind)
        return True
