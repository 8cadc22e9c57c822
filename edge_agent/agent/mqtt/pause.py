"""Pausing the broker connection while the pipeline cannot take messages (capture spool full, say).

Once the session stalls: announce DEGRADED (retained), disconnect cleanly so the broker keeps the
session and discards the Will, wait until the pipeline has room, reconnect (README: "When the spool fills").
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from edge_agent.agent.mqtt.session import MqttSession
from edge_agent.agent.stats import Stats
from edge_agent.agent.supervision import FatalHandler, start_stage

__all__ = ["CapturePause"]

log = logging.getLogger(__name__)


class CapturePause:
    def __init__(
        self,
        session: MqttSession,
        *,
        announce: Callable[[], object],
        has_room: Callable[[], bool],
        stats: Stats,
        on_fatal: FatalHandler,
        poll_s: float = 0.1,
    ) -> None:
        self.session = session
        self.announce = announce
        self.has_room = has_room
        self.stats = stats
        self.on_fatal = on_fatal
        self.poll_s = poll_s
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def wake(self) -> None:
        """The session stalled (called from the network thread: only sets an event)."""
        self._wake.set()

    def start(self) -> None:
        self._thread = start_stage("capture-pause", self._run, stats=self.stats, on_fatal=self.on_fatal)

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop watching; a paused session stays paused (the agent's stop decides what follows)."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout_s)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait()
            self._wake.clear()
            if self._stop.is_set() or not self.session.stalled.is_set():
                continue
            self.stats.event("capture_pauses")
            self.announce()
            self.session.pause()
            while not self.has_room():
                if self._stop.wait(self.poll_s):
                    return
            log.info("the pipeline has room again: reconnecting")
            self.session.resume()
