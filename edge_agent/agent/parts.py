"""The agent's parts as its lifecycle sees them: start, ready, drain (the orderly stop) and stop.

`builder.build_parts` lists them in start order; `EdgeAgent` starts them in that order, drains them in
reverse, then stops them in reverse. One class per part says what each step means for it.
"""

from __future__ import annotations

import logging
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence

from edge_agent.agent.heartbeat import HeartbeatPublisher
from edge_agent.agent.messages import Message, SpoolKind
from edge_agent.agent.metrics import MetricsServer
from edge_agent.agent.mqtt.pause import CapturePause
from edge_agent.agent.mqtt.session import MqttSession
from edge_agent.agent.pipeline.capture_writer import CaptureWriter
from edge_agent.agent.pipeline.processors import Downstream
from edge_agent.agent.pipeline.queues import BatchQueue
from edge_agent.agent.pipeline.validate_stage import ValidateStage
from edge_agent.agent.spool.directory import SpoolDirectory
from edge_agent.agent.spool.seal_stage import SealStage
from edge_agent.agent.spool.sealed_backlog import SealedBacklog
from edge_agent.agent.spool.segments import SegmentSpool
from edge_agent.agent.spool.usage import SpoolUsage
from edge_agent.agent.stats import Stats
from edge_agent.agent.supervision import Supervisor
from edge_agent.agent.upload.uploader import Uploader

__all__ = [
    "CaptureWriterPart",
    "HeartbeatPart",
    "MetricsPart",
    "Part",
    "PausePart",
    "ProcessorsPart",
    "Readiness",
    "SealStagePart",
    "SessionPart",
    "SpoolPart",
    "UploaderPart",
    "ValidatePart",
]

log = logging.getLogger(__name__)

_STOP_TIMEOUT_S = 5.0


def _left(deadline: float, floor_s: float) -> float:
    return max(floor_s, deadline - time.monotonic())


class Part(ABC):
    """One part of the agent. `stop` follows `drain` in an orderly stop, and alone undoes a failed start
    (for the part whose `start` raised too): it must do nothing harmful when called twice."""

    name: str = "a part"

    @property
    def ready(self) -> bool:
        """Doing its job (once started); the agent is ready when every part is."""
        return True

    @abstractmethod
    def start(self) -> None: ...

    @abstractmethod
    def drain(self, deadline: float) -> None:
        """Stop taking work and finish what is in hand by `deadline` (`time.monotonic()`)."""

    @abstractmethod
    def stop(self) -> None: ...


class Readiness:
    """Set once the agent runs and every part is ready: reads like a `threading.Event` (`is_set`, `wait`).

    A part whose readiness changes while the agent runs calls `changed()`."""

    def __init__(self) -> None:
        self._parts: Sequence[Part] = ()
        self._running = False
        self._changed = threading.Condition()

    def watch(self, parts: Sequence[Part]) -> None:
        self._parts = parts

    def running(self, value: bool) -> None:
        with self._changed:
            self._running = value
            self._changed.notify_all()

    def changed(self) -> None:
        with self._changed:
            self._changed.notify_all()

    def is_set(self) -> bool:
        return self._running and all(part.ready for part in self._parts)

    def wait(self, timeout_s: float | None = None) -> bool:
        with self._changed:
            return self._changed.wait_for(self.is_set, timeout_s)


class SpoolPart(Part):
    """Taken (locked) before anything in it is touched, then recovered; released if the writer is gone."""

    name = "the spool"

    def __init__(
        self,
        folder: SpoolDirectory,
        spools: Mapping[SpoolKind, SegmentSpool],
        *,
        writer: CaptureWriter,
        seal_stage: SealStage,
        backlog: SealedBacklog,
        usage: SpoolUsage,
        stats: Stats,
    ) -> None:
        self.folder = folder
        self.spools = spools
        self.writer = writer
        self.seal_stage = seal_stage
        self.backlog = backlog
        self.usage = usage
        self.stats = stats

    def start(self) -> None:
        self.folder.lock()  # raises having touched nothing when another agent holds the spool
        self.folder.recover(
            self.spools, seal_stage=self.seal_stage, backlog=self.backlog, usage=self.usage, stats=self.stats
        )

    def drain(self, deadline: float) -> None:
        """Nothing to drain: the parts that write into the spool drain themselves."""

    def stop(self) -> None:
        if self.writer.alive:  # only the writer touches the spools: leave them to the next start
            return
        for spool in self.spools.values():
            spool.close()
        self.folder.unlock()


class MetricsPart(Part):
    name = "the metrics endpoint"

    def __init__(self, metrics: MetricsServer) -> None:
        self.metrics = metrics

    def start(self) -> None:
        self.metrics.start()

    def drain(self, deadline: float) -> None:
        """Nothing to drain: it serves scrapes until stopped."""

    def stop(self) -> None:
        self.metrics.stop()


