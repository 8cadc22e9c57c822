"""Drift files in a landing zone become `edge_drift_reports` rows through the landing sensor and
`drift_reports_job`, on a real Dagster instance and Delta lake: once per file, with the HTML link and
the checks; the same partition's `ingestion_job` leaves them out of bronze."""

from __future__ import annotations

import dagster as dg
import polars as pl

from edge_agent.domain import LineAddress
from mlops_assets.definitions import build_definitions
from mlops_assets.lake import EDGE_DRIFT_REPORTS, RAW_UNS_CAPTURES
from mlops_assets.lake.sql import run_sql
from tests.mlops_assets.conftest import START_MS, LocalLake
from tests.mlops_assets.defs.ingestion.runs import check_results, materialisations
from tests.mlops_assets.edge_reports import drift_report, write_drift_files
from tests.synthetic_landing import TopicPayload

ADDRESS = LineAddress()


def _tick(defs: dg.Definitions, instance: dg.DagsterInstance, cursor: str | None) -> dg.SensorResult:
    context = dg.build_sensor_context(instance=instance, cursor=cursor, resources=dict(defs.resources or {}))
    result = defs.resolve_sensor_def("landing_sensor")(context)
    assert isinstance(result, dg.SensorResult)
    for request in result.dynamic_partitions_requests or []:
        instance.add_dynamic_partitions(request.partitions_def_name, list(request.partition_keys or []))
    return result


def _launch(
    defs: dg.Definitions, instance: dg.DagsterInstance, request: dg.RunRequest
) -> dg.ExecuteInProcessResult:
    assert request.job_name is not None
    return defs.resolve_job_def(request.job_name).execute_in_process(
        instance=instance,
        partition_key=request.partition_key,
        tags={**request.tags, "dagster/run_key": request.run_key or ""},
    )


def test_drift_files_become_rows_once_with_their_html_and_never_bronze(
    lake: LocalLake, line_messages: list[TopicPayload]
) -> None:
    lake.land(line_messages[:100])
    reports = [
        drift_report(ADDRESS, "edge-line-1", n, START_MS + n * 60_000, share)
        for n, share in [(1, 0.25), (2, 1.0)]
    ]
    for report in reports:
        write_drift_files(lake.landing_root, report)
    defs = build_definitions()
    instance = dg.DagsterInstance.ephemeral(tempdir=str(lake.home / "dagster"))

    first = _tick(defs, instance, None)
    by_job = {r.job_name: r for r in first.run_requests or []}
    assert set(by_job) == {"ingestion_job", "drift_reports_job"}
    assert by_job["drift_reports_job"].partition_key == by_job["ingestion_job"].partition_key

    ingestion = _launch(defs, instance, by_job["ingestion_job"])
    bronze = lake.store.read(RAW_UNS_CAPTURES, columns=["file_id"])["file_id"].unique().to_list()
    assert ingestion.success and bronze and not any("/drift-" in f for f in bronze)
    result = _launch(defs, instance, by_job["drift_reports_job"])
    written = materialisations(result)["edge_drift_reports"]
    assert written["rows_written"] == 2 and written["newest_report_id"] == "edge-line-1:2"
    html = lake.landing_root / (reports[1].key.companion_path or "")
    assert written["newest_report"] == html.as_uri() and html.exists()
    assert f"[report]({html.as_uri()})" in written["reports"]
    checks = check_results(result)
    assert checks["drift_files_are_readable"][0] and checks["drift_reports_have_their_html"][0]

    again = _launch(defs, instance, by_job["drift_reports_job"])
    assert materialisations(again)["edge_drift_reports"]["rows_written"] == 0
    assert lake.store.read(EDGE_DRIFT_REPORTS).height == 2
    later = _tick(defs, instance, first.cursor)
    assert later.run_requests == [] and "no landing files to ingest" in (later.skip_reason or "")

    table = run_sql(lake.store, "SELECT report_id, drift_share, dataset_drift, report_uri FROM edge_drift_reports "
                    "WHERE line = 'line-1' AND array_contains(cells, 'cell-02') ORDER BY report_id")  # fmt: skip
    assert table.rows() == [
        ("edge-line-1:1", 0.25, False, (lake.landing_root / (reports[0].key.companion_path or "")).as_uri()),
        ("edge-line-1:2", 1.0, True, html.as_uri()),
    ]
    node = defs.resolve_asset_graph().get(dg.AssetKey("edge_drift_reports"))
    assert node.group_name == "monitoring" and node.partitions_def is not None
    assert lake.store.read(EDGE_DRIFT_REPORTS, where=pl.col("date").is_null()).height == 0
