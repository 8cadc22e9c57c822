"""The platform's shared resources, each a small interface with a local and a production class."""

from mlops_assets.resources.binding import platform_resources
from mlops_assets.resources.lakehouse import LakehouseResource, S3LakehouseResource
from mlops_assets.resources.landing import LandingResource, S3LandingResource
from mlops_assets.resources.quality import DataQualityResource

__all__ = [
    "DataQualityResource",
    "LakehouseResource",
    "LandingResource",
    "S3LakehouseResource",
    "S3LandingResource",
    "platform_resources",
]
