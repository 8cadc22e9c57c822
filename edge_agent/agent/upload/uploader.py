"""Store and forward: sealed files to the landing target, retrying with jittered backoff while unreachable.

A local file is deleted only after a verified put. Name conflicts go to `<spool>/conflicts/`, files that
cannot be read to `<spool>/corrupt/` (README: "Store and forward"); any other error stops the agent. A
drift report's companion (its HTML) is put before the report's Parquet file and goes where it goes.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from edge_agent.agent.backoff import jittered_backoff
from edge_agent.agent.messages import UNKNOWN_TOPIC_KEY
from edge_agent.agent.settings import LandingSettings
from edge_agent.agent.spool.sealed_backlog import PendingFile, SealedBacklog
from edge_agent.agent.stats import Stats
from edge_agent.agent.supervision import FatalHandler, start_stage
from edge_agent.agent.upload.targets import LandingConflict, LandingTarget
from edge_agent.files.fsutil import makedirs_durable
from edge_agent.files.landing_format import DRIFT_SCHEMA

__all__ = ["UNREADABLE_STRIKES", "Uploader"]

log = logging.getLogger(__name__)

UNREADABLE_STRIKES = 3


class _Undecodable(ValueError):
    """The bytes are there but are not a landing file."""


class _ReadFailed(Exception):
    """The operating system failed to open or read a sealed file (`cause`: its OSError)."""

    def __init__(self, cause: OSError) -> None:
        super().__init__(repr(cause))
        self.cause = cause


def _topic_counts(path: Path) -> Counter[str]:
    """Rows per counter key (topic, or `_unknown` outside the contract), counted by Arrow, not a row loop."""
    parquet = pq.ParquetFile(path)
    missing = {"topic", "parameters"} - set(parquet.schema_arrow.names)
    if missing:
        raise _Undecodable(f"not a landing file: no column {sorted(missing)}")
    table = parquet.read(columns=["topic", "parameters"])
    known = pc.is_valid(table.column("parameters"))
    counts: Counter[str] = Counter()
    for entry in pc.value_counts(table.column("topic").filter(known)).to_pylist():
        counts[entry["values"]] += entry["counts"]
    unknown = table.num_rows - pc.sum(known.cast("int64")).as_py() if table.num_rows else 0
    if unknown:
        counts[UNKNOWN_TOPIC_KEY] += unknown
    return counts


def _checked_drift_file(path: Path) -> Counter[str]:
    """A drift report counts no messages; its Parquet file must decode with the drift schema's columns."""
    missing = set(DRIFT_SCHEMA.names) - set(pq.read_schema(path).names)
    if missing:
        raise _Undecodable(f"not a drift landing file: no column {sorted(missing)}")
    return Counter()


def _free_name(target: Path) -> Path:
    """`target`, or `<stem>.<n><suffix>` when an earlier file set aside under that name is still there."""
    candidate, n = target, 0
    while candidate.exists():
        n += 1
        candidate = target.with_name(f"{target.stem}.{n}{target.suffix}")
    return candidate


