"""Store-and-forward: sealed files to the landing zone, retrying with jittered backoff while unreachable.

A local file is deleted only after the landing zone confirmed it (a verified put, or the same bytes
already there). A name conflict (other bytes under the same name) is never overwritten: the file moves to
`<spool>/conflicts/` and is reported, for a human to look at.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections import Counter
from pathlib import Path

import pyarrow.compute as pc
import pyarrow.parquet as pq

from edge_agent.agent.fsutil import makedirs_durable
from edge_agent.agent.landing import LandingConflict, LandingZone
from edge_agent.agent.messages import UNKNOWN_TOPIC_KEY
from edge_agent.agent.sealed_store import PendingFile, SealedStore
from edge_agent.agent.settings import LandingSettings
from edge_agent.agent.stats import Stats

__all__ = ["Uploader"]

log = logging.getLogger(__name__)


def _topic_counts(path: Path) -> Counter[str]:
    """Rows per counter key (topic, or `_unknown` outside the contract), counted by Arrow, not a row loop."""
    table = pq.ParquetFile(path).read(columns=["topic", "parameters"])
    known = pc.is_valid(table.column("parameters"))
    counts: Counter[str] = Counter()
    for entry in pc.value_counts(table.column("topic").filter(known)).to_pylist():
        counts[entry["values"]] += entry["counts"]
    unknown = table.num_rows - pc.sum(known.cast("int64")).as_py() if table.num_rows else 0
    if unknown:
        counts[UNKNOWN_TOPIC_KEY] += unknown
    return counts


class Uploader:
    def __init__(
        self,
        store: SealedStore,
        landing: LandingZone,
        *,
        conflicts_dir: Path,
        settings: LandingSettings,
        stats: Stats,
    ) -> None:
        self.store = store
        self.landing = landing
        self.conflicts_dir = conflicts_dir
        self.settings = settings
        self.stats = stats
        self.available = True
        self.backlog_files = 0
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._failures = 0
        self._lock = threading.Lock()  # one upload pass at a time (the thread, or the final pass)

    def notify(self) -> None:
        self._wake.set()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="uploader", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 10.0) -> None:
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout_s)

    def _backoff_s(self) -> float:
        ceiling = min(self.settings.retry_max_s, self.settings.retry_min_s * 2 ** min(self._failures, 16))
        return random.uniform(self.settings.retry_min_s, max(self.settings.retry_min_s, ceiling))

    def _run(self) -> None:
        while not self._stopping.is_set():
            self._wake.clear()
            ok = self.upload_pass(deadline=None)
            if ok:
                self._wake.wait(self.settings.scan_interval_s)
                continue
            wait_s = self._backoff_s()
            log.warning("landing zone %s unreachable; next attempt in %.1f s", self.landing.url, wait_s)
            self._stopping.wait(wait_s)  # new files do not cut a backoff short

    def upload_pass(self, deadline: float | None) -> bool:
        """Upload every pending file, oldest first. False at the first failure (stop and back off)."""
        with self._lock:
            pending = self.store.pending()
            self.backlog_files = len(pending)
            for file in pending:
                if self._stopping.is_set() and deadline is None:
                    return True
                if deadline is not None and time.monotonic() >= deadline:
                    return False
                if not self._upload_one(file):
                    return False
                self.backlog_files -= 1
            return True

    def _upload_one(self, file: PendingFile) -> bool:
        relative = file.key.relative_path
        try:
            counts = _topic_counts(file.path)
            outcome = self.landing.put(relative, file.path)
        except FileNotFoundError:
            return True  # dropped by the quarantine policy meanwhile: nothing to upload
        except LandingConflict as exc:
            self._set_aside(file, str(exc))
            return True
        except Exception as exc:
            self._failures += 1
            self.available = False
            self.stats.event("upload_failures")
            self.stats.error(f"upload of {file.key.file_id} to {self.landing.url} failed: {exc!r}")
            return False
        if self.store.remove(file):
            self.stats.merge_topic_counts("uploaded", counts)
            self.stats.event("uploaded_files")
            self.stats.event("uploaded_rows", sum(counts.values()))
            self.stats.event("uploaded_bytes", file.size)
            if outcome == "already_there":
                self.stats.event("uploads_already_there")
        if not self.available:
            log.info("landing zone %s reachable again", self.landing.url)
        self._failures = 0
        self.available = True
        log.debug("uploaded %s (%s)", relative, outcome)
        return True

    def _set_aside(self, file: PendingFile, reason: str) -> None:
        target = self.conflicts_dir / file.key.relative_path
        makedirs_durable(target.parent)
        file.path.replace(target)  # the bytes stay on disk, so they stay counted in the spool usage
        self.store.prune_empty_dirs(file.path.parent)
        self.stats.event("upload_conflicts")
        self.stats.error(f"landing conflict, file kept in {target}: {reason}")
        log.error("landing conflict: %s; kept the local file in %s", reason, target)
