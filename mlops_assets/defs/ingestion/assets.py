"""The ingestion assets: landing files ▸ bronze ▸ silver + quarantine ▸ compliance. Thin wiring:
the work is in `mlops_assets.lake`."""

import datetime as dt
from collections.abc import Iterator
from typing import Any

import dagster as dg
import polars as pl

from edge_agent.contract import load_contract
from mlops_assets.defs.ingestion.catalog import (
    BRONZE_COLUMNS,
    COMPLIANCE_COLUMNS,
    GROUP,
    KINDS,
    OWNERS,
    QUARANTINE_COLUMNS,
    SILVER_COLUMNS,
)
from mlops_assets.lake.compliance import partition_compliance
from mlops_assets.lake.ingest import ingest_landing, refine_partition
from mlops_assets.lake.quality import duplicate_keys, schema_drift, silver_signals
from mlops_assets.lake.refine import TelemetryRefiner
from mlops_assets.lake.store import LakeStore
from mlops_assets.lake.tables import (
    PARTITION_COLUMNS,
    PAYLOAD_COMPLIANCE,
    QUARANTINED_MESSAGES,
    RAW_UNS_CAPTURES,
    VALIDATED_TELEMETRY,
    TableRef,
)
from mlops_assets.partitions import daily_line_partitions, day_and_line
from mlops_assets.resources import DataQualityResource, LakehouseResource, LandingResource

__all__ = ["payload_compliance", "raw_uns_captures", "validated_telemetry_and_quarantine"]


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _table_metadata(store: LakeStore, table: TableRef, rows: int, versions: list[int]) -> dict[str, Any]:
    return {
        "dagster/row_count": rows,
        "rows_written": rows,
        "table_uri": dg.MetadataValue.path(store.uri(table)),
        "delta_version": store.version(table),
        "delta_commits": len(versions),
    }


def _table(frame: pl.DataFrame) -> dg.TableMetadataValue:
    """`frame` (string and integer columns) as a table in the UI and in the metadata API."""
    columns = [
        dg.TableColumn(name, "string" if dtype == pl.String else "int")
        for name, dtype in frame.schema.items()
    ]
    return dg.MetadataValue.table(
        records=[dg.TableRecord(row) for row in frame.to_dicts()], schema=dg.TableSchema(columns=columns)
    )


@dg.asset(
    name=RAW_UNS_CAPTURES.name,
    group_name=GROUP,
    owners=OWNERS,
    kinds=KINDS,
    partitions_def=daily_line_partitions,
    description=(
        "Bronze: every message the edge agents captured, exactly as received (topic, channel "
        "parameters, payload bytes, receive time, agent) with its landing file id, including the "
        "messages the edge quarantined. Delta, partitioned by landing day and line. Each landing "
        "file is ingested exactly once (its id is recorded in the same Delta commit as its rows)."
    ),
    metadata={"dagster/column_schema": BRONZE_COLUMNS, "dagster/table_name": RAW_UNS_CAPTURES.name},
    check_specs=[
        dg.AssetCheckSpec(
            "landing_files_are_readable",
            asset=RAW_UNS_CAPTURES.name,
            description="Every landing file of the partition follows the landing format and could be read.",
        )
    ],
)
def raw_uns_captures(
    context: dg.AssetExecutionContext, lakehouse: LakehouseResource, landing: LandingResource
) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
    day, line = day_and_line(context.partition_key)
    store = lakehouse.store()
    outcome = ingest_landing(store, landing.zone(), day, line, now=_now())
    context.log.info(
        "%s %s: %d files ingested, %d already in bronze",
        day,
        line,
        len(outcome.ingested),
        len(outcome.already_ingested),
    )
    yield dg.MaterializeResult(
        metadata={
            **_table_metadata(store, RAW_UNS_CAPTURES, outcome.rows, outcome.versions),
            "files_ingested": len(outcome.ingested),
            "files_already_ingested": len(outcome.already_ingested),
        }
    )
    problems = {**outcome.unreadable, **{p: "not a landing file name" for p in outcome.not_landing_files}}
    yield dg.AssetCheckResult(
        check_name="landing_files_are_readable",
        passed=not outcome.unreadable,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={"unreadable_files": len(outcome.unreadable), "problems": dg.MetadataValue.json(problems)},
    )


