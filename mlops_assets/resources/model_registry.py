"""`model_registry`: MLflow tracking and model registry as a Dagster resource (SQLite locally, a
tracking server in production)."""

from __future__ import annotations

import dagster as dg
from pydantic import Field

from mlops_assets.ml.registry import ModelRegistry

__all__ = ["ModelRegistryResource"]


class ModelRegistryResource(dg.ConfigurableResource):
    """MLflow at `tracking_uri` (also the registry); new experiments keep artefacts under `artifact_root`."""

    tracking_uri: str = Field(description="sqlite:///... locally, http(s)://mlflow:5000 in production.")
    artifact_root: str | None = Field(default=None, description="Folder or s3:// prefix for new experiments.")

    def registry(self) -> ModelRegistry:
        return ModelRegistry(self.tracking_uri, self.artifact_root)
