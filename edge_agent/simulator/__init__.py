"""A welding line simulator for the UNS: synthetic GMAW cells and replays of real flash-butt welds."""

from edge_agent.simulator.line import LineConfig, WeldLine
from edge_agent.simulator.publisher import PublishReport, publish_line
from edge_agent.simulator.welds import (
    DRIFT_MATERIAL,
    MATERIALS,
    SIGNALS,
    AnomalyKind,
    OperatingPoint,
    SyntheticWeldGenerator,
)

__all__ = [
    "DRIFT_MATERIAL",
    "MATERIALS",
    "SIGNALS",
    "AnomalyKind",
    "LineConfig",
    "OperatingPoint",
    "PublishReport",
    "SyntheticWeldGenerator",
    "WeldLine",
    "publish_line",
]
