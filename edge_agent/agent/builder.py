"""The wiring: every part of the agent built from one settings object, and the order they start in.

Nothing runs here: building reads the contract and creates objects; `EdgeAgent.start()` starts them.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial

from edge_agent.agent.drift.build import DriftPart, build_drift
from edge_agent.agent.drift.monitor import DriftMonitor
from edge_agent.agent.heartbeat import (
    ADDED_FIELDS,
    ANOMALY_ADDED_FIELDS,
    HeartbeatPublisher,
    contract_declares,
    encode_heartbeat,
)
from edge_agent.agent.messages import SPOOL_KINDS, Message, SpoolKind
from edge_agent.agent.metrics import AgentCollector, MetricsServer
from edge_agent.agent.mqtt.pause import CapturePause
from edge_agent.agent.mqtt.session import MqttSession
from edge_agent.agent.mqtt.subscriptions import scoped_filters, stale_filters
from edge_agent.agent.parts import (
    CaptureWriterPart,
    HeartbeatPart,
    MetricsPart,
    Part,
    PausePart,
    ProcessorsPart,
    Readiness,
    SealStagePart,
    SessionPart,
    SpoolPart,
    UploaderPart,
    ValidatePart,
)
from edge_agent.agent.pipeline.capture_writer import CaptureWriter
from edge_agent.agent.pipeline.processors import Downstream, Processor, ProcessorPool
from edge_agent.agent.pipeline.queues import BatchQueue
from edge_agent.agent.pipeline.validate_stage import ValidateStage
from edge_agent.agent.scoring.build import ScoringPart, ScoringParts, build_scoring
from edge_agent.agent.scoring.stage import TELEMETRY_CHANNEL
from edge_agent.agent.settings import EdgeSettings, PipelineSettings
from edge_agent.agent.spool.directory import SpoolDirectory
from edge_agent.agent.spool.seal_stage import SealStage
from edge_agent.agent.spool.sealed_backlog import SealedBacklog
from edge_agent.agent.spool.segments import SegmentSpool
from edge_agent.agent.spool.usage import SpoolUsage
from edge_agent.agent.state import AgentIdentity, AgentState
from edge_agent.agent.stats import Stats
from edge_agent.agent.supervision import Supervisor
from edge_agent.agent.upload.targets import LandingTarget, open_landing_target
from edge_agent.agent.upload.uploader import Uploader
from edge_agent.contract import Contract, ContractValidator, load_contract

__all__ = ["AgentParts", "SpoolParts", "build_parts", "max_in_flight", "start_order"]


@dataclass(frozen=True, eq=False)
class SpoolParts:
    """The spool folder and what works on it: segments, the seal stage, the sealed backlog, the uploads."""

    folder: SpoolDirectory
    usage: SpoolUsage
    spools: dict[SpoolKind, SegmentSpool]
    backlog: SealedBacklog
    landing: LandingTarget
    uploader: Uploader
    seal_stage: SealStage


@dataclass(eq=False)
class AgentParts:
    """Every part of one agent, and `lifecycle`: the parts in their start order (`start_order`)."""

    contract: Contract
    stats: Stats
    supervisor: Supervisor
    readiness: Readiness
    spool: SpoolParts
    ingress: BatchQueue[Message]
    capture_queue: BatchQueue[Message]
    validate: ValidateStage
    downstream: Downstream
    writer: CaptureWriter
    session: MqttSession
    pause: CapturePause
    heartbeat: HeartbeatPublisher
    state: AgentState
    metrics: MetricsServer
    scoring: ScoringParts | None
    drift: DriftMonitor | None = None
    lifecycle: tuple[Part, ...] = field(default=())


def start_order(parts: AgentParts, settings: EdgeSettings) -> tuple[Part, ...]:
    """The spool first (locked before anything in it is touched, then recovered), then the pipeline from
    its back to its front, so that every stage has a consumer before messages arrive (the drift monitor
    before scoring, which hands it work). A new part is one more line here, where it must start."""
    p, spool = parts, parts.spool
    return (
        SpoolPart(
            spool.folder,
            spool.spools,
            writer=p.writer,
            seal_stage=spool.seal_stage,
            backlog=spool.backlog,
            usage=spool.usage,
            stats=p.stats,
        ),
        MetricsPart(p.metrics),
        UploaderPart(spool.uploader, spool.backlog, settings.shutdown.upload_timeout_s),
        *([DriftPart(p.drift)] if p.drift is not None else []),
        *([ScoringPart(p.scoring)] if p.scoring is not None else []),
        SealStagePart(spool.seal_stage),
        ProcessorsPart(p.downstream),
        CaptureWriterPart(p.writer, p.capture_queue, p.supervisor),
        ValidatePart(p.validate, p.ingress),
        PausePart(p.pause, p.session),
        SessionPart(p.session),
        HeartbeatPart(p.heartbeat, p.session, p.stats),
    )


def max_in_flight(pipeline: PipelineSettings) -> int:
    """Messages the broker may have outstanding with us: every place in the pipeline that holds one. The
    redelivery window covers at least that many (see `spool.digest_window`)."""
    return (
        pipeline.ingress_capacity
        + pipeline.capture_capacity
        + pipeline.validate_workers * pipeline.validate_batch
        + pipeline.group_commit_max
    )


def build_parts(
    settings: EdgeSettings,
    *,
    processors: Sequence[Processor] = (),
    landing: LandingTarget | None = None,
    subscriptions: Sequence[str] | None = None,
) -> AgentParts:
    """Every part, wired. `landing` replaces the target `settings.landing` names; `subscriptions` the
    topic filters of the contract's receive channels (topics outside the contract are quarantined)."""
    contract = load_contract(settings.contract_path)
    pipeline = settings.pipeline
    stats, supervisor, readiness = Stats(pipeline.max_counter_topics), Supervisor(), Readiness()
    identity = _identity(settings, contract)
    spool = _spool_parts(settings, contract, stats, supervisor, landing)
    ingress = _queue("ingress", pipeline.ingress_capacity, pipeline)
    capture_queue = _queue("capture", pipeline.capture_capacity, pipeline)
    # What we send is checked against the contract, not against the limit we set for what we receive.
    outbound = ContractValidator(contract)
    will = encode_heartbeat(identity.will(), outbound, settings.heartbeat_topic, stats)
    if will is None:
        raise RuntimeError("the Will message breaks the contract's agentHeartbeat schema")

    def on_subscribed() -> None:  # called by the session's network thread, once started
        heartbeat.trigger()
        readiness.changed()

    session = _session(
        settings,
        contract,
        subscriptions,
        ingress,
        stats,
        will,
        on_connected=on_subscribed,
        on_stalled=lambda: pause.wake(),  # called by the network thread, once started
    )
    drift = build_drift(
        settings, contract=contract, folder=spool.folder, backlog=spool.backlog, uploader=spool.uploader,
        session=session, stats=stats, supervisor=supervisor,
    )  # fmt: skip
    scoring = build_scoring(
        settings, folder=spool.folder, backlog=spool.backlog, landing=spool.landing, session=session,
        stats=stats, supervisor=supervisor, undeclared_fields=_undeclared_anomaly_fields(settings, contract),
        drift=drift,
    )  # fmt: skip
    validate = _validate(settings, contract, ingress, capture_queue, stats, supervisor, scoring)
    downstream = _downstream(pipeline, processors, stats)
    writer = _writer(settings, capture_queue, spool, session, downstream, stats, supervisor)
    if scoring is not None:
        writer.scoring = scoring.stage.offer
        spool.uploader.holds_back = scoring.stage.holds_back
    state = AgentState(
        identity, stats, supervisor, ingress, capture_queue, spool.seal_stage, downstream, writer, session,
        spool.uploader, spool.usage, spool.backlog, scoring, drift,
    )  # fmt: skip
    heartbeat = HeartbeatPublisher(
        topic=settings.heartbeat_topic,
        interval_s=settings.heartbeat.interval_s,
        build=state.heartbeat,
        publish=partial(session.publish, settings.heartbeat_topic, qos=1, retain=True),
        validator=outbound,
        stats=stats,
    )
    pause = CapturePause(
        session,
        announce=partial(heartbeat.announce, "DEGRADED", wait_s=5.0),
        has_room=state.pipeline_has_room,
        stats=stats,
        on_fatal=supervisor.on_fatal,
    )
    metrics = MetricsServer(settings.metrics.host, settings.metrics.port, AgentCollector(stats, state.gauges))
    parts = AgentParts(
        contract, stats, supervisor, readiness, spool, ingress, capture_queue, validate, downstream, writer,
        session, pause, heartbeat, state, metrics, scoring, drift,
    )  # fmt: skip
    parts.lifecycle = start_order(parts, settings)
    readiness.watch(parts.lifecycle)
    return parts


