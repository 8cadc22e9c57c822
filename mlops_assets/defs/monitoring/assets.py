"""The monitoring tables: `edge_drift_reports` (drift landing files, per day and line) and
`edge_fleet_status` (the retained heartbeats, refreshed by declarative automation on a cron). Thin
wiring: the work is in `mlops_assets.ml.monitoring`."""

import datetime as dt
import time
from collections.abc import Iterator
from typing import Any

import dagster as dg
import polars as pl

from mlops_assets.defs.monitoring.catalog import (
    DRIFT_REPORTS_COLUMNS,
    FLEET_STATUS_COLUMNS,
    GROUP,
    KINDS,
    OWNERS,
)
from mlops_assets.defs.monitoring.resources import EdgeMonitoringResource
from mlops_assets.lake import EDGE_DRIFT_REPORTS
from mlops_assets.ml.monitoring.drift_ingest import ingest_drift_reports
from mlops_assets.ml.monitoring.fleet import (
    EDGE_FLEET_STATUS,
    HEARTBEAT_FILTER,
    Fleet,
    fleet_from_retained,
    fleet_status_frame,
)
from mlops_assets.ml.monitoring.settings import loop_timings_from_env
from mlops_assets.partitions import daily_line_partitions, day_and_line
from mlops_assets.resources import LakehouseResource, LandingResource
from mlops_assets.resources.uns import UnsResource

__all__ = ["agents_are_alive_metadata", "edge_drift_reports", "fleet_status_asset", "monitoring_assets"]

AGENTS_ARE_ALIVE = "agents_are_alive"


def _reports_markdown(reports: pl.DataFrame) -> str:
    lines = [
        "| report | created (UTC) | cells | drift share | drifted columns | HTML |",
        "|---|---|---|---|---|---|",
    ]
    for row in reports.sort("created_at").iter_rows(named=True):
        lines.append(
            f"| {row['report_id']} | {row['created_at']:%Y-%m-%d %H:%M:%S} | {', '.join(row['cells'])} "
            f"| {row['drift_share']:.2f}{' (drift)' if row['dataset_drift'] else ''} "
            f"| {', '.join(row['drifted_columns']) or '-'} | [report]({row['report_uri']}) |"
        )
    return "\n".join(lines)


@dg.asset(
    name=EDGE_DRIFT_REPORTS.name,
    group_name=GROUP,
    owners=OWNERS,
    kinds=KINDS,
    partitions_def=daily_line_partitions,
    description=(
        "Gold: one row per Evidently data-drift report of the edge agents (the line's feature windows "
        "against the model's reference profile): cells, span of windows, drift share, drifted columns "
        "with each column's test, model version, and a link to the HTML report in the landing zone. "
        "From the agents' `drift` landing files, each ingested exactly once (its id recorded in the "
        "same Delta commit). Delta, partitioned by the report's day and line."
    ),
    metadata={"dagster/column_schema": DRIFT_REPORTS_COLUMNS, "dagster/table_name": EDGE_DRIFT_REPORTS.name},
    check_specs=[
        dg.AssetCheckSpec(
            "drift_files_are_readable",
            asset=EDGE_DRIFT_REPORTS.name,
            description="Every drift landing file of the partition follows the landing format (DRIFT_SCHEMA).",
        ),
        dg.AssetCheckSpec(
            "drift_reports_have_their_html",
            asset=EDGE_DRIFT_REPORTS.name,
            description="Every report this run ingested has its HTML report beside it in the landing zone.",
        ),
    ],
)
def edge_drift_reports(
    context: dg.AssetExecutionContext, lakehouse: LakehouseResource, landing: LandingResource
) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
    day, line = day_and_line(context.partition_key)
    store = lakehouse.store()
    outcome = ingest_drift_reports(store, landing.zone(), day, line, now=dt.datetime.now(dt.UTC))
    reports = outcome.reports
    context.log.info(
        "%s %s: %d drift reports ingested, %d already there",
        day,
        line,
        reports.height,
        len(outcome.already_ingested),
    )
    metadata: dict[str, Any] = {
        "dagster/row_count": reports.height,
        "rows_written": reports.height,
        "reports_already_ingested": len(outcome.already_ingested),
        "table_uri": dg.MetadataValue.path(store.uri(EDGE_DRIFT_REPORTS)),
        "delta_version": store.version(EDGE_DRIFT_REPORTS),
    }
    if reports.height:
        newest = reports.sort("created_at").row(-1, named=True)
        metadata |= {
            "reports": dg.MetadataValue.md(_reports_markdown(reports)),
            "newest_report_id": newest["report_id"],
            "newest_drift_share": dg.MetadataValue.float(newest["drift_share"]),
            "newest_report": dg.MetadataValue.url(newest["report_uri"]),
            "max_drift_share": dg.MetadataValue.float(float(reports["drift_share"].max())),  # type: ignore[arg-type]
        }
    yield dg.MaterializeResult(metadata=metadata)
    yield dg.AssetCheckResult(
        check_name="drift_files_are_readable",
        passed=not outcome.unreadable,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={
            "unreadable_files": len(outcome.unreadable),
            "problems": dg.MetadataValue.json(outcome.unreadable),
        },
    )
    yield dg.AssetCheckResult(
        check_name="drift_reports_have_their_html",
        passed=not outcome.without_html,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={"missing_html": dg.MetadataValue.json(outcome.without_html)},
    )


