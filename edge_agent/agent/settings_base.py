"""What every section of the agent's settings shares: unknown keys refused, values frozen."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

__all__ = ["MiB", "Section"]

MiB = 1 << 20


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
