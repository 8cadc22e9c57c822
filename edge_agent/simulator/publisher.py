"""Publish a welding line's telemetry to an MQTT broker, paced in real time or as fast as possible."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import orjson
import paho.mqtt.client as mqtt

from edge_agent.domain.batches import SentBatch
from edge_agent.simulator.line import WeldLine
from edge_agent.uns.endpoint import MqttEndpoint, connect_and_wait, new_client

__all__ = ["PublishReport", "publish_line"]

log = logging.getLogger(__name__)


@dataclass
class PublishReport:
    messages: int = 0
    acknowledged: int = 0
    seconds: float = 0.0
    per_topic: Counter[str] = field(default_factory=Counter)
    sent: list[SentBatch] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.messages / self.seconds if self.seconds else 0.0


class _AckCounter:
    def __init__(self) -> None:
        self._acked = 0
        self._cond = threading.Condition()

    def on_publish(self, client: mqtt.Client, userdata: Any, mid: int, reason: Any, props: Any) -> None:
        with self._cond:
            self._acked += 1
            self._cond.notify_all()

    def wait_for(self, count: int, timeout_s: float) -> int:
        with self._cond:
            self._cond.wait_for(lambda: self._acked >= count, timeout_s)
            return self._acked


def _connected_client(
    endpoint: MqttEndpoint,
    acks: _AckCounter,
    *,
    client_id: str,
    clean_start: bool,
    session_expiry_s: int,
    ride_out_disconnects: bool,
) -> mqtt.Client:
    """A publisher connected to `endpoint` (its network thread running) that counts acknowledgements."""
    client = new_client(endpoint, client_id=client_id, clean_start=clean_start)
    client.max_inflight_messages_set(1000)
    client.max_queued_messages_set(0)
    client.on_publish = acks.on_publish
    if ride_out_disconnects:
        client.reconnect_delay_set(1, 2)
    connect_and_wait(client, endpoint, clean_start=clean_start, session_expiry_s=session_expiry_s)
    return client


def _acknowledged(acks: _AckCounter, messages: int, qos: int, drain_timeout_s: float) -> int:
    """How many of `messages` the broker acknowledged (all of them at QoS 0); TimeoutError for fewer."""
    if qos <= 0:
        return messages
    acknowledged = acks.wait_for(messages, drain_timeout_s)
    if acknowledged < messages:
        raise TimeoutError(
            f"broker acknowledged {acknowledged} of {messages} messages in {drain_timeout_s} s"
        )
    return acknowledged


def publish_line(
    line: WeldLine,
    endpoint: MqttEndpoint,
    *,
    duration_s: float | None = None,
    max_messages: int | None = None,
    speed: float = 1.0,
    qos: int = 1,
    stop: threading.Event | None = None,
    record: bool = True,
    drain_timeout_s: float = 60.0,
    client_id: str | None = None,
    clean_start: bool = True,
    session_expiry_s: int = 0,
    ride_out_disconnects: bool = False,
) -> PublishReport:
    """Publish until `duration_s` of wall time, `max_messages`, `stop`, or the line ends.

    `speed` scales simulated time against wall time (1.0 real time, 10 ten times faster); 0 publishes
    as fast as the broker accepts. Returns once the broker has acknowledged every QoS 1/2 message.

    `ride_out_disconnects=True` keeps publishing through a lost connection (a broker restart): paho
    holds QoS 1/2 messages and sends them, and the unacknowledged ones again, once it has reconnected.
    `client_id`, `clean_start` and `session_expiry_s` give the publisher a persistent session.
    """
    if duration_s is None and max_messages is None and stop is None:
        raise ValueError("give duration_s, max_messages or stop, or the line runs forever")
    stop = stop or threading.Event()
    acks = _AckCounter()
    client = _connected_client(
        endpoint,
        acks,
        client_id=client_id or f"sim-{line.config.address.line}-{uuid.uuid4().hex[:8]}",
        clean_start=clean_start,
        session_expiry_s=session_expiry_s,
        ride_out_disconnects=ride_out_disconnects,
    )
    report = PublishReport()
    started = time.monotonic()
    try:
        batches = line.batches()
        first_ms: int | None = None
        while not stop.is_set() and (max_messages is None or report.messages < max_messages):
            elapsed = time.monotonic() - started
            if duration_s is not None and elapsed >= duration_s:
                break
            item = next(batches, None)
            if item is None:
                break
            cell, topic, batch = item
            first_ms = batch.timestamp_ms if first_ms is None else first_ms
            if speed > 0:
                due = (batch.timestamp_ms - first_ms) / 1000.0 / speed
                if due > elapsed and stop.wait(due - elapsed):
                    break
            info = client.publish(topic, orjson.dumps(batch.payload), qos=qos)
            queued_offline = ride_out_disconnects and qos > 0 and info.rc == mqtt.MQTT_ERR_NO_CONN
            if info.rc != mqtt.MQTT_ERR_SUCCESS and not queued_offline:
                raise ConnectionError(f"publish to {topic} failed: {mqtt.error_string(info.rc)}")
            report.messages += 1
            report.per_topic[topic] += 1
            if record:
                report.sent.append(
                    SentBatch(cell, topic, batch.seq, batch.payload["weld_id"], batch.label, batch.drifted)
                )
        report.acknowledged = _acknowledged(acks, report.messages, qos, drain_timeout_s)
    finally:
        report.seconds = time.monotonic() - started
        client.disconnect()
        client.loop_stop()
    log.info("published %d messages in %.1f s (%.0f msg/s)", report.messages, report.seconds, report.rate)
    return report
