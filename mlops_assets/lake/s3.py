"""S3 access options, named once: the `AWS_*` variables that object_store (deltalake, polars) reads,
and the same options as boto3 client arguments.

The lakehouse and landing resources hold one field per variable (`aws_region` for `AWS_REGION`, ...),
the PROD binding turns the variables that are set into `dg.EnvVar`s, and `mlops sql` reads them from
the process environment: all three use `S3_OPTION_VARIABLES`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

__all__ = ["S3_OPTION_VARIABLES", "s3_client_kwargs", "storage_options_from_env"]

S3_OPTION_VARIABLES = (
    "AWS_REGION",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_ENDPOINT_URL",
    "AWS_ALLOW_HTTP",
)

# object_store option -> boto3 client argument (boto3 infers plain HTTP from the endpoint URL).
_BOTO3_ARGUMENTS = {
    "AWS_ACCESS_KEY_ID": "aws_access_key_id",
    "AWS_SECRET_ACCESS_KEY": "aws_secret_access_key",
    "AWS_SESSION_TOKEN": "aws_session_token",
    "AWS_REGION": "region_name",
    "AWS_ENDPOINT_URL": "endpoint_url",
}


def storage_options_from_env(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """object_store options from the `AWS_*` variables that are set (unset ones are left to the
    default credential chain: instance roles, IRSA)."""
    source = os.environ if environ is None else environ
    return {name: source[name] for name in S3_OPTION_VARIABLES if source.get(name)}


def s3_client_kwargs(storage_options: Mapping[str, str]) -> dict[str, Any]:
    """boto3 client arguments equivalent to object_store `AWS_*` options (absent ones come from the
    environment, as boto3 and object_store both read it)."""
    options = {k.upper(): v for k, v in storage_options.items()}
    return {arg: options[key] for key, arg in _BOTO3_ARGUMENTS.items() if options.get(key)}
