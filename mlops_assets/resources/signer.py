"""`signer`: the platform's ed25519 manifest signer as a Dagster resource; its public key is the one
packages are verified with."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
from pydantic import Field

from mlops_assets.ml.release.signing import ManifestSigner, load_or_create_dev_signer

__all__ = ["KEY_ID_VAR", "KEY_VAR", "SignerResource"]

KEY_VAR = "MLOPS_SIGNING_KEY"
KEY_ID_VAR = "MLOPS_SIGNING_KEY_ID"


class SignerResource(dg.ConfigurableResource):
    """The platform's manifest signer; its public key is the one packages are verified with."""

    private_key: str | None = Field(
        default=None, description="base64 of the raw 32-byte ed25519 key (EnvVar)."
    )
    key_id: str = Field(
        default="platform", description="Names the key in manifests, so agents pick the public key."
    )
    dev_key_dir: str | None = Field(default=None, description="LOCAL only: where a development key is kept.")

    def signer(self) -> ManifestSigner:
        if self.private_key:
            return ManifestSigner.from_base64(self.private_key, self.key_id)
        if self.dev_key_dir:
            return load_or_create_dev_signer(Path(self.dev_key_dir))
        raise ValueError(f"{KEY_VAR} is not set: production manifests must be signed with the platform key")
