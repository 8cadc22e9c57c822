"""A drift report's two landing files, written into the sealed backlog for the uploader: Evidently's
HTML report (the companion) first, then the one-row Parquet file (`DRIFT_SCHEMA`), each atomically, so
that a listed drift file always has its HTML beside it.

The reports waiting for upload are bounded (`drift.backlog_max_bytes`): beyond it the oldest reports are
dropped and counted (`dropped.drift_backlog_full`); they are derived data, the telemetry is captured.
"""

from __future__ import annotations

import logging
from functools import partial
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from edge_agent.agent.drift.report import DriftReport, landing_row
from edge_agent.agent.spool.sealed_backlog import SealedBacklog
from edge_agent.agent.stats import Stats
from edge_agent.files.fsutil import makedirs_durable, replace_atomically
from edge_agent.files.landing_format import DRIFT_SCHEMA, LandingKey, drift_landing_key

__all__ = ["DriftFiles"]

log = logging.getLogger(__name__)


class DriftFiles:
    def __init__(
        self,
        backlog: SealedBacklog,
        *,
        site: str,
        line: str,
        contract_version: str,
        max_bytes: int,
        stats: Stats,
        fsync: bool = True,
    ) -> None:
        self.backlog = backlog
        self.site = site
        self.line = line
        self.contract_version = contract_version
        self.max_bytes = max_bytes
        self.stats = stats
        self.fsync = fsync

    def key(self, report: DriftReport) -> LandingKey:
        return drift_landing_key(
            site=self.site,
            line=self.line,
            agent=report.agent,
            created_ms=report.created_ms,
            report_seq=report.seq,
        )

    def write(self, report: DriftReport, summary: bytes) -> LandingKey:
        """Both files of `report` in the backlog (the HTML first); then the backlog's bound is applied."""
        key = self.key(report)
        assert key.companion_id is not None
        parquet = self.backlog.root / key.relative_path
        html = parquet.with_name(key.companion_id)
        table = pa.Table.from_pylist([landing_row(report, summary, key.companion_id)], schema=DRIFT_SCHEMA)
        table = table.replace_schema_metadata(
            {
                "uns.kind": "drift",
                "uns.agent": report.agent,
                "uns.contract_version": self.contract_version,
                "uns.first_seq": str(report.seq),
                "uns.last_seq": str(report.seq),
                "uns.rows": "1",
            }
        )
        with self.backlog.tree_lock:  # no empty folder is pruned under us meanwhile
            makedirs_durable(parquet.parent)
            replace_atomically(html, partial(_write_bytes, report.html), fsync=self.fsync)
            replace_atomically(
                parquet, lambda temp: pq.write_table(table, temp, compression="zstd"), fsync=self.fsync
            )
        self._bound()
        return key

    def _bound(self) -> None:
        """Drop the oldest reports waiting for upload while they hold more than `max_bytes`."""
        pending = self.backlog.pending("drift")
        sizes = {file.path: file.size + _size(file.companion) for file in pending}
        held = sum(sizes.values())
        for file in pending[:-1]:  # the newest report always stays
            if held <= self.max_bytes:
                return
            if self.backlog.drop(file):
                held -= sizes[file.path]
                self.stats.drop("drift_backlog_full")
                log.warning("drift reports waiting for upload exceed %d bytes: dropped %s", self.max_bytes,
                            file.key.file_id)  # fmt: skip


def _write_bytes(raw: bytes, temp: Path) -> None:
    temp.write_bytes(raw)


def _size(path: Path | None) -> int:
    if path is None:
        return 0
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0
