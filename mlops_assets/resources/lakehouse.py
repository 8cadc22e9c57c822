"""`lakehouse`: the Delta lake as a Dagster resource (a local folder, or `s3://` in production)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence

import dagster as dg
import polars as pl
from pydantic import Field

from mlops_assets.lake.store import LakeStore
from mlops_assets.lake.tables import VALIDATED_TELEMETRY, TableRef

__all__ = ["LakehouseResource", "S3LakehouseResource"]


class LakehouseResource(dg.ConfigurableResource):
    """Delta tables under `root` (`<root>/<layer>/<table>`); this class is the local-folder lake."""

    root: str = Field(default=".mlops/lake", description="Folder or s3://bucket/prefix of the lake.")

    def storage_options(self) -> dict[str, str]:
        """object_store options for deltalake and polars (none for a local folder)."""
        return {}

    def store(self) -> LakeStore:
        return LakeStore(self.root, self.storage_options())

    def table_uri(self, table: TableRef) -> str:
        return self.store().uri(table)

    def scan_table(self, table: TableRef) -> pl.LazyFrame:
        return self.store().scan(table)

    def read_table(
        self,
        table: TableRef,
        *,
        line: str | None = None,
        dates: Iterable[dt.date] | None = None,
        columns: Sequence[str] | None = None,
    ) -> pl.DataFrame:
        """Rows of `table` (pruned to a line and days when given); empty when the table is absent."""
        return self.store().read(table, line=line, dates=dates, columns=columns)

    def read_validated_telemetry(self, line: str, dates: Iterable[dt.date] | None = None) -> pl.DataFrame:
        """One line's silver telemetry, one row per sample, sorted by (cell, ts)."""
        frame = self.read_table(VALIDATED_TELEMETRY, line=line, dates=dates)
        return frame.sort("cell", "ts") if frame.height else frame


class S3LakehouseResource(LakehouseResource):
    """The lake on S3 (or any S3 API). Credentials come from `dg.EnvVar`s bound in production; a
    field left empty falls back to the process environment (instance roles, IRSA)."""

    aws_region: str | None = None
    aws_access_key_id: str | None = None
    aws_secret_access_key: str | None = None
    aws_session_token: str | None = None
    aws_endpoint_url: str | None = Field(default=None, description="Only for S3-compatible stores.")
    aws_allow_http: str | None = Field(default=None, description="'true' for a plain-HTTP endpoint.")

    def storage_options(self) -> dict[str, str]:
        values = {
            "AWS_REGION": self.aws_region,
            "AWS_ACCESS_KEY_ID": self.aws_access_key_id,
            "AWS_SECRET_ACCESS_KEY": self.aws_secret_access_key,
            "AWS_SESSION_TOKEN": self.aws_session_token,
            "AWS_ENDPOINT_URL": self.aws_endpoint_url,
            "AWS_ALLOW_HTTP": self.aws_allow_http,
        }
        return {k: v for k, v in values.items() if v}
