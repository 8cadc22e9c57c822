"""The lake (plain logic, no Dagster): table names and layout, the Delta store, ingestion steps."""

from mlops_assets.lake.store import LakeStore, WriteResult
from mlops_assets.lake.tables import (
    EDGE_DRIFT_REPORTS,
    LAYERS,
    PARTITION_COLUMNS,
    PAYLOAD_COMPLIANCE,
    QUARANTINED_MESSAGES,
    RAW_UNS_CAPTURES,
    SILVER_FIXED_COLUMNS,
    SILVER_FIXED_SCHEMA,
    SILVER_UNIQUE_KEY,
    VALIDATED_TELEMETRY,
    TableRef,
    signal_columns,
)

__all__ = [
    "EDGE_DRIFT_REPORTS",
    "LAYERS",
    "PARTITION_COLUMNS",
    "PAYLOAD_COMPLIANCE",
    "QUARANTINED_MESSAGES",
    "RAW_UNS_CAPTURES",
    "SILVER_FIXED_COLUMNS",
    "SILVER_FIXED_SCHEMA",
    "SILVER_UNIQUE_KEY",
    "VALIDATED_TELEMETRY",
    "LakeStore",
    "TableRef",
    "WriteResult",
    "signal_columns",
]
