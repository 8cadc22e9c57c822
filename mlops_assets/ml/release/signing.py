"""Manifest signing with ed25519: the platform key from the environment (`MLOPS_SIGNING_KEY`: base64 of
the raw 32-byte key), or a LOCAL development key (`load_or_create_dev_signer`)."""

from __future__ import annotations

import base64
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from edge_agent.features.manifest import deployment_content
from edge_agent.features.package import signed_content

__all__ = ["DEV_KEY_ID", "ManifestSigner", "load_or_create_dev_signer", "sign_deployment", "sign_manifest"]

log = logging.getLogger(__name__)

DEV_KEY_ID = "local-dev"


@dataclass(frozen=True)
class ManifestSigner:
    key_id: str
    private_key: Ed25519PrivateKey

    @classmethod
    def from_base64(cls, private_key_b64: str, key_id: str) -> ManifestSigner:
        try:
            raw = base64.b64decode(private_key_b64, validate=True)
            return cls(key_id, Ed25519PrivateKey.from_private_bytes(raw))
        except ValueError as exc:
            raise ValueError(f"signing key is not base64 of a raw 32-byte ed25519 key: {exc}") from None

    @property
    def public_key_b64(self) -> str:
        raw = self.private_key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        return base64.b64encode(raw).decode()

    def sign(self, data: bytes) -> str:
        return base64.b64encode(self.private_key.sign(data)).decode()


def load_or_create_dev_signer(directory: Path) -> ManifestSigner:
    """The local development key under `directory` (created on first use, readable by its owner only).
    A warning says so every time it is used: a package signed with it is worthless on another machine."""
    path = directory / "dev_ed25519.key"
    if not path.exists():
        directory.mkdir(parents=True, exist_ok=True)
        raw = Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
        )
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(base64.b64encode(raw).decode())
        log.warning("generated a LOCAL DEVELOPMENT signing key at %s", path)
    signer = ManifestSigner.from_base64(path.read_text().strip(), DEV_KEY_ID)
    log.warning(
        "signing with the LOCAL DEVELOPMENT key %s (public key %s); set MLOPS_SIGNING_KEY in production",
        path,
        signer.public_key_b64,
    )
    return signer


def sign_manifest(manifest: Mapping[str, Any], signer: ManifestSigner) -> dict[str, Any]:
    """The manifest with its `signature` over `signed_content` (see `edge_agent.features.package`)."""
    unsigned = {k: v for k, v in manifest.items() if k != "signature"}
    return {
        **unsigned,
        "signature": {
            "algorithm": "ed25519",
            "key_id": signer.key_id,
            "value": signer.sign(signed_content(unsigned)),
        },
    }


def sign_deployment(manifest: Mapping[str, Any], signer: ManifestSigner) -> dict[str, Any]:
    """The deployment manifest with its `deployment_signature` over the whole of it (rollout included)."""
    unsigned = {k: v for k, v in manifest.items() if k != "deployment_signature"}
    return {
        **unsigned,
        "deployment_signature": {
            "algorithm": "ed25519",
            "key_id": signer.key_id,
            "value": signer.sign(deployment_content(unsigned)),
        },
    }
