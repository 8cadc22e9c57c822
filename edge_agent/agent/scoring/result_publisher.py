"""Publishes the outbox's results at QoS 1 and confirms each once the broker acknowledged it.

While the broker is unreachable results wait in the outbox (on disk); a result whose acknowledgement
was lost with the connection is published again (same `result_id`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import paho.mqtt.client as mqtt

from edge_agent.agent.scoring.outbox import OutboxEntry, ScoreOutbox
from edge_agent.agent.stats import Stats

__all__ = ["ResultPublisher"]

log = logging.getLogger(__name__)

_ACK_WAIT_S = 0.5


class ResultPublisher:
    def __init__(
        self,
        outbox: ScoreOutbox,
        publish: Callable[[str, bytes], mqtt.MQTTMessageInfo | None],
        connected: threading.Event,
        stats: Stats,
        *,
        inflight: int,
    ) -> None:
        self.outbox = outbox
        self.publish = publish
        self.connected = connected
        self.stats = stats
        self.inflight = inflight
        self.published = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="result-publisher", daemon=True)
        self._thread.start()

    def drain(self, timeout_s: float) -> bool:
        """Wait (bounded) until the broker confirmed every result; what is left waits in the outbox."""
        deadline = time.monotonic() + timeout_s
        while self.outbox.backlog and time.monotonic() < deadline and self.connected.is_set():
            self._stop.wait(0.05)
        return not self.outbox.backlog

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5.0)

    def _run(self) -> None:
        while not self._stop.is_set():
            if not self.connected.wait(0.5):
                continue
            entries = self.outbox.unsent(self.inflight, timeout_s=0.5)
            if entries:
                self._send(entries)

    def _send(self, entries: list[OutboxEntry]) -> None:
        sent: list[tuple[OutboxEntry, mqtt.MQTTMessageInfo]] = []
        unsent: list[OutboxEntry] = []
        for entry in entries:
            info = self.publish(entry.topic, entry.payload) if not unsent else None
            if info is None:
                unsent.append(entry)
            else:
                sent.append((entry, info))
        confirmed: list[OutboxEntry] = []
        for entry, info in sent:
            if self._acknowledged(info):
                confirmed.append(entry)
            else:
                unsent.append(entry)
        self.outbox.confirm(confirmed)
        self.published += len(confirmed)
        if unsent:
            self.stats.event("score_results_republished", len(unsent))
            self.outbox.retry(unsent)

    def _acknowledged(self, info: mqtt.MQTTMessageInfo) -> bool:
        """Wait for the PUBACK while connected; False when the connection (or the agent) went first."""
        while not self._stop.is_set():
            try:
                info.wait_for_publish(_ACK_WAIT_S)
            except (ValueError, RuntimeError) as exc:  # paho gave the message up
                log.warning("a result was not published (%s); it stays in the outbox", exc)
                return False
            if info.is_published():
                return True
            if not self.connected.is_set():
                return False
        return False
