"""The wiring: build every part of the agent from one settings object, and own their start and stop.

    network thread ─▶ ingress queue ─▶ validate (worker processes) ─▶ capture queue ─▶ writer
        (paho)          (bounded)          (bounded batches)            (bounded)     group commit,
                                                                                       ack, dedup
    writer ─▶ segments ─▶ sealer ─▶ sealed Parquet ─▶ uploader ─▶ landing zone (dir or s3://)
           └▶ score / drift processor slots (best effort, after capture)

Nothing happens at import or construction beyond reading the contract. `start()` takes the spool's lock
(before touching anything in it), recovers the spool, then starts the stages from the back of the
pipeline to the front, so every stage has a consumer before messages arrive; if any of that fails, what
was started is stopped again and the lock released before the error propagates. `stop()` is the orderly
shutdown (SIGTERM/SIGINT): stop taking messages, drain the queues through the group commit, seal every
open segment, one bounded upload pass, a retained OFFLINE heartbeat, a clean disconnect (so the broker
drops the Will), then the worker processes. A stage thread that fails sets `fatal` and `stop_requested`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from edge_agent.agent.buffers import BatchQueue
from edge_agent.agent.heartbeat import (
    ADDED_FIELDS,
    HeartbeatPublisher,
    HeartbeatStatus,
    contract_declares,
    heartbeat_payload,
)
from edge_agent.agent.landing import LandingZone, open_landing
from edge_agent.agent.messages import SPOOL_KINDS, Message
from edge_agent.agent.metrics import AgentCollector, MetricsServer
from edge_agent.agent.mqtt_session import MqttSession
from edge_agent.agent.pause import CapturePause
from edge_agent.agent.processors import Downstream, Processor, ProcessorPool
from edge_agent.agent.sealed_store import SealedStore
from edge_agent.agent.sealer import Sealer
from edge_agent.agent.segments import SegmentSpool
from edge_agent.agent.settings import EdgeSettings
from edge_agent.agent.spool_dir import SpoolDirectory
from edge_agent.agent.spool_usage import SpoolUsage
from edge_agent.agent.stats import Stats
from edge_agent.agent.subscriptions import scoped_filters, stale_filters
from edge_agent.agent.uploader import Uploader
from edge_agent.agent.validators import ValidateStage
from edge_agent.agent.writer import CaptureWriter
from edge_agent.contract import ContractValidator, load_contract

__all__ = ["EdgeAgent"]

log = logging.getLogger(__name__)


def _payload_size(message: Message) -> int:
    return len(message.payload)


class EdgeAgent:
    def __init__(
        self,
        settings: EdgeSettings,
        *,
        processors: Sequence[Processor] = (),
        landing: LandingZone | None = None,
        subscriptions: Sequence[str] | None = None,
    ) -> None:
        """`subscriptions` replaces the topic filters of the channels the contract says the agent
        receives, bound to its own place by `subscribe_scope` (topics outside the contract are
        quarantined as `unknown_topic`)."""
        self.settings = settings
        self.contract = load_contract(settings.contract_path)
        pipeline, spool = settings.pipeline, settings.spool
        self.validator = ContractValidator(self.contract, max_payload_bytes=pipeline.max_payload_bytes)
        # What we send is checked against the contract, not against the limit we set for what we receive.
        self.outbound_validator = ContractValidator(self.contract)
        # Heartbeat fields newer than the contract we were given are left out (see `heartbeat`).
        self.heartbeat_fields = frozenset(
            f for f in ADDED_FIELDS if contract_declares(self.contract, settings.heartbeat_topic, f)
        )
        receives = self.contract.channels_for("receive")
        self.subscriptions = (
            list(subscriptions) if subscriptions is not None else scoped_filters(settings, receives)
        )
        # An explicit list is the caller's own: nothing of ours to clean up in the broker's session.
        stale = [] if subscriptions is not None else stale_filters(settings, receives)
        self.stats = Stats(pipeline.max_counter_topics)
        self.started_at = time.time()
        self.stop_requested = threading.Event()
        self.fatal: BaseException | None = None
        self._running = False

        # Every message the broker may have outstanding with us waits in one of these places; the
        # redelivery window must cover them all (see `dedup`).
        self.max_in_flight = (
            pipeline.ingress_capacity
            + pipeline.capture_capacity
            + pipeline.validate_workers * pipeline.validate_batch
            + pipeline.group_commit_max
        )
        self.spool_dir = SpoolDirectory(spool.dir)
        self.usage = SpoolUsage({"capture": spool.max_bytes, "quarantine": spool.quarantine_max_bytes})
        self.ingress: BatchQueue[Message] = BatchQueue(
            "ingress", pipeline.ingress_capacity, max_bytes=pipeline.queue_max_bytes, weigh=_payload_size
        )
        self.capture_queue: BatchQueue[Message] = BatchQueue(
            "capture", pipeline.capture_capacity, max_bytes=pipeline.queue_max_bytes, weigh=_payload_size
        )
        self.spools = {
            kind: SegmentSpool(
                self.spool_dir.segments,
                kind,
                agent=settings.agent_id,
                contract_version=self.contract.version,
                segment_max_bytes=spool.segment_max_bytes,
                max_age_s=spool.seal_max_age_s,
                window_size=max(spool.dedup_window, self.max_in_flight),
                usage=self.usage,
                fsync=spool.fsync,
            )
            for kind in SPOOL_KINDS
        }
        self.store = SealedStore(self.spool_dir.sealed, self.usage, self.stats, fsync=spool.fsync)
        self.landing = landing if landing is not None else open_landing(settings.landing)
        self.uploader = Uploader(
            self.store,
            self.landing,
            conflicts_dir=self.spool_dir.conflicts,
            corrupt_dir=self.spool_dir.corrupt,
            settings=settings.landing,
            stats=self.stats,
            on_fatal=self._on_fatal,
        )
        self.sealer = Sealer(
            self.spool_dir.sealed,
            tree_lock=self.store.tree_lock,
            in_process=spool.seal_mode == "process",
            default_site=settings.site,
            default_line=settings.line,
            usage=self.usage,
            stats=self.stats,
            on_sealed=self.uploader.notify,
            on_fatal=self._on_fatal,
            fsync=spool.fsync,
        )
        self.heartbeat = HeartbeatPublisher(
            topic=settings.heartbeat_topic,
            interval_s=settings.heartbeat.interval_s,
            build=self.heartbeat_state,
            publish=self._publish_heartbeat,
            validator=self.outbound_validator,
            stats=self.stats,
        )
        will = self.heartbeat.encode(self._will_state())
        if will is None:
            raise RuntimeError("the Will message breaks the contract's agentHeartbeat schema")
        self.session = MqttSession(
            settings,
            ingress=self.ingress,
            stats=self.stats,
            subscriptions=self.subscriptions,
            stale_subscriptions=stale,
            will_payload=will,
            on_connected=self.heartbeat.trigger,
            on_stalled=lambda: self.pause.wake(),
        )
        self.pause = CapturePause(
            self.session,
            announce=lambda: self._publish_state("DEGRADED", wait_s=5.0),
            has_room=self._pipeline_has_room,
            stats=self.stats,
            on_fatal=self._on_fatal,
        )
        self.validate = ValidateStage(
            self.ingress,
            self.capture_queue,
            validator=self.validator,
            contract_path=settings.contract_path,
            settings=pipeline,
            stats=self.stats,
            on_fatal=self._on_fatal,
        )
        workers = {"score": pipeline.score_workers, "drift": pipeline.drift_workers}
        self.downstream = Downstream(
            [
                ProcessorPool(
                    p,
                    workers=workers[p.kind],
                    capacity=pipeline.downstream_capacity,
                    batch=256,
                    stats=self.stats,
                )
                for p in processors
            ]
        )
        self.writer = CaptureWriter(
            self.capture_queue,
            self.spools,
            ack=self.session.ack,
            current_generation=self.session.current_generation,
            sealer=self.sealer,
            store=self.store,
            usage=self.usage,
            stats=self.stats,
            downstream=self.downstream,
            group_max=pipeline.group_commit_max,
            quarantine_when_full=spool.quarantine_when_full,
            on_fatal=self._on_fatal,
        )
        self.metrics = MetricsServer(
            settings.metrics.host, settings.metrics.port, AgentCollector(self.stats, self.gauges)
        )

    # --- state ---

    def queue_depths(self) -> dict[str, int]:
        return {
            "ingress": len(self.ingress),
            "capture": len(self.capture_queue),
            "seal": len(self.sealer),
            **self.downstream.depths(),
        }

    def queue_full_waits(self) -> dict[str, int]:
        """Times a producer found a bounded queue full and had to wait (back-pressure), per queue."""
        return {queue.name: queue.full_waits for queue in (self.ingress, self.capture_queue)}

    def status(self) -> HeartbeatStatus:
        degraded = (
            self.fatal is not None
            or not self.session.subscribed.is_set()  # connected, but the broker has not confirmed our filters
            or not self.uploader.available
            or self.writer.blocked_on is not None
            or self.session.stalled.is_set()
            or self.session.paused.is_set()
        )
        return "DEGRADED" if degraded else "ONLINE"

    def heartbeat_state(self, status: HeartbeatStatus | None = None) -> dict[str, Any]:
        return heartbeat_payload(
            agent=self.settings.agent_id,
            status=status or self.status(),
            started_at=self.started_at,
            contract_version=self.contract.version,
            stats=self.stats,
            queue_depths=self.queue_depths(),
            queue_full_waits=self.queue_full_waits(),
            spool_bytes=self.usage.total,
            upload_backlog_files=len(self.store.pending()),
            last_error=self.stats.last_error,
            declared=self.heartbeat_fields,
        )

    def _will_state(self) -> dict[str, Any]:
        return heartbeat_payload(
            agent=self.settings.agent_id,
            status="OFFLINE",
            started_at=self.started_at,
            contract_version=self.contract.version,
            stats=None,
            queue_depths={},
            queue_full_waits={},
            spool_bytes=0,
            upload_backlog_files=0,
            last_error="connection lost without a clean disconnect",
            now=self.started_at,
            declared=self.heartbeat_fields,
        )

    def gauges(self) -> dict[str, Any]:
        return {
            "queue_depths": self.queue_depths(),
            "queue_full_waits": self.queue_full_waits(),
            "spool_bytes": {kind: self.usage.used(kind) for kind in SPOOL_KINDS},
            "backlog": len(self.store.pending()),
            "connected": int(self.session.connected.is_set()),
            "landing_ok": int(self.uploader.available),
        }

    def _pipeline_has_room(self) -> bool:
        """Room to resume: the writer writes again and the ingress queue is at most half full, by count
        and by bytes (large payloads fill it by bytes long before by count)."""
        ingress = self.ingress
        return (
            self.writer.blocked_on is None
            and len(ingress) <= ingress.capacity // 2
            and (ingress.max_bytes is None or ingress.bytes <= ingress.max_bytes // 2)
        )

    def _publish_heartbeat(self, raw: bytes) -> bool:
        return self.session.publish(self.settings.heartbeat_topic, raw, qos=1, retain=True) is not None

    def _publish_state(self, status: HeartbeatStatus, wait_s: float) -> bool:
        """Publish a retained heartbeat now and wait (bounded) until the broker has it."""
        raw = self.heartbeat.encode(self.heartbeat_state(status))
        info = self.session.publish(self.settings.heartbeat_topic, raw, qos=1, retain=True) if raw else None
        if info is None:
            return False
        info.wait_for_publish(wait_s)
        return info.is_published()

    def _on_fatal(self, exc: BaseException) -> None:
        self.fatal = exc
        self.stop_requested.set()

    # --- lifecycle ---

    def start(self) -> None:
        """Start every part; on failure stop what was started, release the spool, and re-raise."""
        log.info("starting edge agent %s with settings %s", self.settings.agent_id, self.settings.redacted())
        self.spool_dir.lock()  # raises having touched nothing when another agent holds the spool
        undo: list[Callable[[], None]] = [self._close_spools]
        try:
            self.spool_dir.recover(
                self.spools, sealer=self.sealer, store=self.store, usage=self.usage, stats=self.stats
            )
            steps: list[tuple[Callable[[], None], Callable[[], None]]] = [
                (self.sealer.start, lambda: self.sealer.stop(5.0)),
                (self.uploader.start, self.uploader.stop),
                (self.downstream.start, lambda: self.downstream.stop(5.0)),
                (self.writer.start, self._stop_writer),
                (self.validate.start, self.validate.stop),
                (self.pause.start, self.pause.stop),
                (self.session.start, self.session.disconnect),
                (self.heartbeat.start, self.heartbeat.stop),
                (self.metrics.start, self.metrics.stop),
            ]
            for begin, end in steps:
                undo.append(end)
                begin()
        except BaseException:
            log.error("start failed: stopping what was started")
            for end in reversed(undo):
                try:
                    end()
                except Exception:
                    log.exception("while undoing a failed start")
            self.spool_dir.unlock()
            raise
        self._running = True

    def run(self) -> int:
        """Start, serve until `stop_requested` (a signal, or a fatal error), stop; returns the exit code.
        A failed start raises (having cleaned up after itself)."""
        self.start()
        self.stop_requested.wait()
        return self.stop()

    def _shutdown_step(self, what: str, action: Callable[[], object]) -> None:
        """One step of `stop()`: a failure is logged, kept as the last error and makes the exit code 1,
        and the steps after it still run (the OFFLINE heartbeat, the clean disconnect, the lock)."""
        try:
            action()
        except Exception as exc:
            log.exception("stopping: %s failed", what)
            self.stats.error(f"stopping: {what} failed: {exc!r}")
            if self.fatal is None:
                self.fatal = exc

    def _leave_offline_state(self, deadline: float) -> None:
        """The retained OFFLINE heartbeat, once the session is up (a stop during a (re)connect, or after a
        pause, waits for it within the drain budget, at most 5 s)."""
        self.session.connected.wait(max(0.1, min(5.0, deadline - time.monotonic())))
        if not self._publish_state("OFFLINE", wait_s=5.0):
            self.stats.error("the OFFLINE heartbeat did not reach the broker; the Will may announce us")
            log.error("the OFFLINE heartbeat did not reach the broker (not connected, or no PUBACK in 5 s)")

    def _wait_sealed(self, deadline: float) -> None:
        if not self.sealer.wait_idle(max(1.0, deadline - time.monotonic())):
            log.error("sealing did not finish in time; the segments are sealed at the next start")

    def _final_upload(self) -> None:
        timeout_s = self.settings.shutdown.upload_timeout_s
        if timeout_s > 0 and not self.uploader.upload_pass(time.monotonic() + timeout_s):
            log.warning("final upload incomplete: %d files wait in the spool", len(self.store.pending()))

    def _stop_writer(self) -> None:
        self.capture_queue.close()
        self.writer.abort()
        self.writer.join(5.0)

    def _close_spools(self) -> None:
        for spool in self.spools.values():
            spool.close()

    def stop(self) -> int:
        """The orderly shutdown; returns the exit code (0 after a clean run). Does nothing unless started."""
        if not self._running:
            return 0 if self.fatal is None else 1
        self._running = False
        budget = self.settings.shutdown
        deadline = time.monotonic() + budget.drain_timeout_s
        log.info("stopping: draining queues")
        self.session.stop_accepting()
        self.pause.stop()
        if self.session.paused.is_set():
            self.session.resume()  # only to leave the OFFLINE heartbeat: it takes no message any more
        self.ingress.close()
        if not self.validate.join(max(0.1, deadline - time.monotonic())):
            log.error("validation did not drain in time; the rest stays unacknowledged at the broker")
        self.capture_queue.close()
        if not self.writer.join(max(0.1, deadline - time.monotonic())):
            log.error("the writer did not drain in time (spool full?); the rest stays unacknowledged")
            self.writer.abort()
            self.writer.join(5.0)
        writer_gone = not self.writer.alive
        step = self._shutdown_step
        step("stopping the processors", lambda: self.downstream.stop(5.0))
        if not writer_gone:  # only the writer touches the spools: leave them to the next start
            log.critical("the writer is still writing: the open segments are sealed at the next start")
        elif self.fatal is None:
            step("sealing the open segments", self.writer.seal_all)
        step("waiting for the sealer", lambda: self._wait_sealed(deadline))
        step("stopping the sealer", lambda: self.sealer.stop(5.0))
        step("stopping the uploader", self.uploader.stop)
        step("the final upload pass", self._final_upload)
        step("stopping the heartbeat", self.heartbeat.stop)
        step("publishing the OFFLINE heartbeat", lambda: self._leave_offline_state(deadline))
        step("disconnecting", self.session.disconnect)
        step("stopping the validation workers", self.validate.stop)
        step("stopping the metrics endpoint", self.metrics.stop)
        if writer_gone:
            step("closing the spools", self._close_spools)
            self.spool_dir.unlock()
        log.info("stopped (%s)", "clean" if self.fatal is None else f"after a fatal error: {self.fatal!r}")
        return 0 if self.fatal is None else 1
