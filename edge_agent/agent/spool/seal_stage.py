"""The seal stage: a thread that turns closed segments into landing files, then deletes the segments.

Sealing runs in a worker process (`spool.seal_mode: process`, `seal_worker`) or in this thread. Every
landing file of a segment is durable before the segment is deleted; a failure is retried with backoff.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable
from pathlib import Path

import orjson

from edge_agent.agent.backoff import jittered_backoff
from edge_agent.agent.messages import SpoolKind
from edge_agent.agent.pipeline.child_process import ChildProcess, WorkerGone
from edge_agent.agent.spool.seal import seal_segment
from edge_agent.agent.spool.usage import SpoolUsage
from edge_agent.agent.stats import Stats
from edge_agent.agent.supervision import FatalHandler, restart_worker, start_stage
from edge_agent.files.fsutil import fsync_dir

__all__ = ["SealStage"]

log = logging.getLogger(__name__)


class SealStage:
    def __init__(
        self,
        sealed_root: Path,
        *,
        tree_lock: threading.Lock,
        default_site: str,
        default_line: str,
        usage: SpoolUsage,
        stats: Stats,
        on_sealed: Callable[[], None],
        on_fatal: FatalHandler,
        fsync: bool = True,
        in_process: bool = True,
    ) -> None:
        self.sealed_root = sealed_root
        self.tree_lock = tree_lock
        self.default_site = default_site
        self.default_line = default_line
        self.usage = usage
        self.stats = stats
        self.on_sealed = on_sealed
        self.on_fatal = on_fatal
        self.fsync = fsync
        self._pending: deque[tuple[SpoolKind, Path]] = deque()
        self._cond = threading.Condition()
        self._busy = False
        self._stopping = False
        self._thread: threading.Thread | None = None
        self.worker = ChildProcess("edge_agent.agent.spool.seal_worker", [], "seal") if in_process else None

    def __len__(self) -> int:
        return len(self._pending) + int(self._busy)

    def submit(self, kind: SpoolKind, segment: Path) -> None:
        with self._cond:
            self._pending.append((kind, segment))
            self._cond.notify_all()

    def start(self) -> None:
        if self.worker is not None:
            self.worker.start()
        self._thread = start_stage("seal-stage", self._run, stats=self.stats, on_fatal=self.on_fatal)

    def wait_idle(self, timeout_s: float) -> bool:
        """True once every submitted segment is sealed."""
        with self._cond:
            return self._cond.wait_for(lambda: not self._pending and not self._busy, timeout_s)

    def stop(self, timeout_s: float) -> None:
        """Stop the thread, then its worker (a worker stopped first would be restarted by the thread)."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout_s)
            if self._thread.is_alive():
                log.error("the seal stage did not stop within %.1f s; stopping its worker anyway", timeout_s)
        if self.worker is not None:
            self.worker.stop()

    def _seal_files(self, kind: SpoolKind, segment: Path) -> list[tuple[Path, int, int]]:
        """(path, rows, bytes written) of each landing file of the segment."""
        if self.worker is None:
            files = seal_segment(
                segment,
                kind,
                self.sealed_root,
                default_site=self.default_site,
                default_line=self.default_line,
                fsync=self.fsync,
            )
            return [(f.path, f.rows, f.size) for f in files]
        request = {
            "segment": str(segment),
            "kind": kind,
            "sealed_root": str(self.sealed_root),
            "default_site": self.default_site,
            "default_line": self.default_line,
            "fsync": self.fsync,
        }
        reply = self.worker.call(orjson.dumps(request))
        if "error" in reply:
            raise OSError(f"seal worker: {reply['error']}")
        return [(Path(f["path"]), int(f["rows"]), int(f["size"])) for f in reply["files"]]

    def seal_now(self, kind: SpoolKind, segment: Path) -> int:
        """Seal one segment in the calling thread; returns the rows sealed. Raises on failure."""
        with self.tree_lock:  # the uploader prunes empty folders under the same lock
            files = self._seal_files(kind, segment)
            self.usage.add(kind, sum(size for _, _, size in files))
        size = segment.stat().st_size
        segment.unlink()
        if self.fsync:
            fsync_dir(segment.parent)
        self.usage.add(kind, -size)
        rows = sum(rows for _, rows, _ in files)
        self.stats.event("sealed_files", len(files))
        self.stats.event("sealed_rows", rows)
        log.info("sealed %s: %d rows in %d files", segment.name, rows, len(files))
        return rows

    def _run(self) -> None:
        failures = 0
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._stopping or bool(self._pending))
                if not self._pending:
                    return
                kind, segment = self._pending[0]
                self._busy = True
            try:
                self.seal_now(kind, segment)
            except Exception as exc:
                if self.worker is not None and isinstance(exc, WorkerGone):
                    if self._stopping:  # the segment stays on disk: sealed at the next start
                        with self._cond:
                            self._busy = False
                            self._cond.notify_all()
                        return
                    restart_worker(self.worker, stats=self.stats, event="seal_worker_restarts", cause=exc)
                failures += 1
                delay = jittered_backoff(failures - 1, 0.5, 30.0)
                self.stats.event("seal_failures")
                self.stats.error(f"sealing {segment.name} failed: {exc!r}; retrying in {delay:.1f} s")
                log.exception("sealing %s failed; retrying in %.1f s", segment.name, delay)
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()
                    if self._cond.wait_for(lambda: self._stopping, delay):
                        return
                continue
            failures = 0
            with self._cond:
                self._pending.popleft()
                self._busy = False
                self._cond.notify_all()
            self.on_sealed()
