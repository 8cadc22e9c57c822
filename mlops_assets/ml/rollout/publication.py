"""A registered version made ready for the edge: its package downloaded and verified with the platform
key, copied to the landing zone's `_models/` area, and its signed deployment manifest checked against
the contract, ready to be published retained on the line's manifest topic. Also what the registry
records of a publication (version tags)."""

from __future__ import annotations

import hashlib
import json
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edge_agent.contract import ContractValidator, load_contract
from edge_agent.domain import LineAddress
from edge_agent.features import PackageError
from mlops_assets.landing.zone import LandingZone
from mlops_assets.ml.registry import ModelRegistry
from mlops_assets.ml.release.platform_key import PlatformKey, load_verified
from mlops_assets.ml.release.signing import ManifestSigner
from mlops_assets.ml.rollout.deployments import (
    deployment_manifest,
    manifest_topic,
    package_area,
    stage_package,
)
from mlops_assets.ml.rollout.plans import RolloutPlan

__all__ = ["MANIFEST_CHANNEL", "Publication", "prepare_publication", "tag_versions"]

MANIFEST_CHANNEL = "modelManifest"


@dataclass(frozen=True)
class Publication:
    topic: str
    manifest: dict[str, Any]
    payload: bytes
    staged_files: list[str]

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.payload).hexdigest()

    @property
    def published_ms(self) -> int:
        return int(self.manifest["rollout"]["published_ms"])


def prepare_publication(
    registry: ModelRegistry,
    zone: LandingZone,
    *,
    key: PlatformKey,
    signer: ManifestSigner,
    address: LineAddress,
    model_name: str,
    plan: RolloutPlan,
    published_ms: int,
) -> Publication:
    """Verify the version's package (`PackageError` when it does not), stage its files, and build the
    deployment manifest; ValueError when the manifest would not pass the contract."""
    version = registry.package_of(model_name, plan.version)
    area = package_area(address, model_name, plan.version)
    with tempfile.TemporaryDirectory(prefix="deploy-") as tmp:
        package = load_verified(registry, version, Path(tmp), key)
        if package.manifest.get("line") != address.line:
            raise PackageError(
                f"{model_name} v{plan.version} is a package of line {package.manifest.get('line')!r}, "
                f"not {address.line!r}"
            )
        staged = stage_package(zone, package.root, package.manifest, area)
    manifest = deployment_manifest(
        package.manifest,
        package_uri=area,
        stage=plan.stage,
        agents=plan.agents,
        signer=signer,
        published_ms=published_ms,
    )
    topic = manifest_topic(address)
    payload = json.dumps(manifest, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    verdict = ContractValidator(load_contract(), channels=[MANIFEST_CHANNEL]).check(topic, payload)
    if not verdict.ok or verdict.channel != MANIFEST_CHANNEL:
        raise ValueError(f"the deployment manifest for {topic} breaks the contract: {verdict.error}")
    return Publication(topic, manifest, payload, staged)


def tag_versions(
    registry: ModelRegistry, model_name: str, plan: RolloutPlan, publication: Publication
) -> None:
    """`edge_rollout` (canary, fleet, rollback; `rolled_back` on the version a rollback replaced),
    when, and the manifest's digest, on the versions involved."""
    registry.set_version_tags(
        model_name,
        plan.version,
        {
            "edge_rollout": plan.stage,
            "edge_published_ms": str(publication.published_ms),
            "edge_manifest_sha256": publication.sha256,
        },
    )
    if plan.rolled_back_version is not None:
        registry.set_version_tags(
            model_name,
            plan.rolled_back_version,
            {"edge_rollout": "rolled_back", "edge_rollback_reason": plan.reason[:4000]},
        )