def _identity(settings: EdgeSettings, contract: Contract) -> AgentIdentity:
    """Heartbeat fields newer than the contract we were given are left out (see `heartbeat`)."""
    declared = [f for f in ADDED_FIELDS if contract_declares(contract, settings.heartbeat_topic, f)]
    return AgentIdentity(settings.agent_id, contract.version, time.time(), frozenset(declared))


def _undeclared_anomaly_fields(settings: EdgeSettings, contract: Contract) -> frozenset[str]:
    """Result fields newer than the contract we were given: left out of what we publish."""
    topic = f"{settings.line_prefix}/cell/weld/anomaly"
    return frozenset(f for f in ANOMALY_ADDED_FIELDS if not contract_declares(contract, topic, f))


def _payload_size(message: Message) -> int:
    return len(message.payload)


def _queue(name: str, capacity: int, settings: PipelineSettings) -> BatchQueue[Message]:
    return BatchQueue(name, capacity, max_bytes=settings.queue_max_bytes, weigh=_payload_size)


def _spool_parts(
    settings: EdgeSettings,
    contract: Contract,
    stats: Stats,
    supervisor: Supervisor,
    landing: LandingTarget | None,
) -> SpoolParts:
    spool = settings.spool
    folder = SpoolDirectory(spool.dir)
    usage = SpoolUsage({"capture": spool.max_bytes, "quarantine": spool.quarantine_max_bytes})
    spools = {
        kind: SegmentSpool(
            folder.segments,
            kind,
            agent=settings.agent_id,
            contract_version=contract.version,
            segment_max_bytes=spool.segment_max_bytes,
            max_age_s=spool.seal_max_age_s,
            window_size=max(spool.dedup_window, max_in_flight(settings.pipeline)),
            usage=usage,
            fsync=spool.fsync,
        )
        for kind in SPOOL_KINDS
    }
    backlog = SealedBacklog(folder.sealed, usage, stats, fsync=spool.fsync)
    target = landing if landing is not None else open_landing_target(settings.landing)
    uploader = Uploader(
        backlog,
        target,
        conflicts_dir=folder.conflicts,
        corrupt_dir=folder.corrupt,
        settings=settings.landing,
        stats=stats,
        on_fatal=supervisor.on_fatal,
    )
    seal_stage = SealStage(
        folder.sealed,
        tree_lock=backlog.tree_lock,
        in_process=spool.seal_mode == "process",
        default_site=settings.site,
        default_line=settings.line,
        usage=usage,
        stats=stats,
        on_sealed=uploader.notify,
        on_fatal=supervisor.on_fatal,
        fsync=spool.fsync,
    )
    return SpoolParts(folder, usage, spools, backlog, target, uploader, seal_stage)


