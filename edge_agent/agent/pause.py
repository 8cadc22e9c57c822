"""Pausing the broker connection while the pipeline cannot take messages (capture spool full, say).

Why not just let `on_message` wait: paho writes to the socket only from its network thread, so while
that thread waits for room no PINGREQ, PUBACK or heartbeat leaves, and after 1.5 x keepalive the broker
drops us and publishes our Will (OFFLINE), while we are alive and merely full. Instead, once the
session reports a stall (`MqttSession.stalled`), this thread:

1. publishes a retained DEGRADED heartbeat and waits for the broker to take it, so that the plant sees
   why the agent went quiet;
2. disconnects cleanly: the broker discards the Will and keeps the persistent session, queueing for it
   (up to its own limits, e.g. Mosquitto `max_queued_messages`);
3. waits until the pipeline has room again (the writer is no longer blocked, the ingress queue at most
   half full), then reconnects; the broker redelivers what was left unacknowledged, and the writer's
   redelivery window drops what was already written.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from edge_agent.agent.mqtt_session import MqttSession
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
