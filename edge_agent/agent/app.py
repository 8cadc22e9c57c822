"""The edge agent: its parts (built by `builder.build_parts`) and their lifecycle.

with EdgeAgent(settings) as agent:    # start(); stop() on leaving, the exit code in agent.exit_code
    agent.ready.wait(30)              # every part runs and the broker holds our subscriptions
    agent.stop_requested.wait()       # a signal (the CLI) or a fatal error of a stage
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from functools import partial
from types import TracebackType
from typing import Any

from edge_agent.agent.builder import AgentParts, build_parts
from edge_agent.agent.heartbeat import HeartbeatStatus
from edge_agent.agent.mqtt.session import MqttSession
from edge_agent.agent.parts import Part, Readiness
from edge_agent.agent.pipeline.processors import Processor
from edge_agent.agent.settings import EdgeSettings
from edge_agent.agent.stats import Stats
from edge_agent.agent.upload.targets import LandingTarget
from edge_agent.contract import Contract

__all__ = ["EdgeAgent"]

log = logging.getLogger(__name__)


class EdgeAgent:
    """Building it reads the contract and creates the parts; nothing runs before `start()`.

    `start()` starts the parts in their order (`builder.start_order`: the spool, locked and recovered,
    then the pipeline from its back to its front); if one fails, those started are stopped again and
    the error propagates. `stop()` is the orderly shutdown: every part drains in reverse order (the
    front stops taking messages, the queues drain through the group commit, open segments are sealed,
    one bounded upload pass), then every part stops in reverse order (a retained OFFLINE heartbeat, a
    clean disconnect, the worker processes, the spool's lock). A step that fails is logged, kept as the
    last error and makes the exit code 1; the steps after it still run.
    """

    def __init__(
        self,
        settings: EdgeSettings,
        *,
        processors: Sequence[Processor] = (),
        landing: LandingTarget | None = None,
        subscriptions: Sequence[str] | None = None,
    ) -> None:
        """`landing` replaces the target `settings.landing` names; `subscriptions` the topic filters of
        the contract's receive channels, bound to the agent's place by `subscribe_scope`."""
        self.settings = settings
        self.parts: AgentParts = build_parts(
            settings, processors=processors, landing=landing, subscriptions=subscriptions
        )
        self.exit_code: int | None = None
        """Set by `stop()`: 0 after a clean run, 1 after a fatal error or a failed shutdown step."""
        self._running = False

    # --- what the CLI, the tests and the demo read ---

    @property
    def ready(self) -> Readiness:
        """Set (`is_set()`, `wait(timeout_s)`) while the agent runs, every part is ready and the broker
        holds our subscriptions."""
        return self.parts.readiness

    @property
    def stop_requested(self) -> threading.Event:
        """Set to make `run()` stop (a signal handler sets it), and by a stage that fails."""
        return self.parts.supervisor.stop_requested

    @property
    def fatal(self) -> BaseException | None:
        return self.parts.supervisor.fatal

    @property
    def contract(self) -> Contract:
        return self.parts.contract

    @property
    def stats(self) -> Stats:
        return self.parts.stats

    @property
    def session(self) -> MqttSession:
        return self.parts.session

    def status(self) -> HeartbeatStatus:
        return self.parts.state.status()

    def heartbeat_state(self, status: HeartbeatStatus | None = None) -> dict[str, Any]:
        return self.parts.state.heartbeat(status)

    def queue_depths(self) -> dict[str, int]:
        return self.parts.state.queue_depths()

    # --- lifecycle ---

    def start(self) -> None:
        """Start every part in order; on failure stop those started (in reverse) and re-raise."""
        log.info("starting edge agent %s with settings %s", self.settings.agent_id, self.settings.redacted())
        started: list[Part] = []
        try:
            for part in self.parts.lifecycle:
                started.append(part)  # a part whose start fails is stopped too (it may hold something)
                part.start()
        except BaseException:
            log.error("start failed: stopping what was started")
            for part in reversed(started):
                try:
                    part.stop()
                except Exception:
                    log.exception("while undoing a failed start: stopping %s failed", part.name)
            raise
        self._running = True
        self.exit_code = None
        self.parts.readiness.running(True)

    def run(self) -> int:
        """Start, serve until `stop_requested` (a signal, or a fatal error), stop; returns the exit code.
        A failed start raises (having cleaned up after itself)."""
        self.start()
        self.stop_requested.wait()
        return self.stop()

    def stop(self) -> int:
        """The orderly shutdown; returns the exit code. Does nothing but report it unless started."""
        supervisor = self.parts.supervisor
        if not self._running:
            self.exit_code = supervisor.exit_code
            return self.exit_code
        self._running = False
        self.parts.readiness.running(False)
        deadline = time.monotonic() + self.settings.shutdown.drain_timeout_s
        log.info("stopping: draining queues")
        for part in reversed(self.parts.lifecycle):
            self._shutdown_step(f"draining {part.name}", partial(part.drain, deadline))
        for part in reversed(self.parts.lifecycle):
            self._shutdown_step(f"stopping {part.name}", part.stop)
        fatal = supervisor.fatal
        log.info("stopped (%s)", "clean" if fatal is None else f"after a fatal error: {fatal!r}")
        self.exit_code = supervisor.exit_code
        return self.exit_code

    def _shutdown_step(self, what: str, action: Callable[[], object]) -> None:
        try:
            action()
        except Exception as exc:
            log.exception("stopping: %s failed", what)
            self.stats.error(f"stopping: {what} failed: {exc!r}")
            self.parts.supervisor.note_failed_step(exc)

    def __enter__(self) -> EdgeAgent:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
