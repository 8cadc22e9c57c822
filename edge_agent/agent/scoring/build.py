"""Scoring's share of the wiring: the model slot, the stage, the outbox and the result publisher, and the
part that starts and stops them (after the uploader, before the seal stage: see `ScoringPart`)."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import paho.mqtt.client as mqtt

from edge_agent.agent.drift.monitor import DriftMonitor
from edge_agent.agent.model_slot.package_cache import PackageCache
from edge_agent.agent.model_slot.slot import ModelSlot
from edge_agent.agent.mqtt.session import MqttSession
from edge_agent.agent.parts import Part
from edge_agent.agent.scoring.checkpoint import CheckpointFile
from edge_agent.agent.scoring.outbox import ScoreOutbox
from edge_agent.agent.scoring.result_publisher import ResultPublisher
from edge_agent.agent.scoring.stage import ScoringStage
from edge_agent.agent.settings import EdgeSettings
from edge_agent.agent.spool.directory import SpoolDirectory
from edge_agent.agent.spool.sealed_backlog import SealedBacklog
from edge_agent.agent.stats import Stats
from edge_agent.agent.supervision import Supervisor
from edge_agent.agent.upload.targets import LandingTarget

__all__ = ["ScoringPart", "ScoringParts", "build_scoring"]

log = logging.getLogger(__name__)

_PUBLISH_DRAIN_S = 5.0


@dataclass(frozen=True)
class ScoringParts:
    slot: ModelSlot
    stage: ScoringStage
    outbox: ScoreOutbox
    publisher: ResultPublisher


def build_scoring(
    settings: EdgeSettings,
    *,
    folder: SpoolDirectory,
    backlog: SealedBacklog,
    landing: LandingTarget,
    session: MqttSession,
    stats: Stats,
    supervisor: Supervisor,
    undeclared_fields: frozenset[str],
    drift: DriftMonitor | None = None,
) -> ScoringParts | None:
    """None when scoring is off (no `model.public_key`: nothing could be verified). `drift`: the
    monitor the stage hands the scored windows' profile to."""
    model = settings.model
    if model.public_key is None:
        return None
    cache = PackageCache(
        folder.root / "models",
        public_key=model.public_key,
        key_id=model.key_id,
        keep=model.keep_versions,
        max_file_bytes=model.max_file_bytes,
    )
    slot = ModelSlot(
        agent=settings.agent_id,
        line=settings.line,
        cache=cache,
        landing=landing,
        stats=stats,
        retry_min_s=model.fetch_retry_min_s,
        retry_max_s=model.fetch_retry_max_s,
    )
    outbox = ScoreOutbox(
        folder.root / "outbox", settings.scoring.outbox_max_bytes, fsync=settings.spool.fsync
    )
    stage = ScoringStage(
        settings,
        slot=slot,
        outbox=outbox,
        backlog=backlog,
        segments_dir=folder.segments,
        checkpoints=CheckpointFile(folder.root / "scoring", fsync=settings.spool.fsync),
        stats=stats,
        on_fatal=supervisor.on_fatal,
        undeclared_fields=undeclared_fields,
        drift=drift,
    )

    def publish(topic: str, payload: bytes) -> mqtt.MQTTMessageInfo | None:
        return session.publish(topic, payload, qos=1)

    publisher = ResultPublisher(
        outbox, publish, session.connected, inflight=settings.scoring.publish_inflight
    )
    session.on_published = publisher.acknowledged
    return ScoringParts(slot, stage, outbox, publisher)


class ScoringPart(Part):
    """Started after the uploader (whose fence it sets: capture files past its checkpoint stay) and before
    the seal stage, so that the spool holds still while it scores what was captured since its checkpoint;
    drained after the seal stage and before the uploader's final pass, which its last checkpoint opens."""

    name = "scoring"

    def __init__(self, parts: ScoringParts) -> None:
        self.parts = parts

    @property
    def ready(self) -> bool:
        return True  # scoring serves with or without a model; the heartbeat's `model` says which

    def start(self) -> None:
        self.parts.stage.start()
        self.parts.publisher.start()

    def drain(self, deadline: float) -> None:
        self.parts.stage.drain(deadline)
        left = min(_PUBLISH_DRAIN_S, max(0.0, deadline - time.monotonic()))
        if not self.parts.publisher.drain(left):
            log.warning("%d results wait in the outbox for the next start", self.parts.outbox.backlog)

    def stop(self) -> None:
        self.parts.publisher.stop()
        self.parts.stage.stop()
