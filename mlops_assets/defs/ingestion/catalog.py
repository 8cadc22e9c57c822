"""What the catalogue shows for the ingestion tables: descriptions, owners and column schemas."""

from __future__ import annotations

import dagster as dg
import polars as pl

from mlops_assets.lake.bronze import BRONZE_SCHEMA
from mlops_assets.lake.compliance import COMPLIANCE_SCHEMA
from mlops_assets.lake.refine import QUARANTINE_SCHEMA
from mlops_assets.lake.tables import SILVER_FIXED_SCHEMA

__all__ = ["GROUP", "KINDS", "OWNERS", "column_schema"]

GROUP = "ingestion"
OWNERS = ["team:data-platform"]
KINDS = {"deltalake", "polars"}

_DESCRIPTIONS = {
    "file_id": "Landing file the row came from: its path under the landing root (site/line/agent/day/name), or its bare file name on rows ingested before path ids; ingestion is idempotent by it.",
    "enterprise": "ISA-95 enterprise of the topic.",
    "site": "ISA-95 site (plant) of the topic.",
    "area": "ISA-95 area of the topic.",
    "cell": "Work cell (weld cell) of the topic.",
    "qos": "MQTT QoS the message was delivered with.",
    "retain": "Whether the broker delivered it as a retained message.",
    "edge_error_path": "JSON path the edge objected to (quarantine files only).",
    "edge_error_reason": "What the edge objected to (quarantine files only).",
    "quarantined_at": "When the row was quarantined (the ingestion run's time).",
    "sample_interval_ms": "Milliseconds between the batch's samples.",
    "weld_id": "The weld the batch belongs to (from the payload); null when the cell sends none.",
    "recipe": "Welding recipe (material and gauge) in force.",
    "quality": "OPC UA style quality of the batch: GOOD, UNCERTAIN or BAD.",
    "messages": "Messages received for the topic (bronze rows).",
    "valid": "Messages that passed every check (a redelivered duplicate counts: dropped, not refused).",
    "refused_by_edge": "Messages the edge agent quarantined.",
    "refused_by_lake": "Messages the lake's checks refused.",
    "duplicates": "Redelivered batches dropped by (cell, seq).",
    "computed_at": "When the row was computed.",
    "file_kind": "capture (passed the edge's checks) or quarantine (refused by the edge).",
    "agent": "Edge agent that captured the message.",
    "capture_seq": "The agent's capture sequence number (unique per agent).",
    "received_at": "When the edge received the message (UTC).",
    "topic": "MQTT topic as received.",
    "channel": "AsyncAPI channel the edge routed the topic to.",
    "parameters": "Every channel parameter of the topic, as JSON.",
    "payload": "The payload bytes as received.",
    "contract_version": "Version of the AsyncAPI contract the edge validated against.",
    "edge_error_kind": "Why the edge refused the message (quarantine files only).",
    "ingested_at": "When the lake ingested the landing file.",
    "date": "Partition: the landing day (UTC) for bronze and quarantine, the day of `ts` for silver.",
    "line": "Partition: the production line.",
    "seq": "Per-cell batch sequence number; (cell, seq) identifies a batch.",
    "sample_index": "Index of the sample within its batch.",
    "ts": "Sample time: timestamp_ms + sample_index * sample_interval_ms (UTC).",
    "stage": "edge (refused by the agent) or lake (refused by the lake's checks or a duplicate).",
    "error_kind": "not_json, schema, too_large, bad_parameter, unknown_topic or duplicate.",
    "error_path": "JSON path of the offending value, e.g. $.signals.current_a[3].",
    "error_reason": "What is wrong, with the offending value.",
    "share_valid": "valid / messages.",
    "top_failure_reasons": "The most frequent refusal reasons (values and indexes generalised).",
}


def _type_name(dtype: pl.DataType) -> str:
    return str(dtype).lower()


def column_schema(
    schema: dict[str, pl.DataType], extra: list[dg.TableColumn] | None = None
) -> dg.TableSchema:
    columns = [
        dg.TableColumn(name, _type_name(dtype), _DESCRIPTIONS.get(name)) for name, dtype in schema.items()
    ]
    return dg.TableSchema(columns=columns + (extra or []))


BRONZE_COLUMNS = column_schema(BRONZE_SCHEMA)
SILVER_COLUMNS = column_schema(
    SILVER_FIXED_SCHEMA,
    [
        dg.TableColumn(
            "<signal>",
            "float64",
            "One column per signal ever seen (current_a, voltage_v, ...); null where a batch lacks it.",
        )
    ],
)
QUARANTINE_COLUMNS = column_schema(QUARANTINE_SCHEMA)
COMPLIANCE_COLUMNS = column_schema(COMPLIANCE_SCHEMA)
