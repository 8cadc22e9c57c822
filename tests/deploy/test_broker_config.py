"""The shipped plant broker configuration (deploy/broker/) really runs, and the edge agent works with it:
TLS with a private CA, passwords, per-client ACLs. Mosquitto runs the file itself, paths and port rewritten."""

from __future__ import annotations

import datetime as dt
import ipaddress
import shutil
import subprocess
from pathlib import Path

import orjson
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from edge_agent.agent import EdgeAgent
from edge_agent.simulator import LineConfig, WeldLine, publish_line
from edge_agent.uns.endpoint import MqttEndpoint, connect_and_wait, new_client
from edge_agent.uns.local_broker import LocalBroker, free_port, mosquitto_path
from tests.edge_agent.agent.support import (
    cell_seq_counts,
    local_landing_files,
    make_settings,
    read_tables,
    rows_of,
    running,
    sent_keys,
)
from tests.helpers import Recorder, wait_until

DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "broker"
USERS = {"gateway-line-1": "gw-secret", "edge-line-1": "edge-secret", "platform": "platform-secret"}
TELEMETRY = "acme/plant-1/body-shop/line-1/+/weld/telemetry"


def _certificate(
    subject: str, key: ec.EllipticCurvePrivateKey, issuer: x509.Certificate | None, issuer_key, *, ca: bool
):
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer.subject if issuer else name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if not ca:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False
        )
    return builder.sign(issuer_key, hashes.SHA256())


def _write_pki(folder: Path) -> None:
    ca_key, server_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca = _certificate("uns-test-ca", ca_key, None, ca_key, ca=True)
    server = _certificate("127.0.0.1", server_key, ca, ca_key, ca=False)
    folder.mkdir(parents=True)
    (folder / "ca.crt").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    (folder / "server.crt").write_bytes(server.public_bytes(serialization.Encoding.PEM))
    (folder / "server.key").write_bytes(
        server_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )


@pytest.fixture
def secured_broker(tmp_path: Path) -> tuple[LocalBroker, Path]:
    if mosquitto_path() is None or shutil.which("mosquitto_passwd") is None:
        pytest.fail("mosquitto and mosquitto_passwd are needed (apt-get install -y mosquitto)")
    work = tmp_path / "broker"
    _write_pki(work / "certs")
    passwd = work / "passwd"
    for user, password in USERS.items():
        create = ["-c"] if not passwd.exists() else []
        subprocess.run(["mosquitto_passwd", "-b", *create, str(passwd), user, password], check=True)
    shutil.copy(DEPLOY / "acl", work / "acl")
    port = free_port()
    text = (DEPLOY / "mosquitto.conf").read_text()
    for production, local in {
        "/etc/mosquitto/certs/": f"{work}/certs/",
        "/etc/mosquitto/passwd": str(passwd),
        "/etc/mosquitto/acl": str(work / "acl"),
        "/var/lib/mosquitto/": f"{work}/data/",
        "listener 8883": f"listener {port} 127.0.0.1",
    }.items():
        assert production in text, f"deploy/broker/mosquitto.conf no longer mentions {production}"
        text = text.replace(production, local)
    (work / "data").mkdir()
    broker = LocalBroker(work, port=port, kind="mosquitto", config=text.splitlines())
    broker.start()
    yield broker, work / "certs" / "ca.crt"
    broker.stop()


def _endpoint(port: int, ca: Path, user: str | None, password: str | None = None) -> MqttEndpoint:
    return MqttEndpoint(port=port, tls=True, ca_file=str(ca), username=user, password=password)


def test_agent_over_tls_with_password_and_acls(secured_broker, tmp_path: Path, monkeypatch) -> None:
    broker, ca = secured_broker
    monkeypatch.setenv("EDGE_MQTT__PASSWORD", USERS["edge-line-1"])
    settings = make_settings(
        tmp_path / "agent",
        broker.port,
        agent_id="edge-line-1",
        mqtt={"port": broker.port, "tls": True, "ca_file": str(ca), "username": "edge-line-1"},
    )
    gateway = _endpoint(broker.port, ca, "gateway-line-1", USERS["gateway-line-1"])
    platform = _endpoint(broker.port, ca, "platform", USERS["platform"])
    agent = EdgeAgent(settings)
    with running(agent), Recorder(platform, ["acme/+/+/+/_edge/+/heartbeat"]) as heartbeats:
        # The ACL forbids the gateway to publish a model manifest; the broker drops it. Publications of one
        # client are delivered in order, so once the telemetry after it has arrived, so would have the manifest.
        forbidden = new_client(gateway, client_id="gateway-forbidden")
        connect_and_wait(forbidden, gateway)
        forbidden.publish("acme/plant-1/body-shop/line-1/_model/manifest", b"{}", qos=1).wait_for_publish(10)
        forbidden.disconnect()
        forbidden.loop_stop()
        line = WeldLine(LineConfig(seed=4, start_ms=1_763_740_800_000, seq_start=0))
        report = publish_line(line, gateway, max_messages=300, speed=0)
        wait_until(lambda: agent.stats.totals()["uploaded"] >= 300, 60, "300 messages landed")
        heartbeats.wait_for(1, timeout_s=30)
    assert agent.stats.totals()["received"] == 300 == report.acknowledged
    assert not any("_model" in topic for topic in agent.stats.topic_counters())
    rows = rows_of(read_tables(local_landing_files(tmp_path / "agent" / "landing")), "capture")
    assert cell_seq_counts(rows) == sent_keys(report)
    states = [orjson.loads(m.payload)["status"] for m in heartbeats.messages]
    assert states[0] in ("ONLINE", "DEGRADED") and heartbeats.messages[0].topic.endswith(
        "/edge-line-1/heartbeat"
    )


@pytest.mark.parametrize(
    ("user", "password"),
    [(None, None), ("edge-line-1", "wrong"), ("intruder", "secret")],
    ids=["anonymous", "wrong-password", "unknown-user"],
)
def test_broker_refuses_clients_without_valid_credentials(secured_broker, user, password) -> None:
    broker, ca = secured_broker
    client = new_client(_endpoint(broker.port, ca, user, password), client_id=f"refused-{user}")
    with pytest.raises(ConnectionError, match="refused"):
        connect_and_wait(client, _endpoint(broker.port, ca, user, password))


def test_plain_tcp_to_the_tls_listener_gets_no_session(secured_broker) -> None:
    broker, _ = secured_broker
    plain = MqttEndpoint(port=broker.port, username="platform", password=USERS["platform"])
    client = new_client(plain, client_id="plain-tcp")
    with pytest.raises((TimeoutError, ConnectionError, OSError)):
        connect_and_wait(client, plain, timeout_s=3)
    client.loop_stop()
