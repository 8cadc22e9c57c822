"""Bind the platform's shared resources for an environment. Called when definitions load, never at
import time.

LOCAL keeps everything under `./.mlops/` (or `$MLOPS_HOME`). PROD reads locations and credentials
through `dg.EnvVar`, resolved when a run launches and hidden in the UI:

| variable | holds |
| --- | --- |
| `MLOPS_LAKE_ROOT` | `s3://bucket/prefix` of the Delta lake |
| `MLOPS_LANDING_ROOT` | `s3://bucket/prefix` of the landing zone |
| `AWS_REGION`, `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, `AWS_ENDPOINT_URL`, `AWS_ALLOW_HTTP` | S3 access; unset ones fall back to the pod's identity |
| `MLOPS_MIN_COMPLIANCE`, `MLOPS_MAX_STALENESS_HOURS` | data-quality thresholds (both environments) |
| `MLFLOW_TRACKING_URI`, `MLFLOW_ARTIFACT_ROOT` (optional) | MLflow (LOCAL: SQLite under `<home>/mlflow`) |
| `MLOPS_SIGNING_KEY`, `MLOPS_SIGNING_KEY_ID` | the platform's ed25519 key (base64, raw 32 bytes) and its id |

Without a signing key, LOCAL generates a development key under `<home>/signing/` (logged as such at
every use); PROD fails the run that signs, naming the variable.
"""

from __future__ import annotations

import os

import dagster as dg

from mlops_assets.environment import Environment, local_home
from mlops_assets.ml.registry import local_tracking_uri
from mlops_assets.resources.lakehouse import LakehouseResource, S3LakehouseResource
from mlops_assets.resources.landing import LandingResource, S3LandingResource
from mlops_assets.resources.model_registry import ModelRegistryResource
from mlops_assets.resources.quality import DataQualityResource
from mlops_assets.resources.s3 import s3_credentials_from_env
from mlops_assets.resources.signer import KEY_ID_VAR, KEY_VAR, SignerResource

__all__ = ["platform_resources"]


def _float_setting(variable: str, default: float) -> float:
    raw = os.environ.get(variable)
    if raw is None or not raw.strip():
        return default
    try:
        return float(raw)
    except ValueError:
        raise ValueError(f"{variable}={raw!r} is not a number") from None


def platform_resources(environment: Environment) -> dict[str, dg.ConfigurableResource]:
    """`lakehouse`, `landing`, `data_quality`, `model_registry` and `signer` for `environment`."""
    return {**_lake_resources(environment), **_ml_resources(environment)}


def _lake_resources(environment: Environment) -> dict[str, dg.ConfigurableResource]:
    quality = DataQualityResource(
        min_share_valid=_float_setting("MLOPS_MIN_COMPLIANCE", 0.99),
        max_staleness_hours=_float_setting("MLOPS_MAX_STALENESS_HOURS", 24.0),
    )
    if environment is Environment.LOCAL:
        home = local_home()
        return {
            "lakehouse": LakehouseResource(root=os.fspath(home / "lake")),
            "landing": LandingResource(root=os.fspath(home / "landing")),
            "data_quality": quality,
        }
    credentials = s3_credentials_from_env()
    return {
        "lakehouse": S3LakehouseResource(root=dg.EnvVar("MLOPS_LAKE_ROOT"), **credentials),
        "landing": S3LandingResource(root=dg.EnvVar("MLOPS_LANDING_ROOT"), **credentials),
        "data_quality": quality,
    }


def _ml_resources(environment: Environment) -> dict[str, dg.ConfigurableResource]:
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
