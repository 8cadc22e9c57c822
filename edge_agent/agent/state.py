"""What the agent reports about itself: its status, the heartbeat's fields and the gauges of its metrics.

Read from the running parts on demand (a heartbeat, a scrape); the hot path only bumps counters.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

from edge_agent.agent.drift.monitor import DriftMonitor
from edge_agent.agent.heartbeat import HeartbeatStatus, heartbeat_payload, will_payload
from edge_agent.agent.messages import SPOOL_KINDS, Message
from edge_agent.agent.mqtt.session import MqttSession
from edge_agent.agent.pipeline.capture_writer import CaptureWriter
from edge_agent.agent.pipeline.processors import Downstream
from edge_agent.agent.pipeline.queues import BatchQueue
from edge_agent.agent.scoring.build import ScoringParts
from edge_agent.agent.spool.seal_stage import SealStage
from edge_agent.agent.spool.sealed_backlog import SealedBacklog
from edge_agent.agent.spool.usage import SpoolUsage
from edge_agent.agent.stats import Stats
from edge_agent.agent.supervision import Supervisor
from edge_agent.agent.upload.uploader import Uploader

__all__ = ["AgentIdentity", "AgentState"]


@dataclass(frozen=True)
class AgentIdentity:
    """Who the heartbeat speaks for, since when, and under which contract."""

    agent: str
    contract_version: str
    started_at: float
    heartbeat_fields: Collection[str] = field(default_factory=frozenset)
    """The heartbeat fields newer than contract 1.0.0 that the loaded contract declares."""

    def will(self) -> dict[str, Any]:
        return will_payload(
            agent=self.agent,
            started_at=self.started_at,
            contract_version=self.contract_version,
            declared=self.heartbeat_fields,
        )


@dataclass(frozen=True, eq=False)
class AgentState:
    identity: AgentIdentity
    stats: Stats
    supervisor: Supervisor
    ingress: BatchQueue[Message]
    capture_queue: BatchQueue[Message]
    seal_stage: SealStage
    downstream: Downstream
    writer: CaptureWriter
    session: MqttSession
    uploader: Uploader
    usage: SpoolUsage
    backlog: SealedBacklog
    scoring: ScoringParts | None = None
    drift: DriftMonitor | None = None

    def queue_depths(self) -> dict[str, int]:
        return {
            "ingress": len(self.ingress),
            "capture": len(self.capture_queue),
            "seal": len(self.seal_stage),
            **({"score": len(self.scoring.stage.queue)} if self.scoring is not None else {}),
            **self.downstream.depths(),
        }

    def queue_full_waits(self) -> dict[str, int]:
        """Times a producer found a bounded queue full and had to wait (back-pressure), per queue."""
        queues = [self.ingress, self.capture_queue]
        if self.scoring is not None:
            queues.append(self.scoring.stage.queue)
        return {queue.name: queue.full_waits for queue in queues}

    def status(self) -> HeartbeatStatus:
        degraded = (
            self.supervisor.fatal is not None
            or not self.session.subscribed.is_set()  # connected, but the broker has not confirmed our filters
            or not self.uploader.available
            or self.writer.blocked_on is not None
            or self.session.stalled.is_set()
            or self.session.paused.is_set()
        )
        return "DEGRADED" if degraded else "ONLINE"

    def heartbeat(self, status: HeartbeatStatus | None = None) -> dict[str, Any]:
        """The heartbeat's fields now (with the current status unless one is given)."""
        identity = self.identity
        return heartbeat_payload(
            agent=identity.agent,
            status=status or self.status(),
            started_at=identity.started_at,
            contract_version=identity.contract_version,
            stats=self.stats,
            queue_depths=self.queue_depths(),
            queue_full_waits=self.queue_full_waits(),
            spool_bytes=self.usage.total,
            upload_backlog_files=len(self.backlog.pending()),
            last_error=self.stats.last_error,
            model=self.scoring.slot.state() if self.scoring is not None else None,
            scoring=self.scoring_state(),
            declared=identity.heartbeat_fields,
        )

    def scoring_state(self) -> dict[str, Any] | None:
        scoring = self.scoring
        if scoring is None:
            return None
        return scoring.stage.state(published=scoring.publisher.published)

    def gauges(self) -> dict[str, Any]:
        """What the Prometheus collector reads at scrape time besides the counters."""
        return {
            "queue_depths": self.queue_depths(),
            "queue_full_waits": self.queue_full_waits(),
            "spool_bytes": {kind: self.usage.used(kind) for kind in SPOOL_KINDS},
            "backlog": len(self.backlog.pending()),
            "connected": int(self.session.connected.is_set()),
            "landing_ok": int(self.uploader.available),
            "scoring": self.scoring_state(),
            "model": self.scoring.slot.state() if self.scoring is not None else None,
            "drift": self.drift.state() if self.drift is not None else None,
        }

    def pipeline_has_room(self) -> bool:
        """Room to end a capture pause: the writer writes again and the ingress queue is at most half
        full, by count and by bytes (large payloads fill it by bytes long before by count)."""
        ingress = self.ingress
        return (
            self.writer.blocked_on is None
            and len(ingress) <= ingress.capacity // 2
            and (ingress.max_bytes is None or ingress.bytes <= ingress.max_bytes // 2)
        )
