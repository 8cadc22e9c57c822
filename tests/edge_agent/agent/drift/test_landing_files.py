"""A drift report's landing files: named with the report's number, the HTML companion written and
uploaded before the Parquet file, a Parquet file of `DRIFT_SCHEMA`, the waiting reports bounded; the
summary valid against the contract, leaving out what an older contract copy does not declare."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import orjson
import pyarrow.parquet as pq
import pytest

from edge_agent.agent.drift.landing_files import DriftFiles
from edge_agent.agent.drift.report import DRIFT_ADDED_FIELDS, DriftJob, DriftReport, summary_payload
from edge_agent.agent.settings import LandingSettings
from edge_agent.agent.spool.sealed_backlog import SealedBacklog
from edge_agent.agent.spool.usage import SpoolUsage
from edge_agent.agent.stats import Stats
from edge_agent.agent.upload.targets import LocalLandingTarget, PutOutcome
from edge_agent.agent.upload.uploader import Uploader
from edge_agent.contract import ContractValidator
from edge_agent.files.landing_format import (
    DRIFT_SCHEMA,
    drift_landing_key,
    parse_companion_key,
    parse_landing_key,
)

AGENT = "edge-test"
CREATED_MS = 1_763_744_400_000  # 2025-11-21 17:00 UTC
TOPIC = f"acme/plant-1/body-shop/line-1/_edge/{AGENT}/drift"


def make_report(seq: int, *, html_bytes: int = 5_000) -> DriftReport:
    job = DriftJob(
        model_version="7",
        package=Path("/nowhere"),
        spec="{}",
        windows=np.ones((3, 2), dtype=np.float32),
        start_ms=np.array([CREATED_MS - 9_000, CREATED_MS - 5_000, CREATED_MS - 3_000]),
        end_ms=np.array([CREATED_MS - 8_000, CREATED_MS - 4_000, CREATED_MS - 2_000]),
        cells=["cell-01", "cell-02"],
    )
    outcome = {
        "columns": {
            "current_a__mean": {"drifted": True, "method": "psi", "score": 1.4},
            "current_a__std": {"drifted": False, "method": "psi", "score": 0.05},
        },
        "drifted": 1,
        "share": 0.5,
        "reference_rows": 1505,
        "report_json": '{"metrics": []}',
        "html": np.frombuffer(b"<html>" + b"x" * html_bytes + b"</html>", dtype=np.uint8),
    }
    return DriftReport.from_outcome(
        agent=AGENT, seq=seq, created_ms=CREATED_MS + seq, job=job, threshold=0.25, outcome=outcome
    )


def drift_files(root: Path, stats: Stats, max_bytes: int = 1 << 30) -> DriftFiles:
    backlog = SealedBacklog(root / "sealed", SpoolUsage({"capture": 1 << 30, "quarantine": 1 << 30}), stats)
    return DriftFiles(
        backlog, site="plant-1", line="line-1", contract_version="1.2.0", max_bytes=max_bytes, stats=stats
    )


def write(files: DriftFiles, report: DriftReport) -> bytes:
    key = files.key(report)
    assert key.companion_path is not None
    summary = orjson.dumps(summary_payload(report, key.companion_path, declared=DRIFT_ADDED_FIELDS))
    files.write(report, summary)
    return summary


def test_drift_files_are_named_by_the_report_number_and_parse_back() -> None:
    key = drift_landing_key(site="plant-1", line="line-1", agent=AGENT, created_ms=CREATED_MS, report_seq=42)
    folder = f"plant-1/line-1/{AGENT}/2025-11-21"
    assert key.relative_path == f"{folder}/drift-{AGENT}-000000000042-000000000042.parquet"
    assert key.companion_path == f"{folder}/drift-{AGENT}-000000000042-000000000042.html"
    assert parse_landing_key(key.relative_path) == key
    assert parse_companion_key(key.companion_path) == key
    assert key.day == dt.date(2025, 11, 21)
    for not_a_companion in (key.relative_path, f"{folder}/capture-{AGENT}-000000000001-000000000009.html"):
        with pytest.raises(ValueError):
            parse_companion_key(not_a_companion)
    with pytest.raises(ValueError, match=r"not a \.parquet"):
        parse_landing_key(key.companion_path)
    with pytest.raises(ValueError, match="one report"):
        parse_landing_key(f"{folder}/drift-{AGENT}-000000000001-000000000002.parquet")


def test_the_parquet_file_holds_one_row_of_the_drift_schema_beside_its_html(
    tmp_path: Path, contract_validator: ContractValidator
) -> None:
    files = drift_files(tmp_path, Stats())
    report = make_report(3)
    summary = write(files, report)
    [pending] = files.backlog.pending()
    assert pending.key.kind == "drift" and pending.key.first_seq == 3 and pending.companion is not None
    assert pending.companion.read_bytes() == report.html
    table = pq.read_table(pending.path)
    assert table.schema.remove_metadata() == DRIFT_SCHEMA and table.num_rows == 1
    assert table.schema.metadata[b"uns.kind"] == b"drift" and table.schema.metadata[b"uns.first_seq"] == b"3"
    row = table.to_pylist()[0]
    assert (
        row["report_id"] == f"{AGENT}:3"
        and row["report_seq"] == 3
        and row["html_file"] == pending.companion.name
    )
    assert row["summary"].encode() == summary and row["cells"] == ["cell-01", "cell-02"]
    assert orjson.loads(row["column_drift"]) == report.column_drift
    assert (row["window_start_ms"], row["window_end_ms"]) == (CREATED_MS - 9_000, CREATED_MS - 2_000)
    assert contract_validator.check(TOPIC, summary).ok


def test_a_summary_leaves_out_the_fields_an_older_contract_does_not_declare(
    contract_validator: ContractValidator,
) -> None:
    report = make_report(1)
    older = summary_payload(report, "a/b/c/d/e.html", declared=())
    assert not set(DRIFT_ADDED_FIELDS) & set(older)
    assert older["dataset_drift"] is True and older["drift_share"] == 0.5  # share >= threshold 0.25
    assert contract_validator.check(TOPIC, orjson.dumps(older)).ok


def test_reports_beyond_the_backlog_bound_are_dropped_oldest_first_and_counted(tmp_path: Path) -> None:
    stats = Stats()
    files = drift_files(tmp_path, stats, max_bytes=250_000)
    for seq in (1, 2, 3):
        write(files, make_report(seq, html_bytes=100_000))
    kept = [f.key.first_seq for f in files.backlog.pending()]
    assert kept == [2, 3] and stats.dropped["drift_backlog_full"] == 1
    assert not list((tmp_path / "sealed").rglob("*000000000001.html"))  # the companion went with it


class RecordingTarget(LocalLandingTarget):
    """A real local landing directory that remembers the order of the puts."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.order: list[str] = []

    def put(self, relative_path: str, local: Path) -> PutOutcome:
        outcome = super().put(relative_path, local)
        self.order.append(relative_path.rsplit(".", 1)[1])
        return outcome


