"""The platform's MQTT operations against real brokers: a local Mosquitto, and the shipped plant broker
configuration (TLS, passwords, ACLs) with the `uns` resource as PROD binds it."""

from __future__ import annotations

import threading
from pathlib import Path

import dagster as dg
import pytest

from edge_agent.uns.endpoint import MqttEndpoint, publish_confirmed
from edge_agent.uns.local_broker import LocalBroker
from mlops_assets.environment import Environment
from mlops_assets.ml.rollout.uns_client import UnsRefused, publish_retained, read_retained
from mlops_assets.resources.binding import platform_resources
from mlops_assets.resources.uns import UnsResource
from tests.deploy.test_broker_config import USERS, secured_broker  # noqa: F401  (a fixture)
from tests.helpers import Recorder

HEARTBEATS = "acme/plant-1/body-shop/line-1/_edge/+/heartbeat"


def beat(agent: str) -> str:
    return f"acme/plant-1/body-shop/line-1/_edge/{agent}/heartbeat"


def test_a_retained_publication_is_acknowledged_and_read_back(
    broker: LocalBroker, endpoint: MqttEndpoint
) -> None:
    with Recorder(endpoint, [beat("edge-a")]) as live:
        publish_retained(endpoint, beat("edge-a"), b'{"n":1}', client_id="platform-test")
        live.wait_for(1, timeout_s=10)  # delivered to a subscriber at once, and kept by the broker:
    publish_retained(endpoint, beat("edge-b"), b'{"n":2}', client_id="platform-test")
    found = read_retained(endpoint, [HEARTBEATS], client_id="reader", settle_s=0.3)
    assert found == {beat("edge-a"): b'{"n":1}', beat("edge-b"): b'{"n":2}'}
    assert read_retained(endpoint, ["acme/+/+/+/_model/manifest"], client_id="reader", settle_s=0.2) == {}


def test_live_messages_during_a_read_are_not_taken_for_retained_ones(
    broker: LocalBroker, endpoint: MqttEndpoint
) -> None:
    publish_retained(endpoint, beat("edge-a"), b"kept", client_id="platform-test")
    stop = threading.Event()

    def chatter() -> None:  # a non-retained stream on a matching topic while the platform reads
        while not stop.is_set():
            publish_confirmed(endpoint, [(beat("edge-live"), b"live")], client_id="chatter")

    thread = threading.Thread(target=chatter, daemon=True)
    thread.start()
    try:
        found = read_retained(endpoint, [HEARTBEATS], client_id="reader", settle_s=0.3, max_wait_s=5)
    finally:
        stop.set()
        thread.join(10)
    assert found == {beat("edge-a"): b"kept"}


def test_an_unreachable_broker_raises(tmp_path: Path) -> None:
    nowhere = MqttEndpoint(port=1)
    with pytest.raises(OSError):
        publish_retained(nowhere, beat("edge-a"), b"x", client_id="platform-test", timeout_s=2)
    with pytest.raises(OSError):
        read_retained(nowhere, [HEARTBEATS], client_id="reader", max_wait_s=2)


def prod_uns(monkeypatch: pytest.MonkeyPatch, port: int, ca: Path, password: str) -> UnsResource:
    """The `uns` resource exactly as PROD binds it, its EnvVars resolved as a run would."""
    for name, value in {
        "MLOPS_UNS_HOST": "127.0.0.1",
        "MLOPS_UNS_PORT": str(port),
        "MLOPS_UNS_CA_FILE": str(ca),
        "MLOPS_UNS_USERNAME": "platform",
        "MLOPS_UNS_PASSWORD": password,
    }.items():
        monkeypatch.setenv(name, value)
    bound = platform_resources(Environment.PROD)["uns"]
    assert isinstance(bound, UnsResource) and bound.tls
    assert bound.password == dg.EnvVar("MLOPS_UNS_PASSWORD")  # never the secret itself
    with dg.build_resources({"uns": bound}) as resources:
        resolved: UnsResource = resources.uns
        return resolved


def test_prod_uns_publishes_manifests_and_reads_heartbeats_over_tls_with_the_platform_account(
    secured_broker: tuple[LocalBroker, Path],  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    broker, ca = secured_broker
    uns = prod_uns(monkeypatch, broker.port, ca, USERS["platform"])
    agent = MqttEndpoint(port=broker.port, tls=True, ca_file=str(ca), username="edge-line-1",
                         password=USERS["edge-line-1"])  # fmt: skip
    publish_retained(agent, beat("edge-line-1"), b'{"status":"ONLINE"}', client_id="edge-line-1")
    manifest = "acme/plant-1/body-shop/line-1/_model/manifest"
    uns.publish_retained(manifest, b'{"model_version":"1"}')
    assert uns.read_retained([HEARTBEATS], settle_s=0.3) == {beat("edge-line-1"): b'{"status":"ONLINE"}'}
    with Recorder(agent, [manifest]) as seen:
        assert seen.wait_for(1, timeout_s=10)[0].payload == b'{"model_version":"1"}'
    with pytest.raises(UnsRefused, match="refused the message"):  # the ACL: the platform writes no telemetry
        uns.publish_retained("acme/plant-1/body-shop/line-1/cell-01/weld/telemetry", b"{}")
    with pytest.raises(ConnectionError, match="refused"):
        prod_uns(monkeypatch, broker.port, ca, "wrong-password").publish_retained(manifest, b"{}")
