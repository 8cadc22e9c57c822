"""`landing`: the landing zone the edge agents upload to (a local folder, or `s3://` in production)."""

from __future__ import annotations

import dagster as dg
from pydantic import Field

from mlops_assets.landing.zone import LandingZone, LocalLandingZone, S3LandingZone
from mlops_assets.resources.s3 import S3Credentials

__all__ = ["LandingResource", "S3LandingResource"]


class LandingResource(dg.ConfigurableResource):
    """Sealed landing files under `root`; this class is the local-folder landing zone."""

    root: str = Field(default=".mlops/landing", description="Folder or s3://bucket/prefix.")

    def zone(self) -> LandingZone:
        return LocalLandingZone(self.root)


class S3LandingResource(S3Credentials, LandingResource):
    """The landing zone on S3, credentials from `S3Credentials`."""

    def zone(self) -> LandingZone:
        return S3LandingZone(self.root, self.storage_options())
