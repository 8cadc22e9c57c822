"""`signer`: ed25519 signing of package manifests, the key from the environment.

LOCAL without `MLOPS_SIGNING_KEY` generates a development key under `<home>/signing/` (logged as such
at every use); PROD requires `MLOPS_SIGNING_KEY` and fails the run that needs it when it is missing.
"""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg
from pydantic import Field

from mlops_assets.environment import Environment, current_environment, local_home
from mlops_assets.ml.signing import ManifestSigner, load_or_create_dev_signer

__all__ = ["SignerResource", "resources"]

KEY_VAR = "MLOPS_SIGNING_KEY"
KEY_ID_VAR = "MLOPS_SIGNING_KEY_ID"


class SignerResource(dg.ConfigurableResource):
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


@dg.definitions
def resources() -> dg.Definitions:
    key_id = os.environ.get(KEY_ID_VAR, "platform")
    if os.environ.get(KEY_VAR):
        signer = SignerResource(private_key=dg.EnvVar(KEY_VAR), key_id=key_id)
    elif current_environment() is Environment.LOCAL:
        signer = SignerResource(dev_key_dir=os.fspath(local_home() / "signing"))
    else:
        signer = SignerResource(key_id=key_id)  # fails, naming the variable, when a package is signed
    return dg.Definitions(resources={"signer": signer})