def uploader(files: DriftFiles, tmp_path: Path, target: LocalLandingTarget, stats: Stats) -> Uploader:
    return Uploader(
        files.backlog, target, conflicts_dir=tmp_path / "conflicts", corrupt_dir=tmp_path / "corrupt",
        settings=LandingSettings(), stats=stats, on_fatal=pytest.fail,
    )  # fmt: skip


def test_the_uploader_puts_the_html_before_the_parquet_file_and_removes_both(tmp_path: Path) -> None:
    stats = Stats()
    files = drift_files(tmp_path, stats)
    report = make_report(5)
    write(files, report)
    target = RecordingTarget(tmp_path / "landing")
    assert uploader(files, tmp_path, target, stats).upload_pass(deadline=None)
    assert target.order == ["html", "parquet"]
    key = files.key(report)
    assert key.companion_path is not None
    assert (tmp_path / "landing" / key.companion_path).read_bytes() == report.html
    assert pq.read_table(tmp_path / "landing" / key.relative_path).num_rows == 1
    assert files.backlog.pending() == [] and not list((tmp_path / "sealed").rglob("*.html"))


def test_a_drift_file_without_its_html_is_set_aside_not_uploaded(tmp_path: Path) -> None:
    stats = Stats()
    files = drift_files(tmp_path, stats)
    write(files, make_report(6))
    [pending] = files.backlog.pending()
    assert pending.companion is not None
    pending.companion.unlink()
    target = RecordingTarget(tmp_path / "landing")
    assert uploader(files, tmp_path, target, stats).upload_pass(deadline=None)
    assert target.order == [] and stats.events["unreadable_files"] == 1
    assert "companion" in (stats.last_error or "") and list((tmp_path / "corrupt").rglob("drift-*.parquet"))


def test_a_conflicting_html_sets_both_files_aside(tmp_path: Path) -> None:
    stats = Stats()
    files = drift_files(tmp_path, stats)
    report = make_report(7)
    write(files, report)
    key = files.key(report)
    assert key.companion_path is not None
    taken = tmp_path / "landing" / key.companion_path
    taken.parent.mkdir(parents=True)
    taken.write_bytes(b"someone else's report")
    assert uploader(files, tmp_path, RecordingTarget(tmp_path / "landing"), stats).upload_pass(deadline=None)
    assert (
        taken.read_bytes() == b"someone else's report"
        and not (tmp_path / "landing" / key.relative_path).exists()
    )
    kept = sorted(p.suffix for p in (tmp_path / "conflicts").rglob("drift-*"))
    assert kept == [".html", ".parquet"] and stats.events["upload_conflicts"] == 1


def test_an_html_left_without_its_parquet_file_is_removed_at_recovery(tmp_path: Path) -> None:
    files = drift_files(tmp_path, Stats())
    write(files, make_report(8))
    write(files, make_report(9))
    orphan, kept = files.backlog.pending()
    orphan.path.unlink()  # a crash between removing the two files after an upload
    assert files.backlog.remove_orphan_companions() == [orphan.companion]
    assert kept.companion is not None and kept.companion.exists() and files.backlog.pending() == [kept]
