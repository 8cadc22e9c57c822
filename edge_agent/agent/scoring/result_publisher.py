"""Publishes the outbox's results at QoS 1, many in flight, each confirmed when its PUBACK arrives.

While the broker is unreachable results wait in the outbox (on disk); publications in flight when the
connection drops are sent again by the MQTT client itself when it reconnects, so a result can arrive
twice, with the same `result_id`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import paho.mqtt.client as mqtt

from edge_agent.agent.scoring.outbox import OutboxEntry, ScoreOutbox

__all__ = ["ResultPublisher"]

log = logging.getLogger(__name__)


class ResultPublisher:
    def __init__(
        self,
        outbox: ScoreOutbox,
        publish: Callable[[str, bytes], mqtt.MQTTMessageInfo | None],
        connected: threading.Event,
        *,
        inflight: int,
    ) -> None:
        self.outbox = outbox
        self.publish = publish
        self.connected = connected
        self.inflight = inflight
        self.published = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Condition()
        self._outstanding: dict[int, OutboxEntry] = {}
        self._early: set[int] = set()
        """Acknowledgements that overtook the bookkeeping of their own publication."""

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
        with self._lock:
            self._lock.notify_all()
        if self._thread is not None:
            self._thread.join(5.0)

    def acknowledged(self, mid: int) -> None:
        """The broker's PUBACK for message id `mid` (called from the MQTT network thread)."""
        with self._lock:
            entry = self._outstanding.pop(mid, None)
            if entry is None:
                self._early.add(mid)
                return
            self._confirm(entry)

    def _confirm(self, entry: OutboxEntry) -> None:
        self.outbox.confirm([entry])
        self.published += 1
        self._lock.notify_all()

    def _run(self) -> None:
        while not self._stop.is_set():
            if not self.connected.wait(0.5):
                continue
            with self._lock:
                if not self._lock.wait_for(lambda: len(self._outstanding) < self.inflight, 0.5):
                    continue
                room = self.inflight - len(self._outstanding)
            entries = self.outbox.unsent(room, timeout_s=0.5)
            for index, entry in enumerate(entries):
                info = self.publish(entry.topic, entry.payload)
                if info is None:  # not connected any more: these wait in the outbox
                    self.outbox.retry(entries[index:])
                    break
                with self._lock:
                    if info.mid in self._early:
                        self._early.discard(info.mid)
                        self._confirm(entry)
                    else:
                        self._outstanding[info.mid] = entry
