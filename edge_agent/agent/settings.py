"""The agent's settings: one validated object, from a YAML file with `EDGE_...` environment overrides.

The environment overrides the file, which overrides the defaults; unknown keys and unreadable files a
setting names are errors naming the field. Secrets are `SecretStr` and come only from the environment.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    Field,
    SecretStr,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from edge_agent.agent.model_settings import DriftSettings, ModelSettings, ScoringSettings
from edge_agent.agent.settings_base import MiB
from edge_agent.agent.settings_base import Section as _Section

__all__ = [
    "DriftSettings",
    "EdgeSettings",
    "HeartbeatSettings",
    "LandingSettings",
    "LogSettings",
    "MetricsSettings",
    "ModelSettings",
    "MqttSettings",
    "PipelineSettings",
    "ScoringSettings",
    "ShutdownSettings",
    "SpoolSettings",
    "SubscribeScope",
    "load_settings",
]

_LEVEL = r"^[a-z0-9][a-z0-9-]{0,31}$"
_AGENT = r"^[a-z0-9][a-z0-9-]{0,47}$"
SubscribeScope = Literal["enterprise", "site", "area", "line"]
SCOPE_LEVELS: tuple[SubscribeScope, ...] = ("enterprise", "site", "area", "line")


def _readable_file(path: Path) -> Path:
    """`path` if it is a file we can open for reading; otherwise an error saying which and why."""
    try:
        with path.open("rb"):
            pass
    except FileNotFoundError:
        why = "does not exist"
    except IsADirectoryError:
        why = "is a directory, not a file"
    except PermissionError:
        why = "is not readable (permission denied)"
    except OSError as exc:
        why = f"cannot be read ({exc.strerror or exc})"
    else:
        return path
    raise PydanticCustomError("unreadable_file", "{path} {why}", {"path": str(path), "why": why})


class MqttSettings(_Section):
    host: str = "127.0.0.1"
    port: int = Field(default=1883, gt=0, lt=65536)
    protocol: Literal["5", "3.1.1"] = "5"
    client_id: str | None = Field(
        default=None, description="Stable id of the persistent session; default: agent_id."
    )
    username: str | None = None
    password: SecretStr | None = None
    tls: bool = False
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    keepalive_s: int = Field(default=30, ge=5, le=3600)
    session_expiry_s: int = Field(
        default=7 * 24 * 3600, ge=60, description="How long the broker keeps our queue."
    )
    receive_maximum: int = Field(default=1000, ge=1, le=65535)
    qos: Literal[1] = 1
    reconnect_min_s: float = Field(default=0.5, gt=0)
    reconnect_max_s: float = Field(default=30.0, gt=0)

    @field_validator("ca_file", "cert_file", "key_file")
    @classmethod
    def _tls_file(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        # `tls` is declared before these fields, so its validated value is known here.
        if value is not None and info.data.get("tls"):
            return _readable_file(value)
        return value

    @model_validator(mode="after")
    def _backoff_order(self) -> MqttSettings:
        if self.reconnect_max_s < self.reconnect_min_s:
            raise ValueError("reconnect_max_s must be >= reconnect_min_s")
        return self


class PipelineSettings(_Section):
    ingress_capacity: int = Field(
        default=4096, ge=16, description="Messages between the network thread and validation."
    )
    capture_capacity: int = Field(
        default=4096, ge=16, description="Validated messages waiting for the group commit."
    )
    validate_mode: Literal["process", "thread"] = "process"
    validate_workers: int = Field(default=1, ge=1, le=64)
    validate_batch: int = Field(default=256, ge=1, le=10_000)
    group_commit_max: int = Field(default=2000, ge=1, description="Most messages made durable by one fsync.")
    max_payload_bytes: int = Field(
        default=MiB, ge=1024, description="Larger payloads are quarantined as too_large."
    )
    queue_max_bytes: int = Field(
        default=64 * MiB, ge=MiB, description="Payload bytes the ingress and the capture queue may each hold."
    )
    max_counter_topics: int = Field(
        default=1000, ge=1, description="Distinct topics counted; the rest under _other."
    )
    score_workers: int = Field(default=0, ge=0, description="Slot for the scoring processor (a later issue).")
    drift_workers: int = Field(default=0, ge=0, description="Slot for a drift processor of one's own.")
    downstream_capacity: int = Field(default=1024, ge=1)


class SpoolSettings(_Section):
    dir: Path = Path(".mlops/edge/spool")
    segment_max_bytes: int = Field(default=32 * MiB, ge=4096)
    seal_max_age_s: float = Field(default=60.0, gt=0)
    max_bytes: int = Field(
        default=2048 * MiB, ge=64 * 1024, description="Capture spool bound (segments + sealed)."
    )
    quarantine_max_bytes: int = Field(default=256 * MiB, ge=64 * 1024)
    quarantine_when_full: Literal["drop_oldest", "block"] = "drop_oldest"
    seal_mode: Literal["process", "thread"] = "process"
    dedup_window: int = Field(
        default=16384, ge=16, description="Recent digests kept to drop QoS 1 redeliveries."
    )
    fsync: bool = True


class LandingSettings(_Section):
    url: str = Field(default=".mlops/landing", description="A directory, or s3://bucket/prefix.")
    s3_endpoint_url: str | None = Field(default=None, description="Default: AWS_ENDPOINT_URL or AWS itself.")
    region: str | None = None
    aws_access_key_id: str | None = None
    aws_secret_access_key: SecretStr | None = None
    retry_min_s: float = Field(default=0.5, gt=0)
    retry_max_s: float = Field(default=60.0, gt=0)
    scan_interval_s: float = Field(default=1.0, gt=0)
    timeout_s: float = Field(default=30.0, gt=0)

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be empty")
        if value.startswith("s3://") and not re.match(
            r"^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/.*)?$", value
        ):
            raise ValueError(f"{value!r} is not s3://bucket[/prefix]")
        if "://" in value and not value.startswith("s3://"):
            raise ValueError(f"{value!r}: only a directory or s3://bucket/prefix is supported")
        return value


class HeartbeatSettings(_Section):
    interval_s: float = Field(default=10.0, gt=0)


class MetricsSettings(_Section):
    port: int = Field(default=0, ge=0, lt=65536, description="Prometheus endpoint; 0 turns it off.")
    host: str = "127.0.0.1"


class LogSettings(_Section):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    format: Literal["json", "text"] = "json"


class ShutdownSettings(_Section):
    drain_timeout_s: float = Field(default=30.0, gt=0)
    upload_timeout_s: float = Field(default=15.0, ge=0)


class EdgeSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="EDGE_", env_nested_delimiter="__", extra="forbid", frozen=True, case_sensitive=False
    )

    agent_id: str = Field(default="edge-line-1", pattern=_AGENT)
    enterprise: str = Field(default="acme", pattern=_LEVEL)
    site: str = Field(default="plant-1", pattern=_LEVEL)
    area: str = Field(default="body-shop", pattern=_LEVEL)
    line: str = Field(default="line-1", pattern=_LEVEL)
    contract_path: Path | None = Field(
        default=None, description="Default: the AsyncAPI document shipped with us."
    )
    subscribe_scope: SubscribeScope = Field(
        default="line",
        description="Receive what the contract's channels carry for the agent's own enterprise, site, "
        "area or line (its parameters bound down to that level; the rest stay `+`).",
    )
    mqtt: MqttSettings = MqttSettings()
    pipeline: PipelineSettings = PipelineSettings()
    spool: SpoolSettings = SpoolSettings()
    landing: LandingSettings = LandingSettings()
    heartbeat: HeartbeatSettings = HeartbeatSettings()
    metrics: MetricsSettings = MetricsSettings()
    log: LogSettings = LogSettings()
    shutdown: ShutdownSettings = ShutdownSettings()
    model: ModelSettings = ModelSettings()
    scoring: ScoringSettings = ScoringSettings()
    drift: DriftSettings = DriftSettings()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The YAML file arrives as init kwargs; the environment must override it, so it comes first.
        return (env_settings, init_settings)

    @field_validator("contract_path")
    @classmethod
    def _contract_file(cls, value: Path | None) -> Path | None:
        return None if value is None else _readable_file(value)

    @model_validator(mode="after")
    def _consistent(self) -> EdgeSettings:
        if self.pipeline.ingress_capacity < self.mqtt.receive_maximum:
            raise ValueError(
                f"pipeline.ingress_capacity ({self.pipeline.ingress_capacity}) must be >= "
                f"mqtt.receive_maximum ({self.mqtt.receive_maximum}), or the network thread blocks"
            )
        if self.spool.segment_max_bytes > self.spool.max_bytes // 2:
            raise ValueError("spool.segment_max_bytes must be at most half of spool.max_bytes")
        return self

    @property
    def client_id(self) -> str:
        return self.mqtt.client_id or self.agent_id

    @property
    def line_prefix(self) -> str:
        return f"{self.enterprise}/{self.site}/{self.area}/{self.line}"

    @property
    def scope_bindings(self) -> dict[str, str]:
        """The channel parameters bound to the agent's own values by `subscribe_scope`."""
        depth = SCOPE_LEVELS.index(self.subscribe_scope) + 1
        return {level: getattr(self, level) for level in SCOPE_LEVELS[:depth]}

    @property
    def heartbeat_topic(self) -> str:
        return f"{self.line_prefix}/_edge/{self.agent_id}/heartbeat"

    @property
    def drift_topic(self) -> str:
        return f"{self.line_prefix}/_edge/{self.agent_id}/drift"

    @property
    def manifest_topic(self) -> str:
        return f"{self.line_prefix}/_model/manifest"

    @property
    def scoring_enabled(self) -> bool:
        return self.model.public_key is not None

    @property
    def mqtt_maximum_packet_bytes(self) -> int:
        """MQTT 5 `MaximumPacketSize` asked of the broker: payloads a little too large still reach us and
        are quarantined as `too_large`; much larger ones the broker discards instead of costing us memory."""
        return 4 * self.pipeline.max_payload_bytes

    def redacted(self) -> dict[str, Any]:
        """What may be logged: secrets masked."""
        return self.model_dump(mode="json")


