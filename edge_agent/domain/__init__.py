"""Shared domain types: welds, line addresses, telemetry batches and the flash-butt welding records.

Both the platform and the edge use them; they import only numpy (no MQTT, no agent runtime).
"""

from edge_agent.domain.batches import SentBatch, TelemetryBatch, batch_weld
from edge_agent.domain.flash_butt import FlashButtRecord, flash_butt_records, iter_flash_butt, read_flash_butt
from edge_agent.domain.lines import LineAddress
from edge_agent.domain.welds import Weld

__all__ = [
    "FlashButtRecord",
    "LineAddress",
    "SentBatch",
    "TelemetryBatch",
    "Weld",
    "batch_weld",
    "flash_butt_records",
    "iter_flash_butt",
    "read_flash_butt",
]