@dg.multi_asset(
    name="validated_telemetry_and_quarantine",
    group_name=GROUP,
    partitions_def=daily_line_partitions,
    specs=[
        dg.AssetSpec(
            VALIDATED_TELEMETRY.name,
            deps=[RAW_UNS_CAPTURES.name],
            owners=OWNERS,
            kinds=KINDS,
            description=(
                "Silver: one row per sample of every valid telemetry batch, typed columns, one Float64 "
                "column per signal. Validated column-wise against the AsyncAPI payload schema; "
                "deduplicated on (enterprise, site, area, line, cell, seq). Delta, partitioned by the "
                "UTC day of `ts` and line."
            ),
            metadata={
                "dagster/column_schema": SILVER_COLUMNS,
                "dagster/table_name": VALIDATED_TELEMETRY.name,
            },
        ),
        dg.AssetSpec(
            QUARANTINED_MESSAGES.name,
            deps=[RAW_UNS_CAPTURES.name],
            owners=OWNERS,
            kinds=KINDS,
            description=(
                "Every message refused on its way to silver, with the stage that refused it (edge or "
                "lake), the kind, JSON path and reason, and the original payload. Per landing file: "
                "bronze rows = silver batches + quarantined rows (+ captured messages of other channels)."
            ),
            metadata={
                "dagster/column_schema": QUARANTINE_COLUMNS,
                "dagster/table_name": QUARANTINED_MESSAGES.name,
            },
        ),
    ],
    check_specs=[
        dg.AssetCheckSpec(
            "cell_seq_is_unique",
            asset=VALIDATED_TELEMETRY.name,
            description="No (cell, seq, sample_index) appears twice in the days this run wrote.",
        ),
        dg.AssetCheckSpec(
            "payload_schema_is_stable",
            asset=VALIDATED_TELEMETRY.name,
            description="No undeclared signal appeared for the first time, and every message used the current contract version.",
        ),
    ],
)
def validated_telemetry_and_quarantine(
    context: dg.AssetExecutionContext, lakehouse: LakehouseResource
) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
    day, line = day_and_line(context.partition_key)
    store = lakehouse.store()
    contract = load_contract()
    refiner = TelemetryRefiner(contract)
    signals_before = silver_signals(store)
    outcome = refine_partition(store, refiner, day, line, now=_now())
    reconciliation = outcome.reconciliation
    yield dg.MaterializeResult(
        asset_key=VALIDATED_TELEMETRY.name,
        metadata={
            **_table_metadata(store, VALIDATED_TELEMETRY, outcome.silver_rows, outcome.versions["silver"]),
            "files_refined": len(outcome.files),
            "valid_batches": int(reconciliation["silver_batches"].sum()) if reconciliation.height else 0,
            "signals": ", ".join(outcome.signals),
        },
    )
    yield dg.MaterializeResult(
        asset_key=QUARANTINED_MESSAGES.name,
        metadata={
            **_table_metadata(
                store, QUARANTINED_MESSAGES, outcome.quarantined_rows, outcome.versions["quarantine"]
            ),
            # Per file this run refined, including files an interrupted run had half done:
            # bronze_rows = silver_batches + quarantined + other_channel.
            "reconciliation": _table(reconciliation),
        },
    )
    written_days = {day}
    if outcome.silver_rows:
        written_days |= set(
            store.read(
                VALIDATED_TELEMETRY, line=line, where=pl.col("file_id").is_in(outcome.files), columns=["date"]
            )["date"]
            .unique()
            .to_list()
        )
    clashes = duplicate_keys(store, line, written_days)
    yield dg.AssetCheckResult(
        check_name="cell_seq_is_unique",
        asset_key=VALIDATED_TELEMETRY.name,
        passed=clashes.height == 0,
        metadata={
            "duplicate_keys": clashes.height,
            "days_checked": ", ".join(str(d) for d in sorted(written_days)),
        },
    )
    versions = store.read(RAW_UNS_CAPTURES, line=line, dates=[day], columns=["contract_version"])
    drift = schema_drift(
        outcome.signals,
        signals_before,
        refiner.validator.plan.maps[refiner.map_name].declared,
        versions["contract_version"].unique().to_list() if versions.height else [],
        contract.version,
    )
    yield dg.AssetCheckResult(
        check_name="payload_schema_is_stable",
        asset_key=VALIDATED_TELEMETRY.name,
        passed=not drift.drifted,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "new_undeclared_signals": ", ".join(drift.new_undeclared_signals) or "none",
            "contract_versions_seen": ", ".join(drift.contract_versions) or "none",
            "current_contract_version": drift.current_version,
        },
    )


@dg.asset(
    name=PAYLOAD_COMPLIANCE.name,
    group_name=GROUP,
    owners=OWNERS,
    kinds=KINDS,
    partitions_def=daily_line_partitions,
    deps=[RAW_UNS_CAPTURES.name, QUARANTINED_MESSAGES.name],
    description=(
        "Gold: per landing day, site, line, topic and contract version, how many messages arrived, "
        "how many were valid (share_valid), refused by the edge or the lake, duplicated, and the top "
        "failure reasons. Recomputed for the whole partition on every run (Delta replaceWhere)."
    ),
    metadata={"dagster/column_schema": COMPLIANCE_COLUMNS, "dagster/table_name": PAYLOAD_COMPLIANCE.name},
    check_specs=[
        dg.AssetCheckSpec(
            "compliance_above_threshold",
            asset=PAYLOAD_COMPLIANCE.name,
            description="Every topic's share of valid messages is at least data_quality.min_share_valid.",
        )
    ],
)
def payload_compliance(
    context: dg.AssetExecutionContext, lakehouse: LakehouseResource, data_quality: DataQualityResource
) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
    day, line = day_and_line(context.partition_key)
    store = lakehouse.store()
    rows = partition_compliance(store, day, line, computed_at=_now())
    predicate = f"date = '{day.isoformat()}' AND line = '{line.replace(chr(39), chr(39) * 2)}'"
    result = store.replace_where(PAYLOAD_COMPLIANCE, rows, predicate, partition_by=PARTITION_COLUMNS)
    messages = int(rows["messages"].sum()) if rows.height else 0
    valid = int(rows["valid"].sum()) if rows.height else 0
    overall = valid / messages if messages else 1.0
    yield dg.MaterializeResult(
        metadata={
            **_table_metadata(
                store, PAYLOAD_COMPLIANCE, result.rows, [result.version] if result.version is not None else []
            ),
            "messages": messages,
            "compliance": dg.MetadataValue.float(overall),
        }
    )
    below = rows.filter(pl.col("share_valid") < data_quality.min_share_valid)
    worst = float(rows["share_valid"].min()) if rows.height else 1.0  # type: ignore[arg-type]
    yield dg.AssetCheckResult(
        check_name="compliance_above_threshold",
        passed=below.height == 0,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={
            "threshold": data_quality.min_share_valid,
            "lowest_share_valid": worst,
            "topics_below": dg.MetadataValue.json(
                below.select("topic", "contract_version", "share_valid").to_dicts()
            ),
        },
    )
