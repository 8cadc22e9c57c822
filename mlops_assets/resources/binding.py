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
"""

from __future__ import annotations

import os

import dagster as dg

from mlops_assets.environment import Environment, local_home
from mlops_assets.resources.lakehouse import LakehouseResource, S3LakehouseResource
from mlops_assets.resources.landing import LandingResource, S3LandingResource
from mlops_assets.resources.quality import DataQualityResource
from mlops_assets.resources.s3 import s3_credentials_from_env

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
    """`lakehouse`, `landing` and `data_quality` for `environment`."""
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
