"""A deployment manifest from the UNS, checked before the model slot acts on it: signed by the platform
(`deployment_signature`) with the configured key, for this line, not older than the last one accepted."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from edge_agent.features.manifest import PackageError, check_manifest, deployment_signature_problem

__all__ = ["Deployment", "DeploymentRefused", "read_deployment"]


class DeploymentRefused(Exception):
    """A manifest the agent will not act on; the message says why (reported in the heartbeat)."""

    def __init__(self, version: str, reason: str) -> None:
        super().__init__(reason)
        self.version = version
        self.reason = reason


@dataclass(frozen=True)
class Deployment:
    manifest: dict[str, Any]
    version: str
    stage: str
    agents: tuple[str, ...]
    published_ms: int
    package_uri: str

    def applies_to(self, agent: str) -> bool:
        """Fleet and rollback stages apply to every agent; a canary to the agents it names."""
        return self.stage != "canary" or agent in self.agents


def read_deployment(
    raw: bytes,
    *,
    line: str,
    public_key_b64: str,
    key_id: str | None,
    last_published_ms: int | None,
) -> Deployment:
    """The deployment in `raw` (a contract-valid `modelManifest`), or `DeploymentRefused` naming why."""
    try:
        manifest = json.loads(raw)
    except ValueError as exc:
        raise DeploymentRefused("", f"the manifest is not JSON: {exc}") from None
    version = str(manifest.get("model_version", "")) if isinstance(manifest, dict) else ""
    try:
        check_manifest(manifest, "deployment manifest", signed=True)
    except PackageError as exc:
        raise DeploymentRefused(version, str(exc)) from None
    why = deployment_signature_problem(manifest, public_key_b64, key_id)
    if why is not None:
        raise DeploymentRefused(version, why)
    if manifest.get("line") != line:
        raise DeploymentRefused(version, f"the manifest is for line {manifest.get('line')!r}, not {line!r}")
    rollout = manifest.get("rollout")
    if not isinstance(rollout, Mapping) or not isinstance(rollout.get("published_ms"), int):
        raise DeploymentRefused(version, "the manifest has no rollout with published_ms")
    published_ms = int(rollout["published_ms"])
    if last_published_ms is not None and published_ms < last_published_ms:
        raise DeploymentRefused(
            version,
            f"published at {published_ms}, before the deployment accepted last ({last_published_ms}): "
            "a replayed or out-of-order manifest",
        )
    return Deployment(
        manifest=manifest,
        version=version,
        stage=str(rollout.get("stage", "fleet")),
        agents=tuple(str(a) for a in rollout.get("agents") or ()),
        published_ms=published_ms,
        package_uri=str(manifest["package_uri"]),
    )