class UploaderPart(Part):
    """Drained by one last upload pass of its own, bounded by `shutdown.upload_timeout_s`."""

    name = "the uploader"

    def __init__(self, uploader: Uploader, backlog: SealedBacklog, final_pass_s: float) -> None:
        self.uploader = uploader
        self.backlog = backlog
        self.final_pass_s = final_pass_s

    def start(self) -> None:
        self.uploader.start()

    def drain(self, deadline: float) -> None:
        self.uploader.stop()
        if self.final_pass_s > 0 and not self.uploader.upload_pass(time.monotonic() + self.final_pass_s):
            log.warning("final upload incomplete: %d files wait in the spool", len(self.backlog.pending()))

    def stop(self) -> None:
        self.uploader.stop()


class SealStagePart(Part):
    name = "the seal stage"

    def __init__(self, seal_stage: SealStage) -> None:
        self.seal_stage = seal_stage

    def start(self) -> None:
        self.seal_stage.start()

    def drain(self, deadline: float) -> None:
        if not self.seal_stage.wait_idle(_left(deadline, 1.0)):
            log.error("sealing did not finish in time; the segments are sealed at the next start")
        self.seal_stage.stop(_STOP_TIMEOUT_S)

    def stop(self) -> None:
        self.seal_stage.stop(_STOP_TIMEOUT_S)


class ProcessorsPart(Part):
    name = "the processors"

    def __init__(self, downstream: Downstream) -> None:
        self.downstream = downstream

    def start(self) -> None:
        self.downstream.start()

    def drain(self, deadline: float) -> None:
        self.downstream.stop(_STOP_TIMEOUT_S)

    def stop(self) -> None:
        self.downstream.stop(_STOP_TIMEOUT_S)


class CaptureWriterPart(Part):
    """Drained through the group commit; then the open segments go to the seal stage (after a clean run)."""

    name = "the capture writer"

    def __init__(self, writer: CaptureWriter, queue: BatchQueue[Message], supervisor: Supervisor) -> None:
        self.writer = writer
        self.queue = queue
        self.supervisor = supervisor

    def start(self) -> None:
        self.writer.start()

    def drain(self, deadline: float) -> None:
        self.queue.close()
        if not self.writer.join(_left(deadline, 0.1)):
            log.error("the writer did not drain in time (spool full?); the rest stays unacknowledged")
            self.writer.abort()
            self.writer.join(_STOP_TIMEOUT_S)
        if self.writer.alive:
            log.critical("the writer is still writing: the open segments are sealed at the next start")
        elif self.supervisor.fatal is None:
            self.writer.seal_all()

    def stop(self) -> None:
        self.queue.close()
        self.writer.abort()
        self.writer.join(_STOP_TIMEOUT_S)


class ValidatePart(Part):
    name = "the validate stage"

    def __init__(self, validate: ValidateStage, ingress: BatchQueue[Message]) -> None:
        self.validate = validate
        self.ingress = ingress

    def start(self) -> None:
        self.validate.start()

    def drain(self, deadline: float) -> None:
        self.ingress.close()
        if not self.validate.join(_left(deadline, 0.1)):
            log.error("validation did not drain in time; the rest stays unacknowledged at the broker")

    def stop(self) -> None:
        self.validate.stop()  # the threads, then the worker processes


class PausePart(Part):
    name = "the capture pause"

    def __init__(self, pause: CapturePause, session: MqttSession) -> None:
        self.pause = pause
        self.session = session

    def start(self) -> None:
        self.pause.start()

    def drain(self, deadline: float) -> None:
        self.pause.stop()
        if self.session.paused.is_set():
            self.session.resume()  # only to leave the OFFLINE heartbeat: it takes no message any more

    def stop(self) -> None:
        self.pause.stop()


class SessionPart(Part):
    """Ready once the broker holds our subscriptions; drained by taking no more messages (the rest stays
    unacknowledged at the broker); stopped by a clean disconnect, so the broker drops the Will."""

    name = "the MQTT session"

    def __init__(self, session: MqttSession) -> None:
        self.session = session

    @property
    def ready(self) -> bool:
        return self.session.subscribed.is_set()

    def start(self) -> None:
        self.session.start()

    def drain(self, deadline: float) -> None:
        self.session.stop_accepting()

    def stop(self) -> None:
        self.session.disconnect()


class HeartbeatPart(Part):
    """Beats on while the others drain; an orderly stop ends with a retained OFFLINE heartbeat."""

    name = "the heartbeat"

    def __init__(self, heartbeat: HeartbeatPublisher, session: MqttSession, stats: Stats) -> None:
        self.heartbeat = heartbeat
        self.session = session
        self.stats = stats
        self._offline_by: float | None = None

    def start(self) -> None:
        self.heartbeat.start()

    def drain(self, deadline: float) -> None:
        self._offline_by = deadline

    def stop(self) -> None:
        self.heartbeat.stop()
        if self._offline_by is not None:
            self._leave_offline(self._offline_by)

    def _leave_offline(self, deadline: float) -> None:
        """Once the session is up (a stop during a (re)connect or after a pause waits for it, within the
        drain budget, at most 5 s)."""
        self.session.connected.wait(max(0.1, min(5.0, deadline - time.monotonic())))
        if not self.heartbeat.announce("OFFLINE", wait_s=5.0):
            self.stats.error("the OFFLINE heartbeat did not reach the broker; the Will may announce us")
            log.error("the OFFLINE heartbeat did not reach the broker (not connected, or no PUBACK in 5 s)")
