"""What one publication on a line's `_model/manifest` was, as `deployed_edge_model` records it (its
materialisation metadata) and as the rollout sensor reads it back to know the line's state."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, cast

from edge_agent.domain import LineAddress
from mlops_assets.ml.rollout.deployments import RolloutStage, manifest_topic
from mlops_assets.ml.rollout.policy import RolloutSettings

__all__ = ["RolloutAction", "RolloutRecord"]

RolloutAction = Literal["deploy", "promote", "rollback"]


@dataclass(frozen=True)
class RolloutRecord:
    action: RolloutAction
    model_name: str
    version: str
    """The version the manifest names."""
    stage: RolloutStage
    agents: tuple[str, ...]
    fleet_version: str | None
    """What the line's agents outside a canary serve (the version itself for fleet and rollback)."""
    published_ms: int
    address: LineAddress
    package_uri: str
    manifest_sha256: str
    settings: RolloutSettings
    reason: str = ""
    rolled_back_version: str | None = None

    @property
    def topic(self) -> str:
        return manifest_topic(self.address)

    @property
    def canary_in_progress(self) -> bool:
        return self.stage == "canary"

    def metadata(self) -> dict[str, Any]:
        """Plain values (dicts and lists show as JSON in the Dagster UI)."""
        return {
            "action": self.action,
            "model_name": self.model_name,
            "model_version": self.version,
            "stage": self.stage,
            "agents": list(self.agents),
            "fleet_version": self.fleet_version or "",
            "published_ms": self.published_ms,
            "topic": self.topic,
            "enterprise": self.address.enterprise,
            "site": self.address.site,
            "area": self.address.area,
            "package_uri": self.package_uri,
            "manifest_sha256": self.manifest_sha256,
            "settings": self.settings.to_dict(),
            "reason": self.reason,
            "rolled_back_version": self.rolled_back_version or "",
        }

    @classmethod
    def from_metadata(cls, line: str, meta: Mapping[str, Any]) -> RolloutRecord:
        """Reads `metadata()` back (plain values); KeyError or ValueError when it is not such a record."""
        stage = str(meta["stage"])
        action = str(meta["action"])
        if stage not in ("canary", "fleet", "rollback") or action not in ("deploy", "promote", "rollback"):
            raise ValueError(f"not a rollout record: stage {stage!r}, action {action!r}")
        address = LineAddress(str(meta["enterprise"]), str(meta["site"]), str(meta["area"]), line)
        return cls(
            action=cast(RolloutAction, action),
            model_name=str(meta["model_name"]),
            version=str(meta["model_version"]),
            stage=cast(RolloutStage, stage),
            agents=tuple(str(a) for a in meta["agents"]),
            fleet_version=str(meta["fleet_version"]) or None,
            published_ms=int(meta["published_ms"]),
            address=address,
            package_uri=str(meta["package_uri"]),
            manifest_sha256=str(meta["manifest_sha256"]),
            settings=RolloutSettings.from_dict(meta.get("settings") or {}),
            reason=str(meta.get("reason", "")),
            rolled_back_version=str(meta.get("rolled_back_version", "")) or None,
        )
