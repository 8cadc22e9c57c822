"""The Dagster code location: every domain folder under `mlops_assets/defs/`, plus shared resources.

Only assembly happens here. Each folder of `defs/` is a domain and an asset group (`ingestion`,
`maintenance`, `training`, ...). The environment is read here, once, when Dagster loads this location
(never at import time), and every shared resource is bound for it (`mlops_assets.resources.binding`).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import dagster as dg

import mlops_assets.defs
from mlops_assets.environment import current_environment
from mlops_assets.resources import platform_resources

__all__ = ["build_definitions", "defs"]

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def build_definitions() -> dg.Definitions:
    """Load the domains and bind the shared resources for the current environment."""
    environment = current_environment()
    with warnings.catch_warnings():
        # Loading a defs folder module by module is marked "preview" in dagster 1.13 although it is
        # the layout Dagster's own docs recommend; nothing else is silenced.
        warnings.simplefilter("ignore", dg.PreviewWarning)
        domains = dg.ComponentTree.from_module(
            defs_module=mlops_assets.defs, project_root=PROJECT_ROOT
        ).build_defs()
    # Every job runs its steps in the run's own process: a step process per asset would start Python and
    # import torch, MLflow and polars again for each (most of a run's time on a small line), and the
    # chains are sequential anyway.
    policy = dg.Definitions(resources=platform_resources(environment), executor=dg.in_process_executor)
    return dg.Definitions.merge(domains, policy)


@dg.definitions
def defs() -> dg.Definitions:
    return build_definitions()
