"""The agent's MQTT session: persistent, manually acknowledged, with a Will and jittered reconnects.

`on_message` only enqueues (paho's network thread must stay free to read and write); the capture writer
acknowledges after the group commit. A full ingress queue stalls the session (see `pause`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any, cast

import paho.mqtt.client as mqtt
from paho.mqtt.subscribeoptions import SubscribeOptions

from edge_agent.agent.backoff import jittered_backoff
from edge_agent.agent.messages import Message
from edge_agent.agent.pipeline.queues import BatchQueue, QueueClosed
from edge_agent.agent.settings import EdgeSettings
from edge_agent.agent.stats import Stats
from edge_agent.uns.endpoint import MqttEndpoint, connect_properties, new_client

__all__ = ["MqttSession", "endpoint_from_settings"]

log = logging.getLogger(__name__)


def endpoint_from_settings(settings: EdgeSettings) -> MqttEndpoint:
    mqtt_settings = settings.mqtt
    return MqttEndpoint(
        host=mqtt_settings.host,
        port=mqtt_settings.port,
        protocol=mqtt_settings.protocol,
        username=mqtt_settings.username,
        password=mqtt_settings.password.get_secret_value() if mqtt_settings.password else None,
        tls=mqtt_settings.tls,
        ca_file=str(mqtt_settings.ca_file) if mqtt_settings.ca_file else None,
        cert_file=str(mqtt_settings.cert_file) if mqtt_settings.cert_file else None,
        key_file=str(mqtt_settings.key_file) if mqtt_settings.key_file else None,
        keepalive_s=mqtt_settings.keepalive_s,
    )


class MqttSession:
    def __init__(
        self,
        settings: EdgeSettings,
        *,
        ingress: BatchQueue[Message],
        stats: Stats,
        subscriptions: list[str],
        will_payload: bytes,
        stale_subscriptions: list[str] | None = None,
        on_connected: Callable[[], None],  # once connected AND subscribed
        on_stalled: Callable[[], None],
    ) -> None:
        self.settings = settings
        self.endpoint = endpoint_from_settings(settings)
        self.ingress = ingress
        self.stats = stats
        self.subscriptions = list(subscriptions)
        self.stale_subscriptions = [f for f in stale_subscriptions or () if f not in self.subscriptions]
        self.on_connected = on_connected
        self.on_stalled = on_stalled
        self.stall_s = settings.mqtt.keepalive_s / 4
        self.generation = 0
        self.session_present = False
        self.connected_at = 0.0
        """time.monotonic() of the last accepted CONNACK."""
        self.connected = threading.Event()
        self.subscribed = threading.Event()
        """Set once the broker holds our subscriptions (SUBACK): from then on every matching publication
        is queued for us, even while we are away."""
        self.stalled = threading.Event()
        """The pipeline took no message for `stall_s`: messages are refused until `resume()`."""
        self.paused = threading.Event()
        """Disconnected on purpose (see `pause`)."""
        self._suback_seen = False
        self._unsubscribing: dict[int, list[str]] = {}
        """The stale filters of each UNSUBSCRIBE awaiting its UNSUBACK, by message id."""
        self._disconnected = threading.Event()
        self._ack_lock = threading.Lock()
        self._accepting = True
        self._closing = False
        self._pausing = False
        self._attempts = 0
        self.on_published: Callable[[int], None] | None = None
        """Told the message id of each QoS 1 publication the broker acknowledged (network thread)."""
        client = new_client(self.endpoint, settings.client_id, clean_start=False, manual_ack=True)
        client.will_set(settings.heartbeat_topic, will_payload, qos=1, retain=True)
        client.max_queued_messages_set(0)
        client.max_inflight_messages_set(settings.scoring.publish_inflight)
        client.on_message = self._on_message
        client.on_publish = self._on_publish
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_connect_fail = self._on_connect_fail
        client.on_subscribe = self._on_subscribe
        client.on_unsubscribe = self._on_unsubscribe
        self.client = client
        self._arm_backoff()

    def start(self) -> None:
        """Connect in the background; paho retries until the broker answers."""
        mqtt_settings = self.settings.mqtt
        kwargs: dict[str, Any] = {"keepalive": mqtt_settings.keepalive_s}
        if mqtt_settings.protocol == "5":
            kwargs["clean_start"] = False
            kwargs["properties"] = connect_properties(
                self.endpoint,
                mqtt_settings.session_expiry_s,
                receive_maximum=mqtt_settings.receive_maximum,
                maximum_packet_size=self.settings.mqtt_maximum_packet_bytes,
            )
        self.client.connect_async(self.endpoint.host, self.endpoint.port, **kwargs)
        self.client.loop_start()

    def _arm_backoff(self) -> None:
        mqtt_settings = self.settings.mqtt
        delay = jittered_backoff(self._attempts, mqtt_settings.reconnect_min_s, mqtt_settings.reconnect_max_s)
        self._attempts += 1
        # Re-armed, paho waits min_delay before its next attempt; it takes any number of seconds.
        self.client.reconnect_delay_set(cast(int, delay), cast(int, delay))

    # --- paho callbacks (network thread) ---

    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        if reason.is_failure:
            self.stats.event("connect_refused")
            self.stats.error(f"broker {self.endpoint.url} refused the connection: {reason}")
            log.error("broker %s refused the connection: %s", self.endpoint.url, reason)
            return
        self.connected_at = time.monotonic()
        with self._ack_lock:
            self.generation += 1
        self.session_present = bool(flags.session_present)
        self._attempts = 0
        self._arm_backoff()
        # Subscribe after every connect until the broker has confirmed our filters once in this process:
        # a resumed session may not hold them (the first connection can drop before its SUBACK).
        resumed = self.session_present and self._suback_seen
        if resumed:
            self.subscribed.set()
        else:
            self.subscribed.clear()
            self._unsubscribing.clear()  # an UNSUBACK lost with the last connection will not come
            if self.session_present and self.stale_subscriptions:
                # before SUBSCRIBE: the broker keeps the order
                _, mid = client.unsubscribe(self.stale_subscriptions)
                if mid is not None:
                    self._unsubscribing[mid] = list(self.stale_subscriptions)
            qos = self.settings.mqtt.qos
            if self.endpoint.protocol == "5":
                options = SubscribeOptions(qos=qos, retainHandling=SubscribeOptions.RETAIN_SEND_IF_NEW_SUB)
                client.subscribe([(f, options) for f in self.subscriptions])
            else:
                filters: list[tuple[str, int]] = [(f, qos) for f in self.subscriptions]
                client.subscribe(filters)
        self.stats.event("connects")
        log.info(
            "connected to %s (session %s)", self.endpoint.url, "resumed" if self.session_present else "new"
        )
        self.connected.set()
        if resumed:
            self.on_connected()

    def _on_subscribe(self, client: mqtt.Client, userdata: Any, mid: int, reasons: Any, props: Any) -> None:
        refused = [str(r) for r in reasons if r.is_failure]
        if refused:
            self.stats.error(f"broker refused subscriptions {self.subscriptions}: {refused}")
            log.error("broker refused subscriptions %s: %s", self.subscriptions, refused)
        else:
            log.info("subscribed to %s", self.subscriptions)
            self._suback_seen = True
            self.subscribed.set()
            self.on_connected()

    def _on_unsubscribe(self, client: mqtt.Client, userdata: Any, mid: int, reasons: Any, props: Any) -> None:
        filters = self._unsubscribing.pop(mid, None)
        if filters is None:
            return
        # MQTT 5: one reason per filter, 0 = removed, 0x11 = the session held no such subscription.
        # MQTT 3.1.1 gives none: every filter is taken as removed (a warning too many, never one too few).
        codes = [r.value for r in reasons] if len(reasons) == len(filters) else [0] * len(filters)
        removed = [f for f, code in zip(filters, codes, strict=True) if code == 0]
        refused = [f"{f}: {r}" for f, r in zip(filters, reasons, strict=False) if r.is_failure]
        if refused:
            self.stats.error(f"broker refused to unsubscribe stale filters: {refused}")
            log.error("broker refused to unsubscribe stale filters: %s", refused)
        if not removed:
            return
        self.stats.event("stale_subscriptions_removed", len(removed))
        message = (
            f"unsubscribed {removed}, kept by the broker's session from an earlier run with another "
            f"subscribe_scope: this agent now receives only {self.subscriptions} (subscribe_scope: "
            f"{self.settings.subscribe_scope}); to receive a whole site or everything as before, set "
            "subscribe_scope: site or subscribe_scope: enterprise"
        )
        self.stats.error(message)
        log.warning("%s", message)

    def _on_disconnect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        with self._ack_lock:
            self.generation += 1
        self.connected.clear()
        self._disconnected.set()
        if self._closing or self._pausing:
            return
        self.stats.event("disconnects")
        self.stats.error(f"disconnected from {self.endpoint.url}: {reason}")
        log.warning("disconnected from %s: %s; reconnecting", self.endpoint.url, reason)
        self._arm_backoff()

    def _on_publish(self, client: mqtt.Client, userdata: Any, mid: int, reason: Any, props: Any) -> None:
        listener = self.on_published
        if listener is not None:
            listener(mid)

    def _on_connect_fail(self, client: mqtt.Client, userdata: Any) -> None:
        self.stats.event("connect_failures")
        log.warning("cannot reach %s; retrying", self.endpoint.url)
        self._arm_backoff()

    def _on_message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        if not self._accepting:
            self.stats.event("deferred_on_shutdown")  # not acknowledged: the broker redelivers it
            return
        if self.stalled.is_set():
            self._refuse(msg.qos)
            return
        try:
            topic = msg.topic
        except UnicodeDecodeError:
            topic = "\ufffd" + repr(getattr(msg, "_topic", b""))  # quarantined as an unknown topic
        message = Message(
            topic,
            bytes(msg.payload),  # already bytes: no copy
            msg.qos,
            bool(msg.retain),
            bool(msg.dup),
            msg.mid,
            self.generation,
            time.time(),
        )
        deadline = time.monotonic() + self.stall_s
        try:
            while not self.ingress.put(message, timeout_s=min(0.25, self.stall_s)):
                if not self._accepting:
                    self.stats.event("deferred_on_shutdown")
                    return
                if time.monotonic() >= deadline:
                    self._refuse(msg.qos)
                    self._stall()
                    return
        except QueueClosed:
            self.stats.event("deferred_on_shutdown")

    def _refuse(self, qos: int) -> None:
        if qos == 0:
            self.stats.drop("qos0_ingress_full")  # at most once: nobody will send it again
        else:
            self.stats.event("deferred_ingress_full")  # unacknowledged: redelivered after the pause

    def _stall(self) -> None:
        self.stalled.set()
        self.stats.event("ingress_stalls")
        self.stats.error(
            f"the pipeline took no message for {self.stall_s:.1f} s (capture spool full?): pausing "
            "the broker connection until there is room"
        )
        log.warning("ingress full for %.1f s: pausing the broker connection", self.stall_s)
        self.on_stalled()

    # --- called by other threads ---

    def ack(self, messages: list[Message]) -> None:
        """Acknowledge what the connection they came from can still take. Message ids are per connection:
        an ack for an older generation is skipped (the broker redelivers it, the writer recognises the
        redelivery), and the check holds the lock `_on_disconnect` takes, so it never reaches a newer one."""
        stale = 0
        with self._ack_lock:
            generation = self.generation
            for message in messages:
                if message.qos == 0:
                    continue
                if message.generation == generation:
                    self.client.ack(message.mid, message.qos)
                else:
                    stale += 1
        if stale:
            self.stats.event("acks_skipped_stale_connection", stale)

    def current_generation(self) -> int:
        return self.generation

    def publish(
        self, topic: str, payload: bytes, *, qos: int = 1, retain: bool = False
    ) -> mqtt.MQTTMessageInfo | None:
        """Publish if connected (None otherwise: nothing piles up in memory while offline)."""
        if not self.connected.is_set():
            return None
        info = self.client.publish(topic, payload, qos=qos, retain=retain)
        return info if info.rc == mqtt.MQTT_ERR_SUCCESS else None

    def stop_accepting(self) -> None:
        """Shutdown, step 1: take no new messages (they stay unacknowledged at the broker)."""
        self._accepting = False

    def pause(self, timeout_s: float = 5.0) -> None:
        """Disconnect on purpose: cleanly, so the broker discards the Will and keeps the session (and
        queues for it) until `resume()`."""
        self._pausing = True
        self.paused.set()
        self._disconnect(timeout_s)
        log.info("paused: disconnected from %s until the pipeline has room", self.endpoint.url)

    def resume(self) -> None:
        """Reconnect after `pause()`; the broker redelivers what we left unacknowledged."""
        self._pausing = False
        self.stalled.clear()
        self.paused.clear()
        log.info("resuming: reconnecting to %s", self.endpoint.url)
        self.start()

    def disconnect(self, timeout_s: float = 5.0) -> None:
        """Clean disconnect: the broker discards the Will."""
        self._closing = True
        self._disconnect(timeout_s)

    def _disconnect(self, timeout_s: float) -> None:
        if self.connected.is_set():
            self._disconnected.clear()
            self.client.disconnect()
            self._disconnected.wait(timeout_s)
        self.client.loop_stop()
