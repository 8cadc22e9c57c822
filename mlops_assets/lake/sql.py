"""SQL over every lake table by name: a polars SQLContext over lazy Delta scans.

Scans are lazy, so `WHERE line = 'line-1' AND date = '2026-11-21'` prunes Delta partitions and
Parquet row groups before anything is read; the same works on `s3://`. (DuckDB's delta extension
would download itself at run time, which this platform does not allow.)
"""

from __future__ import annotations

import os

import polars as pl

from mlops_assets.environment import Environment, current_environment, local_home
from mlops_assets.lake.s3 import storage_options_from_env
from mlops_assets.lake.store import LakeStore

__all__ = ["lake_from_environment", "run_sql", "sql_context"]


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
