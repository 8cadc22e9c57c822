"""Keeping the agent's stages honest: a stage thread that fails stops the agent, a dead worker is restarted.

A stage thread that died unseen would leave the agent ONLINE while nothing moves (no uploads, no
validation). So every stage loop runs under `start_stage`: an exception escaping it is logged, set as the
last error and handed to `on_fatal`, which stops the agent with exit code 1 so that its supervisor
(systemd `Restart=always`, Kubernetes) starts it again, and recovery takes it from there.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from edge_agent.agent.child_process import ChildProcess
from edge_agent.agent.stats import Stats

__all__ = ["FatalHandler", "restart_worker", "start_stage"]

log = logging.getLogger(__name__)

FatalHandler = Callable[[BaseException], None]


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
