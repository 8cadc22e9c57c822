"""S3 access options, built in one place: the `AWS_*` variables that object_store (deltalake,
polars) reads, and the same options as boto3 client arguments.

The lakehouse and landing resources hold one field per variable (`aws_region` for `AWS_REGION`, ...)
and the PROD binding turns the variables that are set into `dg.EnvVar`s; `mlops sql` reads them from
the process environment. Both turn their values into options with `s3_storage_options`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

__all__ = ["S3_OPTION_VARIABLES", "s3_client_kwargs", "s3_storage_options", "storage_options_from_env"]

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


def s3_storage_options(values: Mapping[str, str | None]) -> dict[str, str]:
    """object_store options: the `S3_OPTION_VARIABLES` that have a value in `values` (empty or
    missing ones are left to the default credential chain: instance roles, IRSA)."""
    return {name: value for name in S3_OPTION_VARIABLES if (value := values.get(name))}


def storage_options_from_env(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """`s3_storage_options` of the process environment (or of `environ`)."""
    return s3_storage_options(os.environ if environ is None else environ)


def s3_client_kwargs(storage_options: Mapping[str, str]) -> dict[str, Any]:
    """boto3 client arguments equivalent to object_store `AWS_*` options (absent ones come from the
    environment, as boto3 and object_store both read it)."""
    options = {k.upper(): v for k, v in storage_options.items()}
    return {arg: options[key] for key, arg in _BOTO3_ARGUMENTS.items() if options.get(key)}
