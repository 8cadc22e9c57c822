"""`uns`: the plant's MQTT broker as a Dagster resource: publish a retained message (QoS 1, the PUBACK
awaited) and read what the broker retains (heartbeats, manifests). LOCAL: the local broker without
TLS; PROD: TLS, a username and a password from `dg.EnvVar` (shown nowhere)."""

from __future__ import annotations

from collections.abc import Sequence

import dagster as dg
from pydantic import Field

from edge_agent.uns.endpoint import MqttEndpoint
from mlops_assets.ml.rollout.uns_client import platform_client_id, publish_retained, read_retained

__all__ = ["UnsResource"]


class UnsResource(dg.ConfigurableResource):
    host: str = Field(default="127.0.0.1", description="Broker host.")
    port: int = Field(default=1883, gt=0, lt=65536, description="Broker port (8883 with TLS).")
    tls: bool = Field(default=False, description="Connect with TLS (the server certificate is verified).")
    ca_file: str | None = Field(
        default=None, description="CA bundle of the broker's certificate (else the system's)."
    )
    username: str | None = Field(default=None, description="MQTT username of the platform.")
    password: str | None = Field(default=None, description="MQTT password (EnvVar).")
    timeout_s: float = Field(default=30.0, gt=0, description="Bound of each connect, publish and read.")

    def endpoint(self) -> MqttEndpoint:
        return MqttEndpoint(
            host=self.host,
            port=self.port,
            username=self.username,
            password=self.password,
            tls=self.tls,
            ca_file=self.ca_file,
        )

    def publish_retained(self, topic: str, payload: bytes) -> None:
        """Retained, QoS 1; returns once the broker acknowledged it, raises otherwise."""
        publish_retained(
            self.endpoint(), topic, payload, client_id=platform_client_id("publish"), timeout_s=self.timeout_s
        )

    def read_retained(self, filters: Sequence[str], settle_s: float = 0.5) -> dict[str, bytes]:
        """topic -> payload the broker retains under `filters`, once none came for `settle_s`."""
        return read_retained(
            self.endpoint(),
            filters,
            client_id=platform_client_id("read"),
            settle_s=settle_s,
            max_wait_s=self.timeout_s,
        )
