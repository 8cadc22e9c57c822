"""The ML resources shared by the training and packaging domains: `model_registry` and `signer`.

`ml_resources(environment)` binds both for an environment; `mlops_assets.definitions` calls it with the
environment it decided (once, when the code location loads), next to the lake's `platform_resources`.

- `model_registry` (`ModelRegistryResource`): MLflow tracking and registry. LOCAL: a SQLite store and an
  artefact folder under `<home>/mlflow`; PROD: `MLFLOW_TRACKING_URI` (a tracking server on PostgreSQL
  with S3 artefacts), `MLFLOW_ARTIFACT_ROOT` optional.
- `signer` (`SignerResource`): ed25519 signing of package manifests and the public key that verifies
  them. `MLOPS_SIGNING_KEY` (base64 of the raw 32-byte key) and `MLOPS_SIGNING_KEY_ID` from the
  environment; LOCAL without a key generates a development key under `<home>/signing/` (logged as such
  at every use); PROD without a key fails the run that needs it, naming the variable.
"""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg
from pydantic import Field

from mlops_assets.environment import Environment, local_home
from mlops_assets.ml.registry import ModelRegistry, local_tracking_uri
from mlops_assets.ml.signing import ManifestSigner, load_or_create_dev_signer

__all__ = ["KEY_ID_VAR", "KEY_VAR", "ModelRegistryResource", "SignerResource", "ml_resources"]

KEY_VAR = "MLOPS_SIGNING_KEY"
KEY_ID_VAR = "MLOPS_SIGNING_KEY_ID"


class ModelRegistryResource(dg.ConfigurableResource):
    """MLflow at `tracking_uri` (also the registry); new experiments keep artefacts under `artifact_root`."""

    tracking_uri: str = Field(description="sqlite:///... locally, http(s)://mlflow:5000 in production.")
    artifact_root: str | None = Field(default=None, description="Folder or s3:// prefix for new experiments.")

    def registry(self) -> ModelRegistry:
        return ModelRegistry(self.tracking_uri, self.artifact_root)


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


def ml_resources(environment: Environment) -> dict[str, dg.ConfigurableResource]:
    """`model_registry` and `signer` for `environment`."""
    key_id = os.environ.get(KEY_ID_VAR, "platform")
    if os.environ.get(KEY_VAR):
        signer = SignerResource(private_key=dg.EnvVar(KEY_VAR), key_id=key_id)
    elif environment is Environment.LOCAL:
        signer = SignerResource(dev_key_dir=os.fspath(local_home() / "signing"))
    else:
        signer = SignerResource(key_id=key_id)  # fails, naming the variable, when a package is signed
    if environment is Environment.LOCAL:
        home = local_home() / "mlflow"
        registry = ModelRegistryResource(
            tracking_uri=local_tracking_uri(home), artifact_root=os.fspath(home / "artifacts")
        )
    else:
        # The tracking server (on PostgreSQL, artefacts on S3) owns artefact locations unless told.
        root = (
            {"artifact_root": dg.EnvVar("MLFLOW_ARTIFACT_ROOT")}
            if os.environ.get("MLFLOW_ARTIFACT_ROOT")
            else {}
        )
        registry = ModelRegistryResource(tracking_uri=dg.EnvVar("MLFLOW_TRACKING_URI"), **root)
    return {"model_registry": registry, "signer": signer}
