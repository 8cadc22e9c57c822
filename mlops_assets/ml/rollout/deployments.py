"""Deployment manifests and the package area agents read: the plain logic of `deployed_edge_model`.

A package is copied, file by file with its own signed `manifest.json`, to
`<landing root>/_models/<site>/<line>/<model_name>/<version>/`, which agents read with the access they
upload with (never MLflow). The deployment manifest is the package manifest plus `package_uri` (that
folder, relative to the landing root), `rollout` (stage, agents, when) and `deployment_signature`.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

from edge_agent.domain import LineAddress
from edge_agent.features import MANIFEST_FILE
from edge_agent.features.manifest import listed_files
from mlops_assets.landing.zone import LandingZone
from mlops_assets.ml.release.signing import ManifestSigner, sign_deployment

__all__ = [
    "MODELS_AREA",
    "RolloutStage",
    "deployment_manifest",
    "manifest_topic",
    "package_area",
    "stage_package",
]

MODELS_AREA = "_models"
RolloutStage = Literal["canary", "fleet", "rollback"]


def package_area(address: LineAddress, model_name: str, version: str) -> str:
    """Where agents find a package, relative to the landing root (the manifest's `package_uri`)."""
    return f"{MODELS_AREA}/{address.site}/{address.line}/{model_name}/{version}/"


def manifest_topic(address: LineAddress) -> str:
    return f"{address.prefix}/_model/manifest"


def stage_package(zone: LandingZone, folder: Path, manifest: Mapping[str, Any], area: str) -> list[str]:
    """Copy the files the manifest lists, and the manifest, from `folder` to `area`; returns their paths.
    A file already there with the same bytes is left as it is (staging again is harmless)."""
    written = []
    for name in [*listed_files(manifest, f"{folder}/{MANIFEST_FILE}"), MANIFEST_FILE]:
        data = (folder / name).read_bytes()
        relative = f"{area.rstrip('/')}/{name}"
        if zone.read_path(relative) != data:
            zone.write_bytes(relative, data)
        written.append(relative)
    return written


def deployment_manifest(
    package_manifest: Mapping[str, Any],
    *,
    package_uri: str,
    stage: RolloutStage,
    agents: Sequence[str],
    signer: ManifestSigner,
    published_ms: int | None = None,
) -> dict[str, Any]:
    """The signed deployment of a package: where it is, who gets it, when it was published."""
    unsigned = {
        k: v
        for k, v in package_manifest.items()
        if k not in ("deployment_signature", "rollout", "package_uri")
    }
    rollout = {
        "stage": stage,
        "agents": list(agents),
        "published_ms": published_ms if published_ms is not None else int(time.time() * 1000),
    }
    return sign_deployment({**unsigned, "package_uri": package_uri, "rollout": rollout}, signer)
