"""The wiring: build every part of the agent from one settings object, and own their start and stop.

    network thread ─▶ ingress queue ─▶ validate (worker processes) ─▶ capture queue ─▶ writer
        (paho)          (bounded)          (bounded batches)            (bounded)     group commit,
                                                                                       ack, dedup
    writer ─▶ segments ─▶ sealer ─▶ sealed Parquet ─▶ uploader ─▶ landing zone (dir or s3://)
           └▶ score / drift processor slots (best effort, after capture)

Nothing happens at import or construction beyond reading the contract; `start()` recovers the spool,
then starts the stages from the back of the pipeline to the front, so every stage has a consumer before
messages arrive. `stop()` is the orderly shutdown (SIGTERM/SIGINT): stop taking messages, drain the
queues through the group commit, seal every open segment, one bounded upload pass, a retained OFFLINE
heartbeat, a clean disconnect (so the broker drops the Will), then the worker processes.
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
import time
from collections.abc import Sequence
from typing import Any

from edge_agent.agent.buffers import BatchQueue
from edge_agent.agent.heartbeat import HeartbeatPublisher, HeartbeatStatus, heartbeat_payload
from edge_agent.agent.landing import LandingZone, open_landing
from edge_agent.agent.messages import Message, SpoolKind
from edge_agent.agent.metrics import AgentCollector, MetricsServer
from edge_agent.agent.mqtt_session import MqttSession
from edge_agent.agent.processors import Downstream, Processor, ProcessorPool
from edge_agent.agent.sealed_store import SealedStore
from edge_agent.agent.sealer import Sealer
from edge_agent.agent.segments import SegmentSpool, list_segments
from edge_agent.agent.settings import EdgeSettings
from edge_agent.agent.spool_usage import SpoolUsage
from edge_agent.agent.stats import Stats
from edge_agent.agent.uploader import Uploader
from edge_agent.agent.validators import ValidateStage
from edge_agent.agent.writer import CaptureWriter
from edge_agent.contract import ContractValidator, load_contract

__all__ = ["EdgeAgent"]

log = logging.getLogger(__name__)

_KINDS: tuple[SpoolKind, SpoolKind] = ("capture", "quarantine")


class EdgeAgent:
    def __init__(
        self,
        settings: EdgeSettings,
        *,
        processors: Sequence[Processor] = (),
        landing: LandingZone | None = None,
    ) -> None:
        self.settings = settings
        self.contract = load_contract(settings.contract_path)
        pipeline, spool = settings.pipeline, settings.spool
        self.validator = ContractValidator(self.contract, max_payload_bytes=pipeline.max_payload_bytes)
        self.subscriptions = [
            m.subscription_filter
            for m in self.validator.router.matchers
            if m.channel.id in {c.id for c in self.contract.channels_for("receive")}
        ]
        self.stats = Stats(pipeline.max_counter_topics)
        self.started_at = time.time()
        self.stop_requested = threading.Event()
        self.fatal: BaseException | None = None
        self._lock_fd: int | None = None

        # Every message the broker may have outstanding with us waits in one of these places; the
        # redelivery window must cover them all (see `dedup`).
        self.max_in_flight = (
            pipeline.ingress_capacity
            + pipeline.capture_capacity
            + pipeline.validate_workers * pipeline.validate_batch
            + pipeline.group_commit_max
        )
        root = spool.dir
        self.segments_dir, self.sealed_dir, self.conflicts_dir = (
            root / "segments",
            root / "sealed",
            root / "conflicts",
        )
        self.usage = SpoolUsage({"capture": spool.max_bytes, "quarantine": spool.quarantine_max_bytes})
        self.ingress: BatchQueue[Message] = BatchQueue("ingress", pipeline.ingress_capacity)
        self.capture_queue: BatchQueue[Message] = BatchQueue("capture", pipeline.capture_capacity)
        self.spools = {
            kind: SegmentSpool(
                self.segments_dir,
                kind,
                agent=settings.agent_id,
                contract_version=self.contract.version,
                segment_max_bytes=spool.segment_max_bytes,
                max_age_s=spool.seal_max_age_s,
                window_size=max(spool.dedup_window, self.max_in_flight),
                usage=self.usage,
                fsync=spool.fsync,
            )
            for kind in _KINDS
        }
        self.store = SealedStore(self.sealed_dir, self.usage, self.stats, fsync=spool.fsync)
        self.landing = landing if landing is not None else open_landing(settings.landing)
        self.uploader = Uploader(
            self.store,
            self.landing,
            conflicts_dir=self.conflicts_dir,
            settings=settings.landing,
            stats=self.stats,
        )
        self.sealer = Sealer(
            self.sealed_dir,
            tree_lock=self.store.tree_lock,
            in_process=spool.seal_mode == "process",
            default_site=settings.site,
            default_line=settings.line,
            usage=self.usage,
            stats=self.stats,
            on_sealed=self.uploader.notify,
            fsync=spool.fsync,
        )
        self.heartbeat = HeartbeatPublisher(
            topic=settings.heartbeat_topic,
            interval_s=settings.heartbeat.interval_s,
            build=self.heartbeat_state,
            publish=self._publish_heartbeat,
            validator=self.validator,
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
            will_payload=will,
            on_connected=self.heartbeat.trigger,
        )
        self.validate = ValidateStage(
            self.ingress,
            self.capture_queue,
            validator=self.validator,
            contract_path=settings.contract_path,
            settings=pipeline,
            stats=self.stats,
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

    def status(self) -> HeartbeatStatus:
        degraded = (
            self.fatal is not None
            or not self.session.subscribed.is_set()  # connected, but the broker has not confirmed our filters
            or not self.uploader.available
            or self.writer.blocked_on is not None
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
            spool_bytes=self.usage.total,
            upload_backlog_files=len(self.store.pending()),
            last_error=self.stats.last_error,
        )

    def _will_state(self) -> dict[str, Any]:
        return heartbeat_payload(
            agent=self.settings.agent_id,
            status="OFFLINE",
            started_at=self.started_at,
            contract_version=self.contract.version,
            stats=None,
            queue_depths={},
            spool_bytes=0,
            upload_backlog_files=0,
            last_error="connection lost without a clean disconnect",
            now=self.started_at,
        )

    def gauges(self) -> dict[str, Any]:
        return {
            "queue_depths": self.queue_depths(),
            "spool_bytes": {kind: self.usage.used(kind) for kind in _KINDS},
            "backlog": len(self.store.pending()),
            "connected": int(self.session.connected.is_set()),
            "landing_ok": int(self.uploader.available),
        }

    def _publish_heartbeat(self, raw: bytes) -> bool:
        return self.session.publish(self.settings.heartbeat_topic, raw, qos=1, retain=True) is not None

    def _on_fatal(self, exc: BaseException) -> None:
        self.fatal = exc
        self.stop_requested.set()

    # --- lifecycle ---

    def _lock_spool(self) -> None:
        self.settings.spool.dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.settings.spool.dir / "lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise RuntimeError(f"spool {self.settings.spool.dir} is in use by another agent") from None
        self._lock_fd = fd

    def recover(self) -> None:
        """Make the spool consistent after whatever happened last (crash, kill -9, power loss)."""
        for kind, spool in self.spools.items():
            report = spool.recover()
            for segment in report.to_seal:
                self.sealer.submit(kind, segment)
            files = [p for _, p in list_segments(self.segments_dir, kind)]
            files += [f.path for f in self.store.pending(kind)]
            if self.conflicts_dir.is_dir():
                files += [p for p in self.conflicts_dir.rglob(f"{kind}-*.parquet")]
            self.usage.rescan(kind, files)
            if report.segments:
                log.info(
                    "recovered the %s spool: %d segments, %d records to seal, %d torn bytes cut, next seq %d",
                    kind,
                    report.segments,
                    report.records,
                    report.torn_bytes,
                    spool.next_seq,
                )
            if report.torn_bytes:
                self.stats.event("recovered_torn_bytes", report.torn_bytes)

    def start(self) -> None:
        log.info("starting edge agent %s with settings %s", self.settings.agent_id, self.settings.redacted())
        self._lock_spool()
        self.recover()
        self.sealer.start()
        self.uploader.start()
        self.downstream.start()
        self.writer.start()
        self.validate.start()
        self.session.start()
        self.heartbeat.start()
        self.metrics.start()

    def run(self) -> int:
        """Start, serve until `stop_requested` (a signal, or a fatal error), stop; returns the exit code."""
        self.start()
        self.stop_requested.wait()
        return self.stop()

    def stop(self) -> int:
        budget = self.settings.shutdown
        deadline = time.monotonic() + budget.drain_timeout_s
        log.info("stopping: draining queues")
        self.session.stop_accepting()
        self.ingress.close()
        if not self.validate.join(max(0.1, deadline - time.monotonic())):
            log.error("validation did not drain in time; the rest stays unacknowledged at the broker")
        self.capture_queue.close()
        if not self.writer.join(max(0.1, deadline - time.monotonic())):
            log.error("the writer did not drain in time (spool full?); the rest stays unacknowledged")
            self.writer.abort()
            self.writer.join(5.0)
        self.downstream.stop(5.0)
        if self.fatal is None:
            self.writer.seal_all()
        if not self.sealer.wait_idle(max(1.0, deadline - time.monotonic())):
            log.error("sealing did not finish in time; the segments are sealed at the next start")
        self.sealer.stop(5.0)
        self.uploader.stop()
        if budget.upload_timeout_s > 0 and not self.uploader.upload_pass(
            time.monotonic() + budget.upload_timeout_s
        ):
            log.warning("final upload incomplete: %d files wait in the spool", len(self.store.pending()))
        self.heartbeat.stop()
        final = self.heartbeat.encode(self.heartbeat_state("OFFLINE"))
        info = (
            self.session.publish(self.settings.heartbeat_topic, final, qos=1, retain=True) if final else None
        )
        if info is not None:
            info.wait_for_publish(5.0)
        self.session.disconnect()
        self.validate.stop()
        self.metrics.stop()
        for spool in self.spools.values():
            spool.close()
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None
        log.info("stopped (%s)", "clean" if self.fatal is None else f"after a fatal error: {self.fatal!r}")
        return 0 if self.fatal is None else 1
