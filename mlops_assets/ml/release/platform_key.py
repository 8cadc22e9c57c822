"""The platform key every package must be signed with, and a registered package downloaded and verified
with it as the edge will. No torch here: the rollout imports this without the model's libraries."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from edge_agent.features import EdgePackage, load_package
from mlops_assets.ml.registry import ModelRegistry, RegisteredVersion

__all__ = ["PlatformKey", "load_verified"]


@dataclass(frozen=True)
class PlatformKey:
    """The key packages must be signed with: its id (named in every manifest) and the public key."""

    key_id: str
    public_key_b64: str


def load_verified(
    registry: ModelRegistry, version: RegisteredVersion, folder: Path, key: PlatformKey
) -> EdgePackage:
    """The version's package, downloaded into `folder` and verified by `edge_agent.features.load_package`
    (hashes, and the signature with the platform's public key and key id): `PackageError` otherwise."""
    return load_package(registry.download_version(version, folder), key.public_key_b64, key_id=key.key_id)
