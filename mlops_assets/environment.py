"""The one place that decides the environment: LOCAL (the default) or PROD.

Read lazily, when definitions are built or a CLI command starts, never at import time, so tests switch
environments by setting `MLOPS_ENV` and building the definitions again (no module reloads).
"""

from __future__ import annotations

import enum
import os
import shutil
from pathlib import Path

__all__ = [
    "ENV_VAR",
    "HOME_VAR",
    "LOCAL_INSTANCE_YAML",
    "Environment",
    "current_environment",
    "local_home",
    "prepare_local_instance",
]

ENV_VAR = "MLOPS_ENV"
HOME_VAR = "MLOPS_HOME"
LOCAL_INSTANCE_YAML = Path(__file__).with_name("local_instance.yaml")
"""The local Dagster instance's settings (the Makefile's `dev` target copies the same file)."""


class Environment(enum.StrEnum):
    LOCAL = "local"
    PROD = "prod"


def current_environment() -> Environment:
    """`MLOPS_ENV` (local when unset); an unknown value stops with a message naming the variable."""
    raw = os.environ.get(ENV_VAR, Environment.LOCAL.value).strip().lower()
    try:
        return Environment(raw)
    except ValueError:
        allowed = ", ".join(e.value for e in Environment)
        raise ValueError(f"{ENV_VAR}={raw!r} is not one of: {allowed}") from None


def local_home() -> Path:
    """Where LOCAL keeps everything: `$MLOPS_HOME`, else `./.mlops` (absolute, so runs agree on it)."""
    return Path(os.environ.get(HOME_VAR) or ".mlops").resolve()


def prepare_local_instance(dagster_home: Path) -> Path:
    """Create `dagster_home` with the local instance settings, unless it already has a `dagster.yaml`
    (a user's own settings are never overwritten). Returns the settings file."""
    dagster_home.mkdir(parents=True, exist_ok=True)
    settings = dagster_home / "dagster.yaml"
    if not settings.exists():
        shutil.copyfile(LOCAL_INSTANCE_YAML, settings)
    return settings
