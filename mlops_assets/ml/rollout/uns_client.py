"""The platform's two MQTT operations on the UNS: publish a retained message and wait for the broker to
take it (QoS 1 PUBACK), and read what the broker retains under some topic filters.

Each call opens its own short connection (clean start, a client id of its own) and closes it; the
platform holds no session on the plant broker. Any refusal (CONNACK, PUBACK or SUBACK with a failure
reason code) or missing answer is raised, never taken for success.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Sequence
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.subscribeoptions import SubscribeOptions

from edge_agent.uns.endpoint import MqttEndpoint, connect_and_wait, new_client

__all__ = ["UnsRefused", "platform_client_id", "publish_retained", "read_retained"]


class UnsRefused(RuntimeError):
    """The broker answered, and said no (not authorised, quota, a bad topic...)."""


def platform_client_id(purpose: str) -> str:
    """A fresh client id per connection: two runs at once never take over each other's connection."""
    return f"mlops-{purpose}-{uuid.uuid4().hex[:10]}"


def publish_retained(
    endpoint: MqttEndpoint, topic: str, payload: bytes, *, client_id: str, timeout_s: float = 30.0
) -> None:
    """Publish `payload` retained at QoS 1 and return once the broker acknowledged it; `UnsRefused`
    when its PUBACK carries a failure reason code, TimeoutError without one."""
    acknowledged = threading.Event()
    outcome: dict[str, Any] = {}

    def on_publish(client: mqtt.Client, userdata: Any, mid: int, reason: Any, props: Any) -> None:
        outcome["reason"] = reason
        acknowledged.set()

    client = new_client(endpoint, client_id)
    client.on_publish = on_publish
    connect_and_wait(client, endpoint, timeout_s=timeout_s)
    try:
        rc = client.publish(topic, payload, qos=1, retain=True).rc
        if rc != mqtt.MQTT_ERR_SUCCESS:
            raise UnsRefused(f"publishing to {topic!r} on {endpoint.url} failed: {mqtt.error_string(rc)}")
        if not acknowledged.wait(timeout_s):
            raise TimeoutError(
                f"{endpoint.url} did not acknowledge the message on {topic!r} in {timeout_s} s"
            )
        reason = outcome["reason"]
        if getattr(reason, "is_failure", False):
            raise UnsRefused(f"{endpoint.url} refused the message on {topic!r}: {reason}")
    finally:
        client.disconnect()
        client.loop_stop()


def _subscription(endpoint: MqttEndpoint, filters: Sequence[str]) -> list[tuple[str, Any]]:
    if endpoint.protocol == "5":  # retain handling 0: the retained messages, whatever the session
        return [(f, SubscribeOptions(qos=1, retainHandling=0)) for f in filters]
    return [(f, 1) for f in filters]


def read_retained(
    endpoint: MqttEndpoint,
    filters: Sequence[str],
    *,
    client_id: str,
    settle_s: float = 0.5,
    max_wait_s: float = 10.0,
) -> dict[str, bytes]:
    """topic -> payload of the messages the broker retains under `filters`: subscribe, collect, return
    once no retained message came for `settle_s` (at most `max_wait_s` after the subscription). Live
    messages arriving meanwhile (no retain flag) are left out: the answer is what the broker held."""
    if not filters:
        return {}
    found: dict[str, bytes] = {}
    arrived = threading.Condition()
    last = [time.monotonic()]
    subscribed = threading.Event()
    granted: list[Any] = []

    def on_message(client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        if message.retain:
            with arrived:
                found[message.topic] = bytes(message.payload)
                last[0] = time.monotonic()
                arrived.notify_all()

    def on_subscribe(client: mqtt.Client, userdata: Any, mid: int, reasons: Any, props: Any) -> None:
        granted.extend(reasons)
        subscribed.set()

    client = new_client(endpoint, client_id)
    client.on_message = on_message
    client.on_subscribe = on_subscribe
    connect_and_wait(client, endpoint, timeout_s=max_wait_s)
    try:
        rc, _ = client.subscribe(_subscription(endpoint, filters))
        if rc != mqtt.MQTT_ERR_SUCCESS:
            raise UnsRefused(f"subscribing on {endpoint.url} failed: {mqtt.error_string(rc)}")
        if not subscribed.wait(max_wait_s):
            raise TimeoutError(f"{endpoint.url} did not confirm the subscription in {max_wait_s} s")
        refused = [
            f for f, reason in zip(filters, granted, strict=False) if getattr(reason, "is_failure", False)
        ]
        if refused:
            raise UnsRefused(f"{endpoint.url} refused the subscription to {refused}")
        deadline = time.monotonic() + max_wait_s
        with arrived:
            last[0] = time.monotonic()
            while (now := time.monotonic()) < deadline and (quiet := settle_s - (now - last[0])) > 0:
                arrived.wait(min(quiet, deadline - now))
            return dict(found)
    finally:
        client.disconnect()
        client.loop_stop()
