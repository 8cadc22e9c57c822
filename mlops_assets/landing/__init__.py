"""The landing zone as the lake reads it (plain logic, no Dagster)."""

from mlops_assets.landing.zone import (
    LandingFile,
    LandingListing,
    LandingZone,
    LocalLandingZone,
    S3LandingZone,
    landing_file_id,
    landing_zone,
    legacy_landing_file_id,
)

__all__ = [
    "LandingFile",
    "LandingListing",
    "LandingZone",
    "LocalLandingZone",
    "S3LandingZone",
    "landing_file_id",
    "landing_zone",
    "legacy_landing_file_id",
]
