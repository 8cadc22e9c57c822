"""A welding line simulator for the UNS: synthetic GMAW cells and replays of real flash-butt welds."""

from edge_agent.simulator.batching import TelemetryBatch, batch_weld
from edge_agent.simulator.flash_butt import (
    FlashButtRecord,
    flash_butt_records,
    iter_flash_butt,
    read_flash_butt,
)
from edge_agent.simulator.line import LineAddress, LineConfig, WeldLine
from edge_agent.simulator.publisher import PublishReport, SentBatch, publish_line
from edge_agent.simulator.welds import (
    DRIFT_MATERIAL,
    MATERIALS,
    SIGNALS,
    AnomalyKind,
    OperatingPoint,
    SyntheticWeldGenerator,
    Weld,
)

__all__ = [
    "DRIFT_MATERIAL",
    "MATERIALS",
    "SIGNALS",
    "AnomalyKind",
    "FlashButtRecord",
    "LineAddress",
    "LineConfig",
    "OperatingPoint",
    "PublishReport",
    "SentBatch",
    "SyntheticWeldGenerator",
    "TelemetryBatch",
    "Weld",
    "WeldLine",
    "batch_weld",
    "flash_butt_records",
    "iter_flash_butt",
    "publish_line",
    "read_flash_butt",
]
