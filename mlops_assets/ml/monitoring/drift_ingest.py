"""Drift landing files of one (day, line) to `edge_drift_reports`, exactly once per file: each commit
records the ids of the files it holds as Delta application transactions (`mlops_assets.lake.commits`),
so a rerun, or a run racing another, adds nothing twice."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from mlops_assets.lake import EDGE_DRIFT_REPORTS, LakeStore
from mlops_assets.lake.commits import commit_files
from mlops_assets.landing.zone import LandingZone
from mlops_assets.ml.monitoring.drift_table import DRIFT_REPORTS_SCHEMA, DriftFileError, drift_report_rows

__all__ = ["DriftIngestOutcome", "html_link", "ingest_drift_reports"]

log = logging.getLogger(__name__)


@dataclass
class DriftIngestOutcome:
    ingested: list[str] = field(default_factory=list)
    already_ingested: list[str] = field(default_factory=list)
    unreadable: dict[str, str] = field(default_factory=dict)
    """file path -> why it could not be read."""
    without_html: list[str] = field(default_factory=list)
    """Reports ingested by this run whose HTML report is not beside them."""
    reports: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=DRIFT_REPORTS_SCHEMA))
    """The rows this run wrote."""
    version: int | None = None


def html_link(zone: LandingZone, relative: str) -> str:
    """A link to `relative` under the landing root: `s3://...`, or a `file://` URI for a local zone."""
    where = zone.uri_of(relative)
    return where if "://" in where else Path(where).as_uri()


def ingest_drift_reports(
    store: LakeStore, zone: LandingZone, day: dt.date, line: str, *, now: dt.datetime
) -> DriftIngestOutcome:
    """Append to `edge_drift_reports` every drift report of (day, line) it does not hold yet."""
    listing = zone.list(day=day, line=line)
    outcome = DriftIngestOutcome()
    done = store.committed_file_ids(EDGE_DRIFT_REPORTS, [f.file_id for f in listing.drift_files])
    outcome.already_ingested = sorted(done)
    frames, ids = [], []
    for file in listing.drift_files:
        if file.file_id in done:
            continue
        try:
            table = zone.read(file)
            html = f"{file.key.folder}/{table.column('html_file')[0].as_py()}" if table.num_rows else ""
            frames.append(drift_report_rows(table, file.key, html_uri=html_link(zone, html), ingested_at=now))
        except (
            DriftFileError,
            OSError,
            ValueError,
            KeyError,
        ) as exc:  # pyarrow's ArrowInvalid is a ValueError
            outcome.unreadable[file.key.relative_path] = f"{type(exc).__name__}: {exc}"
            log.error("drift file %s is unreadable: %s", file.uri, exc)
            continue
        ids.append(file.file_id)
        if html not in listing.companions:
            outcome.without_html.append(html)
    if ids:
        rows = pl.concat(frames)
        result = commit_files(
            store, EDGE_DRIFT_REPORTS, rows, ids, {"mlops.step": "landing_to_drift_reports"}
        )
        outcome.ingested = result.file_ids
        outcome.version = result.version
        outcome.reports = rows.filter(pl.col("file_id").is_in(result.file_ids))
    return outcome
