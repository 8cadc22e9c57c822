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
from typing import Any

import dagster as dg

from mlops_assets.environment import Environment, local_home
from mlops_assets.resources.lakehouse import LakehouseResource, S3LakehouseResource
from mlops_assets.resources.landing import LandingResource, S3LandingResource
from mlops_assets.resources.quality import DataQualityResource

__all__ = ["platform_resources"]

_S3_FIELDS = {
    "aws_region": "AWS_REGION",
    "aws_access_key_id": "AWS_ACCESS_KEY_ID",
    "aws_secret_access_key": "AWS_SECRET_ACCESS_KEY",
    "aws_session_token": "AWS_SESSION_TOKEN",
    "aws_endpoint_url": "AWS_ENDPOINT_URL",
}


def _s3_credentials() -> dict[str, Any]:
    # Only variables that are set become EnvVars: an EnvVar of an unset variable fails the run, and
    # in production the pod's identity (IRSA) may stand in for static keys.
    return {name: dg.EnvVar(var) for name, var in _S3_FIELDS.items() if os.environ.get(var)}


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
    credentials = _s3_credentials()
    allow_http = {"aws_allow_http": dg.EnvVar("AWS_ALLOW_HTTP")} if os.environ.get("AWS_ALLOW_HTTP") else {}
    return {
        "lakehouse": S3LakehouseResource(root=dg.EnvVar("MLOPS_LAKE_ROOT"), **credentials, **allow_http),
        "landing": S3LandingResource(root=dg.EnvVar("MLOPS_LANDING_ROOT"), **credentials),
        "data_quality": quality,
    }
