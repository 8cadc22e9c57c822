"""Test helpers: bounded waits on real conditions, and a plain paho subscriber that records messages."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import paho.mqtt.client as mqtt

from edge_agent.uns.endpoint import MqttEndpoint, connect_and_wait, new_client


@dataclass
class Received:
    topic: str
    payload: bytes
    qos: int
    retain: bool


@dataclass
class Recorder:
    endpoint: MqttEndpoint
    filters: list[str]
    qos: int = 1
    messages: list[Received] = field(default_factory=list)
    _lock: threading.Condition = field(default_factory=threading.Condition)
    _client: mqtt.Client | None = None

    def __enter__(self) -> Recorder:
        subscribed = threading.Event()
        client = new_client(self.endpoint, client_id=f"recorder-{uuid.uuid4().hex[:8]}")
        client.on_message = self._on_message
        client.on_subscribe = lambda *args: subscribed.set()
        connect_and_wait(client, self.endpoint)
        client.subscribe([(f, self.qos) for f in self.filters])
        if not subscribed.wait(10):
            raise TimeoutError("SUBACK not received")
        self._client = client
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._client is not None:
            self._client.disconnect()
            self._client.loop_stop()

    def _on_message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        with self._lock:
            self.messages.append(Received(msg.topic, bytes(msg.payload), msg.qos, bool(msg.retain)))
            self._lock.notify_all()

    def wait_for(self, count: int, timeout_s: float) -> list[Received]:
        with self._lock:
            if not self._lock.wait_for(lambda: len(self.messages) >= count, timeout_s):
                raise TimeoutError(f"received {len(self.messages)} of {count} messages in {timeout_s} s")
            return list(self.messages)


def wait_until(condition: Callable[[], bool], timeout_s: float, what: str, poll_s: float = 0.02) -> None:
    """Bounded wait on a real condition; raises with `what` when time runs out."""
    deadline = time.monotonic() + timeout_s
    pause = threading.Event()
    while not condition():
        if time.monotonic() >= deadline:
            raise TimeoutError(f"timed out after {timeout_s} s waiting for {what}")
        pause.wait(poll_s)
