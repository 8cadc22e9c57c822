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
| `MLOPS_UNS_HOST`, `MLOPS_UNS_PORT` | the UNS broker (LOCAL 127.0.0.1:1883 without TLS; PROD port 8883, TLS) |
| `MLOPS_UNS_CA_FILE`, `MLOPS_UNS_USERNAME`, `MLOPS_UNS_PASSWORD` | PROD: its CA bundle (else the system's), the platform's MQTT user and password |

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
from mlops_assets.resources.uns import UnsResource

__all__ = ["platform_resources"]


def _float_setting(variable: str, default: float) -> float:
    raw = os.environ.get(variable)
    if raw is None or not raw.strip():
        return default
    try:
        return float(raw)
    except ValueError:
        raise ValueError(f"{variable}={raw!r} is not a number") from None


def _int_setting(variable: str, default: int) -> int:
    raw = os.environ.get(variable)
    if raw is None or not raw.strip():
        return default
    try:
        return int(raw)
    except ValueError:
        raise ValueError(f"{variable}={raw!r} is not an integer") from None


def platform_resources(environment: Environment) -> dict[str, dg.ConfigurableResource]:
    """`lakehouse`, `landing`, `data_quality`, `model_registry`, `signer` and `uns` for `environment`."""
    return {**_lake_resources(environment), **_ml_resources(environment), "uns": _uns_resource(environment)}


def _uns_resource(environment: Environment) -> UnsResource:
    if environment is Environment.LOCAL:
        return UnsResource(
            host=os.environ.get("MLOPS_UNS_HOST") or "127.0.0.1", port=_int_setting("MLOPS_UNS_PORT", 1883)
        )
    # Only set variables become EnvVars: an EnvVar of an unset variable fails the run that uses it.
    username, password = (
        dg.EnvVar(variable) if os.environ.get(variable) else None
        for variable in ("MLOPS_UNS_USERNAME", "MLOPS_UNS_PASSWORD")
    )
    return UnsResource(
        host=dg.EnvVar("MLOPS_UNS_HOST"),
        port=_int_setting("MLOPS_UNS_PORT", 8883),
        tls=True,
        ca_file=os.environ.get("MLOPS_UNS_CA_FILE") or None,
        username=username,
        password=password,
    )


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
