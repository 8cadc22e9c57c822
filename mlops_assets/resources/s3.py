"""`S3Credentials`: the S3 access fields shared by every resource that reaches S3.

One field per `AWS_*` variable of `mlops_assets.lake.s3.S3_OPTION_VARIABLES` (`aws_region` for
`AWS_REGION`, ...). In production each is bound to a `dg.EnvVar` when the variable is set; a field
left empty falls back to the process environment (instance roles, IRSA).
"""

from __future__ import annotations

import os
from typing import Any

import dagster as dg
from pydantic import Field

from mlops_assets.lake.s3 import S3_OPTION_VARIABLES, s3_storage_options

__all__ = ["S3Credentials", "s3_credentials_from_env"]


class S3Credentials(dg.Config):
    """Mixed into the S3 resources (first base, so its fields and `storage_options` win)."""

    aws_region: str | None = None
    aws_access_key_id: str | None = None
    aws_secret_access_key: str | None = None
    aws_session_token: str | None = None
    aws_endpoint_url: str | None = Field(default=None, description="Only for S3-compatible stores.")
    aws_allow_http: str | None = Field(default=None, description="'true' for a plain-HTTP endpoint.")

    def storage_options(self) -> dict[str, str]:
        """object_store options (`AWS_*`) of the fields that are set."""
        return s3_storage_options({name: getattr(self, name.lower()) for name in S3_OPTION_VARIABLES})


def s3_credentials_from_env() -> dict[str, Any]:
    """`S3Credentials` fields as `dg.EnvVar`s, for the variables set when definitions load. Only set
    variables become EnvVars: an EnvVar of an unset variable fails the run, and in production the
    pod's identity (IRSA) may stand in for static keys."""
    return {name.lower(): dg.EnvVar(name) for name in S3_OPTION_VARIABLES if os.environ.get(name)}
