"""`lakehouse`: the Delta lake as a Dagster resource (a local folder, or `s3://` in production)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence

import dagster as dg
import polars as pl
from pydantic import Field

from mlops_assets.lake.store import LakeStore
from mlops_assets.lake.tables import VALIDATED_TELEMETRY, TableRef
from mlops_assets.resources.s3 import S3Credentials

__all__ = ["LakehouseResource", "S3LakehouseResource"]


class LakehouseResource(dg.ConfigurableResource):
    """Delta tables under `root` (`<root>/<layer>/<table>`); this class is the local-folder lake."""

    root: str = Field(default=".mlops/lake", description="Folder or s3://bucket/prefix of the lake.")

    def storage_options(self) -> dict[str, str]:
        """object_store options for deltalake and polars (none for a local folder)."""
        return {}

    def store(self) -> LakeStore:
        return LakeStore(self.root, self.storage_options())

    def read_table(
        self,
        table: TableRef,
        *,
        line: str | None = None,
        dates: Iterable[dt.date] | None = None,
        columns: Sequence[str] | None = None,
        version: int | None = None,
    ) -> pl.DataFrame:
        """Rows of `table` (pruned to a line and days when given) at its latest version or at
        `version`; empty when the table is absent."""
        return self.store().read(table, line=line, dates=dates, columns=columns, version=version)

    def read_validated_telemetry(
        self, line: str, dates: Iterable[dt.date] | None = None, *, version: int | None = None
    ) -> pl.DataFrame:
        """One line's silver telemetry, one row per sample, sorted by (cell, ts). Read the version
        first (`store().version(VALIDATED_TELEMETRY)`) and pass it here to record what was read."""
        frame = self.read_table(VALIDATED_TELEMETRY, line=line, dates=dates, version=version)
        return frame.sort("cell", "ts") if frame.height else frame


class S3LakehouseResource(S3Credentials, LakehouseResource):
    """The lake on S3 (or any S3 API); `storage_options` come from `S3Credentials`."""
