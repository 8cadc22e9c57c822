"""SQL over every lake table by name: a polars SQLContext over lazy Delta scans.

Scans are lazy, so `WHERE line = 'line-1' AND date = '2026-11-21'` prunes Delta partitions and
Parquet row groups before anything is read; the same works on `s3://`. (DuckDB's delta extension
would download itself at run time, which this platform does not allow.)
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import polars as pl

from mlops_assets.environment import Environment, current_environment, local_home
from mlops_assets.lake.store import LakeStore

__all__ = ["lake_from_environment", "run_sql", "sql_context", "storage_options_from_env"]

_AWS_OPTIONS = (
    "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_REGION", "AWS_ENDPOINT_URL", "AWS_ALLOW_HTTP",
)  # fmt: skip


def storage_options_from_env(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """object_store options from the `AWS_*` variables that are set."""
    source = os.environ if environ is None else environ
    return {k: source[k] for k in _AWS_OPTIONS if source.get(k)}


def lake_from_environment(root: str | None = None) -> LakeStore:
    """The lake the platform uses here: `root` if given, else LOCAL `./.mlops/lake` or PROD
    `$MLOPS_LAKE_ROOT` (a missing variable stops with its name)."""
    if root is None:
        if current_environment() is Environment.LOCAL:
            root = os.fspath(local_home() / "lake")
        else:
            root = os.environ.get("MLOPS_LAKE_ROOT")
            if not root:
                raise ValueError("MLOPS_ENV=prod needs MLOPS_LAKE_ROOT (the s3:// URI of the lake)")
    return LakeStore(root, storage_options_from_env() if "://" in root else {})


def sql_context(store: LakeStore) -> pl.SQLContext:
    """Every table of the lake registered under its name (`raw_uns_captures`, ...)."""
    context: pl.SQLContext = pl.SQLContext()
    for table in store.list_tables():
        context.register(table.name, store.scan(table))
    return context


def run_sql(store: LakeStore, query: str) -> pl.DataFrame:
    return sql_context(store).execute(query, eager=True)