def _session(
    settings: EdgeSettings,
    contract: Contract,
    subscriptions: Sequence[str] | None,
    ingress: BatchQueue[Message],
    stats: Stats,
    will: bytes,
    *,
    on_connected: Callable[[], None],
    on_stalled: Callable[[], None],
) -> MqttSession:
    """On the contract's receive channels bound to the agent's place, or on `subscriptions` (the caller's
    own list: then no stale filters of ours are removed from the broker's session)."""
    receives = contract.channels_for("receive")
    own = subscriptions is None
    return MqttSession(
        settings,
        ingress=ingress,
        stats=stats,
        subscriptions=scoped_filters(settings, receives) if own else list(subscriptions or ()),
        stale_subscriptions=stale_filters(settings, receives) if own else [],
        will_payload=will,
        on_connected=on_connected,
        on_stalled=on_stalled,
    )


def _validate(
    settings: EdgeSettings,
    contract: Contract,
    ingress: BatchQueue[Message],
    capture_queue: BatchQueue[Message],
    stats: Stats,
    supervisor: Supervisor,
    scoring: ScoringParts | None,
) -> ValidateStage:
    return ValidateStage(
        ingress,
        capture_queue,
        validator=ContractValidator(contract, max_payload_bytes=settings.pipeline.max_payload_bytes),
        contract_path=settings.contract_path,
        settings=settings.pipeline,
        stats=stats,
        on_fatal=supervisor.on_fatal,
        decode_channel=TELEMETRY_CHANNEL if scoring is not None else None,
        wants_blocks=scoring.stage.wants_blocks if scoring is not None else (lambda: False),
    )


def _downstream(settings: PipelineSettings, processors: Sequence[Processor], stats: Stats) -> Downstream:
    workers = {"score": settings.score_workers, "drift": settings.drift_workers}
    return Downstream(
        [
            ProcessorPool(
                p, workers=workers[p.kind], capacity=settings.downstream_capacity, batch=256, stats=stats
            )
            for p in processors
        ]
    )


def _writer(
    settings: EdgeSettings,
    queue: BatchQueue[Message],
    spool: SpoolParts,
    session: MqttSession,
    downstream: Downstream,
    stats: Stats,
    supervisor: Supervisor,
) -> CaptureWriter:
    return CaptureWriter(
        queue,
        spool.spools,
        ack=session.ack,
        current_generation=session.current_generation,
        seal_stage=spool.seal_stage,
        backlog=spool.backlog,
        usage=spool.usage,
        stats=stats,
        downstream=downstream,
        group_max=settings.pipeline.group_commit_max,
        quarantine_when_full=settings.spool.quarantine_when_full,
        on_fatal=supervisor.on_fatal,
    )
