"""Settings: YAML file, EDGE_ environment overrides, validation naming the field, secrets kept out of logs."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from edge_agent.agent.settings import EdgeSettings, load_settings
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


def test_the_shipped_example_configuration_is_valid(monkeypatch: pytest.MonkeyPatch) -> None:
    example = Path(__file__).resolve().parents[3] / "deploy" / "edge" / "edge.yaml"
    monkeypatch.setenv("EDGE_MQTT__PASSWORD", "from-the-environment")
    settings = load_settings(example)
    assert settings.landing.url.startswith("s3://") and settings.mqtt.tls
    assert settings.mqtt.password is not None
