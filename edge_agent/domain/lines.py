"""Where a line sits in the ISA-95 hierarchy of the UNS."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["LineAddress"]


@dataclass(frozen=True)
class LineAddress:
    """Where a line sits in the ISA-95 hierarchy of the UNS."""

    enterprise: str = "acme"
    site: str = "plant-1"
    area: str = "body-shop"
    line: str = "line-1"

    def cell_topic(self, cell: str, data: str = "weld/telemetry") -> str:
        return f"{self.enterprise}/{self.site}/{self.area}/{self.line}/{cell}/{data}"

    @property
    def prefix(self) -> str:
        return f"{self.enterprise}/{self.site}/{self.area}/{self.line}"
