"""The one place that decides the environment: LOCAL (the default) or PROD.

Read lazily, when definitions are built or a CLI command starts, never at import time, so tests switch
environments by setting `MLOPS_ENV` and building the definitions again (no module reloads).
"""

from __future__ import annotations

import enum
import os
from pathlib import Path

__all__ = ["ENV_VAR", "HOME_VAR", "Environment", "current_environment", "local_home"]

ENV_VAR = "MLOPS_ENV"
HOME_VAR = "MLOPS_HOME"


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
