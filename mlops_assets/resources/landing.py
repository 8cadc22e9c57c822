"""`landing`: the landing zone the edge agents upload to (a local folder, or `s3://` in production)."""

from __future__ import annotations

import dagster as dg
from pydantic import Field

from mlops_assets.landing.zone import LandingZone, LocalLandingZone, S3LandingZone

__all__ = ["LandingResource", "S3LandingResource"]


class LandingResource(dg.ConfigurableResource):
    """Sealed landing files under `root`; this class is the local-folder landing zone."""

    root: str = Field(default=".mlops/landing", description="Folder or s3://bucket/prefix.")

    def zone(self) -> LandingZone:
        return LocalLandingZone(self.root)


class S3LandingResource(LandingResource):
    """The landing zone on S3; credentials as for `S3LakehouseResource`."""

    aws_region: str | None = None
    aws_access_key_id: str | None = None
    aws_secret_access_key: str | None = None
    aws_session_token: str | None = None
    aws_endpoint_url: str | None = None

    def zone(self) -> LandingZone:
        options = {
            "AWS_REGION": self.aws_region,
            "AWS_ACCESS_KEY_ID": self.aws_access_key_id,
            "AWS_SECRET_ACCESS_KEY": self.aws_secret_access_key,
            "AWS_SESSION_TOKEN": self.aws_session_token,
            "AWS_ENDPOINT_URL": self.aws_endpoint_url,
        }
        return S3LandingZone(self.root, {k: v for k, v in options.items() if v})
