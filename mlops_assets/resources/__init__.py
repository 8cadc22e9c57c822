"""The platform's shared resources, each a small interface with a local and a production class."""

from mlops_assets.resources.binding import platform_resources
from mlops_assets.resources.lakehouse import LakehouseResource, S3LakehouseResource
from mlops_assets.resources.landing import LandingResource, S3LandingResource
from mlops_assets.resources.model_registry import ModelRegistryResource
from mlops_assets.resources.quality import DataQualityResource
from mlops_assets.resources.signer import SignerResource

__all__ = [
    "DataQualityResource",
    "LakehouseResource",
    "LandingResource",
    "ModelRegistryResource",
    "S3LakehouseResource",
    "S3LandingResource",
    "SignerResource",
    "platform_resources",
]
