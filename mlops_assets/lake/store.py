"""The lake: Delta tables under one root, a local folder or `s3://bucket/prefix`.

Plain logic (no Dagster): the `lakehouse` resource builds a `LakeStore`, and so do the CLI and the
benchmarks. Writes go through deltalake (delta-rs), reads through polars' Delta scan, so partition
filters prune files before anything is read.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import polars as pl
from deltalake import CommitProperties, DeltaTable, Transaction, write_deltalake
from deltalake.exceptions import CommitFailedError, DeltaError, TableNotFoundError

from mlops_assets.lake.s3 import s3_client_kwargs
from mlops_assets.lake.tables import LAYERS, TableRef

__all__ = ["LakeStore", "WriteResult"]


@dataclass(frozen=True)
class WriteResult:
    table: TableRef
    uri: str
    rows: int
    version: int | None
    """The Delta version this write committed; None when there was nothing to commit."""
    file_ids: list[str] = field(default_factory=list)
    """The landing file ids this commit recorded."""


@dataclass(frozen=True)
class LakeStore:
    """Delta tables under `root`. `storage_options` are object_store options (`AWS_*` for S3)."""

    root: str
    storage_options: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.root:
            raise ValueError("lake root is empty: give a folder or an s3://bucket/prefix URI")
        if not self.is_remote:
            object.__setattr__(self, "root", os.fspath(Path(self.root).resolve()))

    @property
    def is_remote(self) -> bool:
        return "://" in self.root

    def uri(self, table: TableRef) -> str:
        return f"{self.root.rstrip('/')}/{table.path}"

    def options(self) -> dict[str, str]:
        return dict(self.storage_options)

    # -- reading ---------------------------------------------------------------------------------
    def exists(self, table: TableRef) -> bool:
        return self.delta_table(table) is not None

    def delta_table(self, table: TableRef) -> DeltaTable | None:
        """The table at its latest version, or None when it does not exist yet."""
        # Not `DeltaTable.is_deltatable`: it holds the GIL during its requests, which deadlocks
        # against an S3 endpoint served by a thread of the same process (moto in tests).
        try:
            return DeltaTable(self.uri(table), storage_options=self.options())
        except TableNotFoundError:
            return None

    def version(self, table: TableRef) -> int | None:
        found = self.delta_table(table)
        return None if found is None else found.version()

    def scan(self, table: TableRef, *, version: int | None = None) -> pl.LazyFrame:
        """A lazy scan of the latest version (or of `version`); raises FileNotFoundError naming the
        table when it does not exist."""
        if not self.exists(table):
            raise FileNotFoundError(f"no Delta table {table} at {self.uri(table)}")
        return pl.scan_delta(self.uri(table), version=version, storage_options=self.options())

    def read(
        self,
        table: TableRef,
        *,
        line: str | None = None,
        dates: Iterable[dt.date] | None = None,
        columns: Sequence[str] | None = None,
        where: pl.Expr | None = None,
        version: int | None = None,
    ) -> pl.DataFrame:
        """Rows of `table`, pruned to one line and some days; an empty frame when the table is absent.
        `version` reads that Delta version (what a lineage record names) instead of the latest."""
        if not self.exists(table):
            return pl.DataFrame()
        frame = self.scan(table, version=version)
        if line is not None:
            frame = frame.filter(pl.col("line") == line)
        if dates is not None:
            frame = frame.filter(pl.col("date").is_in(sorted(set(dates))))
        if where is not None:
            frame = frame.filter(where)
        if columns is not None:
            frame = frame.select(columns)
        return frame.collect()

    def list_tables(self) -> list[TableRef]:
        """Every Delta table under the lake's layers, sorted by layer and name."""
        found: list[TableRef] = []
        for layer in LAYERS:
            for name in self._children(layer):
                try:
                    ref = TableRef(layer, name)
                except ValueError:
                    continue  # not one of ours (a name no SQL query could use)
                if self.exists(ref):
                    found.append(ref)
        return found

    def _children(self, layer: str) -> list[str]:
        if not self.is_remote:
            folder = Path(self.root) / layer
            return sorted(p.name for p in folder.iterdir() if p.is_dir()) if folder.is_dir() else []
        parsed = urlparse(self.root)
        if parsed.scheme not in ("s3", "s3a"):
            raise ValueError(f"listing tables under {parsed.scheme}:// is not supported (s3:// is)")
        import boto3  # only remote lakes need it

        client = boto3.client("s3", **s3_client_kwargs(self.storage_options))
        prefix = f"{parsed.path.strip('/')}/{layer}/".lstrip("/")
        names: list[str] = []
        for page in client.get_paginator("list_objects_v2").paginate(
            Bucket=parsed.netloc, Prefix=prefix, Delimiter="/"
        ):
            names += [p["Prefix"][len(prefix) :].strip("/") for p in page.get("CommonPrefixes", [])]
        return sorted(names)

    # -- writing ---------------------------------------------------------------------------------
    def append(
        self,
        table: TableRef,
        frame: pl.DataFrame,
        *,
        partition_by: Sequence[str] | None = None,
        file_ids: Iterable[str] = (),
        metadata: Mapping[str, str] | None = None,
    ) -> WriteResult:
        """Append `frame` in one Delta commit that also records each of `file_ids` as an application
        transaction: the rows and the record of what they ingested are one atomic step.

        Rows of files the table already records are dropped first, checked against the very
        snapshot the commit is made on; a concurrent writer that records one of the same files after
        that snapshot makes this commit fail (deltalake `CommitFailedError`) instead of duplicating.
        New columns are merged into the table schema (new signals appear as new columns).
        """
        ids = sorted(set(file_ids))
        if frame.height == 0 and not ids:
            return WriteResult(table, self.uri(table), 0, None)
        existing = self._open_or_create(table, frame, partition_by)
        already = {i for i in ids if existing.transaction_version(i) is not None}
        if already:
            ids = [i for i in ids if i not in already]
            frame = frame.filter(~pl.col("file_id").is_in(sorted(already)))
            if not ids:
                return WriteResult(table, self.uri(table), 0, None, [])
        properties = CommitProperties(
            custom_metadata=dict(metadata or {}),
            app_transactions=[Transaction(app_id=i, version=1) for i in ids],
        )
        write_deltalake(existing, frame, mode="append", schema_mode="merge", commit_properties=properties)
        return WriteResult(table, self.uri(table), frame.height, existing.version(), ids)

    def _open_or_create(
        self, table: TableRef, frame: pl.DataFrame, partition_by: Sequence[str] | None
    ) -> DeltaTable:
        """The table's latest snapshot; an empty table with `frame`'s schema is created first if
        needed, so that every data commit is made on a snapshot (and checked for conflicts)."""
        found = self.delta_table(table)
        if found is not None:
            return found
        try:
            write_deltalake(
                self.uri(table),
                frame.head(0),
                mode="ignore",
                partition_by=list(partition_by) if partition_by else None,
                storage_options=self.options(),
            )
        except (CommitFailedError, DeltaError) as exc:  # another writer created it first
            if not self.exists(table):
                raise RuntimeError(
                    f"could not create Delta table {table} at {self.uri(table)}: {exc}"
                ) from exc
        return DeltaTable(self.uri(table), storage_options=self.options())

    def replace_where(
        self,
        table: TableRef,
        frame: pl.DataFrame,
        predicate: str,
        *,
        partition_by: Sequence[str] | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> WriteResult:
        """Atomically replace the rows matching `predicate` (SQL) with `frame` (a recompute)."""
        existing = self.delta_table(table)
        write_deltalake(
            existing if existing is not None else self.uri(table),
            frame,
            mode="overwrite",
            predicate=predicate if existing is not None else None,
            partition_by=list(partition_by) if partition_by and existing is None else None,
            schema_mode="merge" if existing is not None else None,
            storage_options=None if existing is not None else self.options(),
            commit_properties=CommitProperties(custom_metadata=dict(metadata or {})),
        )
        return WriteResult(table, self.uri(table), frame.height, self.version(table))

    def overwrite(
        self, table: TableRef, frame: pl.DataFrame, *, metadata: Mapping[str, str] | None = None
    ) -> WriteResult:
        """Replace the whole table with `frame` in one commit (a state, not a history: earlier
        versions stay readable through Delta time travel until VACUUM)."""
        existing = self.delta_table(table)
        write_deltalake(
            existing if existing is not None else self.uri(table),
            frame,
            mode="overwrite",
            schema_mode="overwrite",
            storage_options=None if existing is not None else self.options(),
            commit_properties=CommitProperties(custom_metadata=dict(metadata or {})),
        )
        return WriteResult(table, self.uri(table), frame.height, self.version(table))

    def merge_new_rows(self, table: TableRef, frame: pl.DataFrame, keys: Sequence[str]) -> WriteResult:
        """Insert the rows of `frame` whose `keys` are not in the table yet (a Delta MERGE)."""
        existing = self.delta_table(table)
        if existing is None:
            return self.append(table, frame)
        predicate = " AND ".join(f"t.{k} = s.{k}" for k in keys)
        stats: dict[str, Any] = (
            existing.merge(frame, predicate, source_alias="s", target_alias="t")
            .when_not_matched_insert_all()
            .execute()
        )
        return WriteResult(
            table, self.uri(table), int(stats.get("num_target_rows_inserted", 0)), existing.version()
        )

    def committed_file_ids(self, table: TableRef, file_ids: Iterable[str]) -> set[str]:
        """Which of `file_ids` a commit of `table` has already recorded (see `append`)."""
        found = self.delta_table(table)
        if found is None:
            return set()
        return {i for i in file_ids if found.transaction_version(i) is not None}
