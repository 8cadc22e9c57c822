"""Settings: YAML file, EDGE_ environment overrides, validation naming the field, secrets kept out of logs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from edge_agent.agent.mqtt.subscriptions import scoped_filters, stale_filters
from edge_agent.agent.settings import EdgeSettings, load_settings
from edge_agent.contract import Contract, default_contract_path
from tests.edge_agent.agent.support import write_config


def test_environment_overrides_the_file_field_by_field(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = write_config(
        tmp_path / "edge.yaml",
        {
            "agent_id": "edge-7",
            "mqtt": {"host": "uns.plant", "port": 1883},
            "landing": {"url": "s3://lake/landing"},
        },
    )
    monkeypatch.setenv("EDGE_MQTT__PORT", "8883")
    monkeypatch.setenv("EDGE_MQTT__TLS", "true")
    monkeypatch.setenv("EDGE_PIPELINE__VALIDATE_WORKERS", "2")
    settings = load_settings(config)
    assert settings.agent_id == "edge-7" and settings.client_id == "edge-7"
    assert (settings.mqtt.host, settings.mqtt.port, settings.mqtt.tls) == ("uns.plant", 8883, True)
    assert settings.pipeline.validate_workers == 2
    assert settings.landing.url == "s3://lake/landing"
    assert settings.heartbeat_topic == "acme/plant-1/body-shop/line-1/_edge/edge-7/heartbeat"


def test_secrets_never_reach_the_logged_form(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EDGE_MQTT__PASSWORD", "s3cr3t-pw")
    monkeypatch.setenv("EDGE_LANDING__AWS_SECRET_ACCESS_KEY", "aws-s3cr3t")
    settings = load_settings(None)
    assert settings.mqtt.password is not None and settings.mqtt.password.get_secret_value() == "s3cr3t-pw"
    shown = str(settings.redacted()) + repr(settings) + str(settings)
    assert "s3cr3t" not in shown and "**********" in shown


def test_errors_name_the_field(tmp_path: Path) -> None:
    with pytest.raises(ValidationError) as caught:
        load_settings(
            write_config(tmp_path / "a.yaml", {"spool": {"segment_max_bytes": 10}, "mqtt": {"qos": 0}})
        )
    fields = {".".join(map(str, e["loc"])) for e in caught.value.errors()}
    assert fields == {"spool.segment_max_bytes", "mqtt.qos"}
    with pytest.raises(ValidationError, match="ingress_capacity"):
        EdgeSettings.model_validate({"mqtt": {"receive_maximum": 100}, "pipeline": {"ingress_capacity": 50}})
    with pytest.raises(ValidationError, match="reconnect_max_s"):
        EdgeSettings.model_validate({"mqtt": {"reconnect_min_s": 5, "reconnect_max_s": 1}})
    broken = tmp_path / "b.yaml"
    broken.write_text("mqtt: [", encoding="utf-8")
    with pytest.raises(ValueError, match="not valid YAML"):
        load_settings(broken)
    with pytest.raises(ValueError, match="cannot read config file"):
        load_settings(tmp_path / "missing.yaml")


def test_the_shipped_example_configuration_is_valid(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    example = Path(__file__).resolve().parents[3] / "deploy" / "edge" / "edge.yaml"
    monkeypatch.setenv("EDGE_MQTT__PASSWORD", "from-the-environment")
    # the files it names are checked at start: where an installed agent has them, here they are ours
    ca = tmp_path / "ca.pem"
    ca.write_text("a CA bundle\n", encoding="utf-8")
    monkeypatch.setenv("EDGE_MQTT__CA_FILE", str(ca))
    monkeypatch.setenv("EDGE_CONTRACT_PATH", str(default_contract_path()))
    settings = load_settings(example)
    assert settings.landing.url.startswith("s3://") and settings.mqtt.tls
    assert settings.mqtt.password is not None
    assert settings.subscribe_scope == "line"


def _error_fields(data: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(ValidationError) as caught:
        EdgeSettings.model_validate(data)
    return {".".join(map(str, e["loc"])): e["msg"] for e in caught.value.errors()}


def test_file_settings_are_checked_naming_the_field_the_path_and_why(tmp_path: Path) -> None:
    missing, folder, readable = tmp_path / "missing.pem", tmp_path / "certs", tmp_path / "ca.pem"
    folder.mkdir()
    readable.write_text("pem\n", encoding="utf-8")
    assert _error_fields(
        {"mqtt": {"tls": True, "ca_file": str(missing), "cert_file": str(folder), "key_file": str(readable)}}
    ) == {
        "mqtt.ca_file": f"{missing} does not exist",
        "mqtt.cert_file": f"{folder} is a directory, not a file",
    }
    assert _error_fields({"contract_path": str(missing)}) == {"contract_path": f"{missing} does not exist"}
    # paho reads the TLS files only with TLS on: a production file still works on a bench with tls off
    settings = EdgeSettings.model_validate({"mqtt": {"tls": False, "ca_file": str(missing)}})
    assert settings.mqtt.ca_file == missing
    ok = EdgeSettings.model_validate(
        {"contract_path": str(default_contract_path()), "mqtt": {"tls": True, "ca_file": str(readable)}}
    )
    assert ok.mqtt.ca_file == readable


def test_the_subscribe_scope_binds_the_agents_own_place_down_to_its_level(contract: Contract) -> None:
    receives = contract.channels_for("receive")
    place = {"site": "plant-7", "area": "paint", "line": "line-3"}
    expected = {
        "enterprise": ["acme/+/+/+/+/weld/telemetry", "acme/+/+/+/_model/manifest"],
        "site": ["acme/plant-7/+/+/+/weld/telemetry", "acme/plant-7/+/+/_model/manifest"],
        "area": ["acme/plant-7/paint/+/+/weld/telemetry", "acme/plant-7/paint/+/_model/manifest"],
        "line": ["acme/plant-7/paint/line-3/+/weld/telemetry", "acme/plant-7/paint/line-3/_model/manifest"],
    }
    for scope, filters in expected.items():
        settings = EdgeSettings.model_validate({**place, "subscribe_scope": scope})
        assert scoped_filters(settings, receives) == filters
        # the other scopes' filters, to be unsubscribed from a resumed session
        others = {f for other, fs in expected.items() if other != scope for f in fs}
        assert set(stale_filters(settings, receives)) == others
    assert EdgeSettings().subscribe_scope == "line"
    with pytest.raises(ValidationError, match="subscribe_scope"):
        EdgeSettings.model_validate({"subscribe_scope": "cell"})
