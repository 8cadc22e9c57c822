"""Where and how to reach an MQTT broker, and a paho client configured for it.

MQTT 5 is the default; MQTT 3.1.1 is available for brokers that speak nothing newer (the embedded
Python broker, many legacy plant brokers).
"""

from __future__ import annotations

import argparse
import logging
import os
import socket
import ssl
import threading
from dataclasses import dataclass, field
from typing import Any, Literal

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

log = logging.getLogger(__name__)
__all__ = [
    "MqttEndpoint",
    "MqttProtocol",
    "add_endpoint_arguments",
    "connect_and_wait",
    "connect_properties",
    "endpoint_from_arguments",
    "new_client",
    "publish_confirmed",
]

MqttProtocol = Literal["5", "3.1.1"]


@dataclass(frozen=True)
class MqttEndpoint:
    host: str = "127.0.0.1"
    port: int = 1883
    protocol: MqttProtocol = "5"
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    tls: bool = False
    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    keepalive_s: int = 30

    def __post_init__(self) -> None:
        if self.protocol not in ("5", "3.1.1"):
            raise ValueError(f"protocol must be '5' or '3.1.1', got {self.protocol!r}")
        if not 0 < self.port < 65536:
            raise ValueError(f"port must be 1..65535, got {self.port}")

    @property
    def url(self) -> str:
        return f"{'mqtts' if self.tls else 'mqtt'}://{self.host}:{self.port}"


def new_client(
    endpoint: MqttEndpoint,
    client_id: str = "",
    *,
    clean_start: bool = True,
    manual_ack: bool = False,
) -> mqtt.Client:
    """A paho 2.x client for the endpoint, not yet connected.

    With MQTT 3.1.1, `clean_start=False` maps to `clean_session=False` (a persistent session).
    """
    if endpoint.protocol == "5":
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5, manual_ack=manual_ack
        )
    else:
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id,
            protocol=mqtt.MQTTv311,
            clean_session=clean_start,
            manual_ack=manual_ack,
        )
    if endpoint.username is not None:
        client.username_pw_set(endpoint.username, endpoint.password)
    if endpoint.tls:
        try:
            client.tls_set(
                ca_certs=endpoint.ca_file,
                certfile=endpoint.cert_file,
                keyfile=endpoint.key_file,
                tls_version=ssl.PROTOCOL_TLS_CLIENT,
            )
        except OSError as exc:  # ssl.SSLError too: the files exist but hold no usable certificate or key
            files = {
                "ca_file": endpoint.ca_file,
                "cert_file": endpoint.cert_file,
                "key_file": endpoint.key_file,
            }
            named = ", ".join(f"{name} {path}" for name, path in files.items() if path is not None)
            raise ValueError(f"TLS setup failed ({named or 'system CA store'}): {exc}") from exc
    client.on_socket_open = _without_nagle
    return client


def _without_nagle(client: mqtt.Client, userdata: Any, sock: Any) -> None:
    """Send each packet at once. paho leaves Nagle's algorithm on: a PUBLISH written while the previous
    one waits for its TCP acknowledgement is held until the peer's delayed ACK (about 40 ms on Linux)."""
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    except (OSError, AttributeError) as exc:  # not a TCP socket (a proxy, a websocket): nothing to tune
        log.debug("TCP_NODELAY not set on the MQTT socket: %r", exc)


def connect_properties(
    endpoint: MqttEndpoint,
    session_expiry_s: int,
    *,
    receive_maximum: int | None = None,
    maximum_packet_size: int | None = None,
) -> Properties | None:
    """MQTT 5 CONNECT properties (None for MQTT 3.1.1, which has none): how long the broker keeps the
    session, and optionally flow control (`ReceiveMaximum`) and the largest packet we accept."""
    if endpoint.protocol != "5":
        return None
    props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]  # paho leaves it untyped
    props.SessionExpiryInterval = session_expiry_s
    if receive_maximum is not None:
        props.ReceiveMaximum = receive_maximum
    if maximum_packet_size is not None:
        props.MaximumPacketSize = maximum_packet_size
    return props


def connect_and_wait(
    client: mqtt.Client,
    endpoint: MqttEndpoint,
    *,
    timeout_s: float = 10.0,
    clean_start: bool = True,
    session_expiry_s: int = 0,
) -> None:
    """Connect, start the network thread and block until the broker accepts (or raise)."""
    accepted = threading.Event()
    outcome: dict[str, Any] = {}
    previous = client.on_connect

    def on_connect(c: mqtt.Client, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        outcome["reason"] = reason
        accepted.set()
        if previous is not None:
            previous(c, userdata, flags, reason, props)  # type: ignore[call-arg]

    client.on_connect = on_connect
    kwargs: dict[str, Any] = {"keepalive": endpoint.keepalive_s}
    if endpoint.protocol == "5":
        kwargs["clean_start"] = clean_start
        kwargs["properties"] = connect_properties(endpoint, session_expiry_s)
    client.connect(endpoint.host, endpoint.port, **kwargs)
    client.loop_start()
    if not accepted.wait(timeout_s):
        client.loop_stop()
        raise TimeoutError(f"no CONNACK from {endpoint.url} within {timeout_s} s")
    client.on_connect = previous
    reason = outcome["reason"]
    if reason.is_failure:
        client.loop_stop()
        raise ConnectionError(f"{endpoint.url} refused the connection: {reason}")


def publish_confirmed(
    endpoint: MqttEndpoint,
    messages: list[tuple[str, bytes]],
    *,
    client_id: str,
    max_inflight: int = 1000,
    timeout_s: float = 60.0,
    retain: bool = False,
) -> None:
    """Publish `messages` (topic, payload) at QoS 1 from a new connection and return once the broker
    acknowledged every one; RuntimeError when paho refuses a publish, TimeoutError without a PUBACK."""
    acked = threading.Semaphore(0)
    client = new_client(endpoint, client_id)
    client.max_inflight_messages_set(max_inflight)
    client.on_publish = lambda *args: acked.release()
    connect_and_wait(client, endpoint)
    try:
        for topic, payload in messages:
            rc = client.publish(topic, payload, qos=1, retain=retain).rc
            if rc != mqtt.MQTT_ERR_SUCCESS:
                raise RuntimeError(f"publishing to {topic!r} failed: {mqtt.error_string(rc)}")
        for _ in messages:
            if not acked.acquire(timeout=timeout_s):
                raise TimeoutError(f"{endpoint.url} did not acknowledge every message within {timeout_s} s")
    finally:
        client.disconnect()
        client.loop_stop()


def add_endpoint_arguments(parser: argparse.ArgumentParser, password_variable: str) -> None:
    """--host, --port, --protocol, --username, --tls, --ca-file for command-line publishers.

    The password never appears on a command line (where `ps` shows it): it comes from `password_variable`.
    """
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=1883)
    parser.add_argument("--protocol", choices=["5", "3.1.1"], default="5")
    parser.add_argument("--username", help=f"password from ${password_variable}")
    parser.add_argument("--tls", action="store_true", help="connect with TLS (see --ca-file)")
    parser.add_argument("--ca-file", help="CA bundle that signed the broker's certificate")
    parser.set_defaults(password_variable=password_variable)


def endpoint_from_arguments(args: argparse.Namespace) -> MqttEndpoint:
    return MqttEndpoint(
        host=args.host,
        port=args.port,
        protocol=args.protocol,
        username=args.username,
        password=os.environ.get(args.password_variable),
        tls=args.tls,
        ca_file=args.ca_file,
    )