class Uploader:
    def __init__(
        self,
        backlog: SealedBacklog,
        landing: LandingTarget,
        *,
        conflicts_dir: Path,
        corrupt_dir: Path,
        settings: LandingSettings,
        stats: Stats,
        on_fatal: FatalHandler,
        holds_back: Callable[[PendingFile], bool] | None = None,
    ) -> None:
        """`holds_back(file)`: not to be uploaded yet (capture files scoring may still read after a crash)."""
        self.backlog = backlog
        self.holds_back = holds_back
        self.landing = landing
        self.conflicts_dir = conflicts_dir
        self.corrupt_dir = corrupt_dir
        self.settings = settings
        self.stats = stats
        self.on_fatal = on_fatal
        self.available = True
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._failures = 0
        self._strikes: dict[Path, int] = {}  # failed reads in a row, per sealed file
        self._lock = threading.Lock()  # one upload pass at a time (the thread, or the final pass)

    def notify(self) -> None:
        self._wake.set()

    def start(self) -> None:
        self._thread = start_stage("uploader", self._run, stats=self.stats, on_fatal=self.on_fatal)

    def stop(self, timeout_s: float = 10.0) -> None:
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout_s)

    def _run(self) -> None:
        while not self._stopping.is_set():
            self._wake.clear()
            ok = self.upload_pass(deadline=None)
            if ok:
                self._wake.wait(self.settings.scan_interval_s)
                continue
            wait_s = jittered_backoff(self._failures, self.settings.retry_min_s, self.settings.retry_max_s)
            log.warning("upload pass to %s failed; next attempt in %.1f s", self.landing.url, wait_s)
            self._stopping.wait(wait_s)  # new files do not cut a backoff short

    def upload_pass(self, deadline: float | None) -> bool:
        """Upload every pending file, oldest first. False at the first failure (stop and back off), or
        when `deadline` (monotonic) passes, also while waiting for a pass of the thread to finish."""
        wait_s = -1.0 if deadline is None else max(0.0, deadline - time.monotonic())
        if not self._lock.acquire(timeout=wait_s):
            return False
        try:
            unreadable: list[tuple[PendingFile, OSError]] = []
            readable, complete = False, True
            for file in self.backlog.pending():
                if self.holds_back is not None and self.holds_back(file):
                    continue
                if self._stopping.is_set() and deadline is None:
                    break
                if deadline is not None and time.monotonic() >= deadline:
                    complete = False
                    break
                with self.backlog.claim(file):
                    try:
                        uploaded = self._upload_one(file)
                    except _ReadFailed as failed:  # judged with the whole pass (see top)
                        unreadable.append((file, failed.cause))
                        continue
                readable = True
                if not uploaded:
                    complete = False
                    break
            if unreadable and not readable:
                self._read_failure(unreadable)
                return False
            for failed_file, error in unreadable:
                with self.backlog.claim(failed_file):  # claimed again: `drop_oldest` may not take it now
                    self._strike(failed_file, error)
            return complete
        finally:
            self._lock.release()

    def _upload_one(self, file: PendingFile) -> bool:
        relative = file.key.relative_path
        try:
            counts = _checked_drift_file(file.path) if file.key.kind == "drift" else _topic_counts(file.path)
            if file.companion is not None and not file.companion.exists():
                raise _Undecodable(f"its companion {file.companion.name} is missing")
        except FileNotFoundError:
            return True  # dropped by the quarantine policy before we claimed it: nothing to upload
        except OSError as exc:
            if exc.errno is not None:
                raise _ReadFailed(exc) from exc  # the operating system's: `upload_pass` judges it
            return self._undecodable(file, exc)  # Arrow's decode errors are OSErrors without an errno
        except (_Undecodable, pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError) as exc:
            return self._undecodable(file, exc)
        self._strikes.pop(file.path, None)
        try:
            if file.companion is not None and file.key.companion_path is not None:
                self.landing.put(file.key.companion_path, file.companion)  # first: see the module's doc
            outcome = self.landing.put(relative, file.path)
        except LandingConflict as exc:
            self._set_aside(file, self.conflicts_dir, "upload_conflicts", f"landing conflict: {exc}")
            return True
        except Exception as exc:
            self._failures += 1
            self.available = False
            self.stats.event("upload_failures")
            self.stats.error(f"upload of {file.key.file_id} to {self.landing.url} failed: {exc!r}")
            return False
        if self.backlog.remove(file):
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

    def _undecodable(self, file: PendingFile, exc: Exception) -> bool:
        """Bytes that are not a landing file never will be: set aside at once; the pass goes on."""
        self._strikes.pop(file.path, None)
        self._set_aside(file, self.corrupt_dir, "unreadable_files", f"unreadable sealed file: {exc!r}")
        return True

    def _read_failure(self, unreadable: list[tuple[PendingFile, OSError]]) -> None:
        """No file of the pass could be read: the system, not the files; back off, strike nothing."""
        self._failures += 1
        self.stats.event("read_failures")
        exc = unreadable[0][1]
        self.stats.error(f"cannot read any sealed file ({len(unreadable)} tried; {exc!r}); retrying")
        log.warning("cannot read any sealed file (%d tried; %r); retrying", len(unreadable), exc)

    def _strike(self, file: PendingFile, exc: OSError) -> None:
        """This file failed while others of the same pass were read: set aside after repeated strikes."""
        strikes = self._strikes[file.path] = self._strikes.get(file.path, 0) + 1
        if strikes < UNREADABLE_STRIKES:
            self.stats.event("unreadable_retries")
            self.stats.error(f"cannot read sealed file {file.path} ({exc!r}); trying again next pass")
            log.warning("cannot read sealed file %s (%r); trying again next pass", file.path, exc)
            return
        del self._strikes[file.path]
        if not os.path.lexists(file.path):
            return  # dropped by the quarantine policy between our two claims (and counted there)
        self._set_aside(file, self.corrupt_dir, "unreadable_files", f"unreadable sealed file: {exc!r}")

    def _set_aside(self, file: PendingFile, folder: Path, event: str, reason: str) -> None:
        """Move the file out of the upload queue, keeping its bytes (and so its spool usage)."""
        target = folder / file.key.relative_path
        makedirs_durable(target.parent)
        target = _free_name(target)  # never replace an earlier file set aside under the same name
        companion = file.companion
        if companion is not None and companion.exists():  # first: the backlog lists only the Parquet file
            companion.replace(_free_name(target.with_name(companion.name)))
        file.path.replace(target)
        self.backlog.prune_empty_dirs(file.path.parent)
        self.stats.event(event)
        self.stats.error(f"{reason}; file kept in {target}")
        log.error("%s; kept the local file in %s", reason, target)