def load_settings(config: Path | str | None = None) -> EdgeSettings:
    """Settings from a YAML file (optional) with `EDGE_...` overrides from the environment.

    Raises `pydantic.ValidationError` (each error names its field) or `ValueError` for an unreadable file.
    """
    data: dict[str, Any] = {}
    if config is not None:
        path = Path(config)
        try:
            loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ValueError(f"cannot read config file {path}: {exc.strerror or exc}") from None
        except yaml.YAMLError as exc:
            raise ValueError(f"config file {path} is not valid YAML: {exc}") from None
        if loaded is None:
            loaded = {}
        if not isinstance(loaded, dict):
            raise ValueError(f"config file {path} must hold a mapping, not {type(loaded).__name__}")
        _refuse_secrets(loaded, path)
        data = loaded
    return EdgeSettings(**data)


_SECRETS = (("mqtt", "password"), ("landing", "aws_secret_access_key"))


def _refuse_secrets(loaded: dict[str, Any], path: Path) -> None:
    """A secret in a file ends up in backups, images and version control: only the environment may hold it."""
    found = [
        f"{section}.{key}"
        for section, key in _SECRETS
        if isinstance(loaded.get(section), dict) and key in loaded[section]
    ]
    if found:
        variables = ", ".join(f"EDGE_{name.upper().replace('.', '__')}" for name in found)
        raise ValueError(
            f"config file {path} holds secrets ({', '.join(found)}): remove them from the file and set "
            f"{variables} in the environment instead"
        )
