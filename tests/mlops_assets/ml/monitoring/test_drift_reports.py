"""Drift landing files in a real landing zone and Delta lake: listed apart from captures (never bronze),
ingested into `edge_drift_reports` once per file, queryable by line and cell, broken files named."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl

from edge_agent.domain import LineAddress
from mlops_assets.lake import EDGE_DRIFT_REPORTS, RAW_UNS_CAPTURES
from mlops_assets.lake.ingest import ingest_landing
from mlops_assets.lake.pending import scan_pending
from mlops_assets.lake.sql import run_sql
from mlops_assets.ml.monitoring.drift_ingest import ingest_drift_reports
from tests.mlops_assets.conftest import START_MS, LocalLake, day_of
from tests.mlops_assets.edge_reports import drift_report, write_drift_files
from tests.synthetic_landing import TopicPayload

ADDRESS = LineAddress()
DAY = dt.date(2025, 11, 21)
NOW = dt.datetime(2025, 11, 21, 12, tzinfo=dt.UTC)


def _reports(lake: LocalLake, shares: list[float], **kw: object) -> list[Path]:
    paths = []
    for n, share in enumerate(shares, start=1):
        report = drift_report(ADDRESS, "edge-line-1", n, START_MS + n * 60_000, share, **kw)  # type: ignore[arg-type]
        paths.append(Path(write_drift_files(lake.landing_root, report).relative_path))
    return paths


def test_drift_files_are_listed_apart_and_never_reach_bronze(
    lake: LocalLake, line_messages: list[TopicPayload]
) -> None:
    captures = lake.land(line_messages[:200])
    reports = _reports(lake, [0.25, 0.75])
    (lake.landing_root / "plant-1/line-1/edge-line-1/2025-11-21/notes.txt").write_text("not a landing file")

    listing = lake.zone.list(day=DAY)
    assert [f.key.kind for f in listing.files] == ["capture"] * len(captures)
    assert [f.key.relative_path for f in listing.drift_files] == [str(p) for p in reports]
    assert listing.companions == {str(p.with_suffix(".html")) for p in reports}
    assert listing.skipped == ["plant-1/line-1/edge-line-1/2025-11-21/notes.txt"]

    scan = scan_pending(lake.store, lake.zone, since=None)
    assert [p.file_ids for p in scan.drift_partitions] == [tuple(str(p) for p in reports)]
    assert [p.kind for p in scan.drift_partitions] == ["drift"]
    assert all("drift" not in f for p in scan.partitions for f in p.file_ids)
    assert scan.drift_partitions[0].pending_set != scan.partitions[0].pending_set

    outcome = ingest_landing(lake.store, lake.zone, day_of(captures), "line-1", now=NOW)
    assert not outcome.unreadable and outcome.not_landing_files == listing.skipped
    bronze_files = set(lake.store.read(RAW_UNS_CAPTURES, columns=["file_id"])["file_id"].to_list())
    assert bronze_files == {k.relative_path for k in captures}


def test_each_report_becomes_one_row_once_queryable_by_line_and_cell(lake: LocalLake) -> None:
    reports = _reports(lake, [0.25, 0.75, 1.0])
    elsewhere = drift_report(ADDRESS, "edge-line-1", 9, START_MS + 600_000, 0.5, cells=("cell-09",))
    write_drift_files(lake.landing_root, elsewhere)

    first = ingest_drift_reports(lake.store, lake.zone, DAY, "line-1", now=NOW)
    assert len(first.ingested) == 4 and first.reports.height == 4 and not first.unreadable
    assert not first.without_html
    again = ingest_drift_reports(lake.store, lake.zone, DAY, "line-1", now=NOW)
    assert again.ingested == [] and again.version is None and len(again.already_ingested) == 4
    assert lake.store.read(EDGE_DRIFT_REPORTS).height == 4
    assert scan_pending(lake.store, lake.zone, since=None).drift_partitions == []

    row = lake.store.read(EDGE_DRIFT_REPORTS, where=pl.col("report_id") == "edge-line-1:2").row(0, named=True)
    assert (row["line"], row["site"], row["date"], row["model_version"]) == ("line-1", "plant-1", DAY, "1")
    assert row["cells"] == ["cell-01", "cell-02"] and row["drift_share"] == 0.75 and row["dataset_drift"]
    assert row["drifted_columns"] == ["current_a__mean", "current_a__std", "voltage_v__mean"]
    assert row["created_at"] == dt.datetime.fromtimestamp((START_MS + 120_000) / 1000, tz=dt.UTC)
    html = lake.landing_root / reports[1].with_suffix(".html")
    assert row["report_uri"] == html.as_uri() and "edge-line-1:2" in html.read_text()

    per_cell = run_sql(
        lake.store,
        "SELECT report_id, drift_share FROM edge_drift_reports "
        "WHERE line = 'line-1' AND array_contains(cells, 'cell-09') ORDER BY created_at",
    )
    assert per_cell.rows() == [("edge-line-1:9", 0.5)]


def test_a_broken_drift_file_is_named_and_loses_nothing_else(lake: LocalLake) -> None:
    good = drift_report(ADDRESS, "edge-line-1", 1, START_MS + 60_000, 0.75)
    without_html = drift_report(ADDRESS, "edge-line-1", 2, START_MS + 120_000, 0.75)
    broken = drift_report(ADDRESS, "edge-line-1", 3, START_MS + 180_000, 0.75)
    write_drift_files(lake.landing_root, good)
    write_drift_files(lake.landing_root, without_html, html=False)
    write_drift_files(lake.landing_root, broken, drop="column_drift")

    outcome = ingest_drift_reports(lake.store, lake.zone, DAY, "line-1", now=NOW)
    assert sorted(outcome.ingested) == sorted([good.key.relative_path, without_html.key.relative_path])
    assert list(outcome.unreadable) == [broken.key.relative_path]
    assert "missing columns ['column_drift']" in outcome.unreadable[broken.key.relative_path]
    assert outcome.without_html == [without_html.key.companion_path]
    # the broken file stays pending: fixed (rewritten), it is ingested by the next run
    assert [p.file_ids for p in scan_pending(lake.store, lake.zone, since=None).drift_partitions] == [
        (broken.key.relative_path,)
    ]
    write_drift_files(lake.landing_root, broken)
    assert ingest_drift_reports(lake.store, lake.zone, DAY, "line-1", now=NOW).ingested == [
        broken.key.relative_path
    ]
    assert lake.store.read(EDGE_DRIFT_REPORTS).height == 3
