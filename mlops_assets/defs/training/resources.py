"""`model_registry`: MLflow tracking and registry (local SQLite + artefact folder, or a tracking server)."""

from __future__ import annotations

import os

import dagster as dg
from pydantic import Field

from mlops_assets.environment import Environment, current_environment, local_home
from mlops_assets.ml.registry import ModelRegistry, local_tracking_uri

__all__ = ["ModelRegistryResource", "resources"]


class ModelRegistryResource(dg.ConfigurableResource):
    """MLflow at `tracking_uri` (also the registry); new experiments keep artefacts under `artifact_root`."""

    tracking_uri: str = Field(description="sqlite:///... locally, http(s)://mlflow:5000 in production.")
    artifact_root: str | None = Field(default=None, description="Folder or s3:// prefix for new experiments.")

    def registry(self) -> ModelRegistry:
        return ModelRegistry(self.tracking_uri, self.artifact_root)


@dg.definitions
def resources() -> dg.Definitions:
    if current_environment() is Environment.LOCAL:
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
    return dg.Definitions(resources={"model_registry": registry})