def agents_are_alive_metadata(fleet: Fleet, stale_after_s: float) -> dict[str, Any]:
    """What `agents_are_alive` shows, from the asset and from `edge_fleet_sensor` alike."""
    return {
        "agents": len(fleet.agents),
        "alive": len(fleet.agents) - len(fleet.dead),
        "dead_agents": dg.MetadataValue.json({a.agent: f"{a.line}: {a.problem}" for a in fleet.dead}),
        "stale_after_s": stale_after_s,
        "ignored_heartbeats": dg.MetadataValue.json(fleet.refused),
    }


def fleet_status_asset(cron: str) -> dg.AssetsDefinition:
    """`edge_fleet_status`, refreshed by the automation at every tick of `cron` (not while a run of it
    is in progress); ValueError naming the variable for a bad cron."""
    try:
        refresh = dg.AutomationCondition.cron_tick_passed(cron) & ~dg.AutomationCondition.in_progress()
    except Exception as exc:  # Dagster's parameter check error, not a public class
        raise ValueError(f"MLOPS_FLEET_STATUS_CRON={cron!r} is not a cron expression: {exc}") from exc

    @dg.asset(
        name=EDGE_FLEET_STATUS.name,
        group_name=GROUP,
        owners=OWNERS,
        kinds=KINDS,
        description=(
            "Gold: the latest heartbeat of every edge agent, from the messages the UNS broker retains "
            "(an agent's Will replaces it with OFFLINE when the agent vanishes): status, liveness (OFFLINE "
            "or a stale heartbeat is dead), model served and desired, scoring, spool and upload backlog. "
            "Replaced as a whole at each materialisation; `edge_fleet_sensor` records every change as an "
            f"observation in between. Refreshed on the cron `{cron}` by declarative automation."
        ),
        metadata={
            "dagster/column_schema": FLEET_STATUS_COLUMNS,
            "dagster/table_name": EDGE_FLEET_STATUS.name,
        },
        automation_condition=refresh,
        check_specs=[
            dg.AssetCheckSpec(
                AGENTS_ARE_ALIVE,
                asset=EDGE_FLEET_STATUS.name,
                description="No agent's Will marked it OFFLINE and no heartbeat is stale (edge_monitoring).",
            )
        ],
    )
    def edge_fleet_status(
        context: dg.AssetExecutionContext,
        uns: UnsResource,
        lakehouse: LakehouseResource,
        edge_monitoring: EdgeMonitoringResource,
    ) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
        stale_after_s = edge_monitoring.heartbeat_stale_after_s
        retained = uns.read_retained([HEARTBEAT_FILTER])
        now = dt.datetime.now(dt.UTC)
        fleet = fleet_from_retained(retained, now_ms=int(time.time() * 1000), stale_after_s=stale_after_s)
        for topic, why in fleet.refused.items():
            context.log.warning("retained heartbeat on %s ignored: %s", topic, why)
        store = lakehouse.store()
        result = store.overwrite(EDGE_FLEET_STATUS, fleet_status_frame(fleet, now))
        yield dg.MaterializeResult(
            metadata={
                "dagster/row_count": result.rows,
                "agents": len(fleet.agents),
                "dead": len(fleet.dead),
                "fleet": dg.MetadataValue.md(
                    "\n".join(f"- {a.summary()}" for a in fleet.agents) or "no agent"
                ),
                "table_uri": dg.MetadataValue.path(store.uri(EDGE_FLEET_STATUS)),
                "delta_version": result.version,
            }
        )
        yield dg.AssetCheckResult(
            check_name=AGENTS_ARE_ALIVE,
            passed=not fleet.dead,
            severity=dg.AssetCheckSeverity.ERROR,
            metadata=agents_are_alive_metadata(fleet, stale_after_s),
        )

    return edge_fleet_status


@dg.definitions
def monitoring_assets() -> dg.Definitions:
    return dg.Definitions(
        assets=[edge_drift_reports, fleet_status_asset(loop_timings_from_env().fleet_status_cron)]
    )
