"""Keeping the agent's stages honest: a stage thread that fails stops the agent, a dead worker is restarted.

An exception out of a stage loop (`start_stage`) is logged, becomes the last error and is fatal: the agent
stops with exit code 1 for its supervisor (systemd, Kubernetes) to restart it, and recovery takes over.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from edge_agent.agent.pipeline.child_process import ChildProcess
from edge_agent.agent.stats import Stats

__all__ = ["FatalHandler", "Supervisor", "restart_worker", "start_stage"]

log = logging.getLogger(__name__)

FatalHandler = Callable[[BaseException], None]


class Supervisor:
    """The agent's fate: the fatal error of a stage (or of a shutdown step), and the request to stop."""

    def __init__(self) -> None:
        self.fatal: BaseException | None = None
        self.stop_requested = threading.Event()

    def on_fatal(self, exc: BaseException) -> None:
        """A stage failed: remember why and ask the agent to stop (from any thread)."""
        self.fatal = exc
        self.stop_requested.set()

    def note_failed_step(self, exc: BaseException) -> None:
        """A shutdown step failed: the exit code becomes 1, a stage's earlier error stays the cause."""
        if self.fatal is None:
            self.fatal = exc

    @property
    def exit_code(self) -> int:
        return 0 if self.fatal is None else 1


def start_stage(
    name: str, body: Callable[[], None], *, stats: Stats, on_fatal: FatalHandler
) -> threading.Thread:
    """Run `body` in a daemon thread named `name`; an exception out of it is fatal for the agent."""

    def run() -> None:
        try:
            body()
        except BaseException as exc:
            log.critical("%s stopped: %r", name, exc, exc_info=True)
            stats.error(f"{name} stopped: {exc!r}")
            on_fatal(exc)

    thread = threading.Thread(target=run, name=name, daemon=True)
    thread.start()
    return thread


def restart_worker(worker: ChildProcess, *, stats: Stats, event: str, cause: BaseException) -> bool:
    """Count, log and restart a worker process that died or broke the protocol.

    False (logged) when the new one did not start either; the caller retries later.
    """
    stats.event(event)
    stats.error(f"worker {worker.name} failed ({cause}); restarting it")
    log.error("worker %s failed: %s; restarting it", worker.name, cause)
    try:
        worker.restart()
    except (OSError, RuntimeError, TimeoutError, ValueError) as exc:
        stats.error(f"restarting worker {worker.name} failed: {exc!r}")
        log.error("restarting worker %s failed: %r", worker.name, exc)
        return False
    return True
