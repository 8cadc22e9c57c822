"""The sealed backlog: sealed files waiting for upload, in `<spool>/sealed/<landing relative path>`.

Whoever removes a file (the uploader, or a drop-oldest policy) does it here, so the spool usage stays
right; a file the uploader has `claim`ed is never dropped. A drift file's companion (its HTML report)
lies beside it and goes with it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pyarrow.parquet as pq

from edge_agent.agent.messages import SPOOL_KINDS
from edge_agent.agent.spool.usage import SpoolUsage
from edge_agent.agent.stats import Stats
from edge_agent.files.fsutil import fsync_dir
from edge_agent.files.landing_format import (
    COMPANION_SUFFIX,
    FileKind,
    LandingKey,
    parse_companion_key,
    parse_landing_key,
)

__all__ = ["PendingFile", "SealedBacklog"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PendingFile:
    path: Path
    key: LandingKey
    size: int

    @property
    def companion(self) -> Path | None:
        """Where the file's companion lies (a drift report's HTML), None for kinds without one."""
        name = self.key.companion_id
        return None if name is None else self.path.with_name(name)


class SealedBacklog:
    def __init__(self, root: Path, usage: SpoolUsage, stats: Stats, *, fsync: bool = True) -> None:
        self.root = root
        self.usage = usage
        self.stats = stats
        self.fsync = fsync
        self.tree_lock = threading.Lock()
        """Held while files are created in the tree and while empty folders are pruned from it."""
        self._claimed: set[Path] = set()
        self._claims_lock = threading.Lock()

    @contextlib.contextmanager
    def claim(self, file: PendingFile) -> Iterator[None]:
        """While held, `drop_oldest` leaves the file alone (it is being uploaded)."""
        with self._claims_lock:
            self._claimed.add(file.path)
        try:
            yield
        finally:
            with self._claims_lock:
                self._claimed.discard(file.path)

    def pending(self, kind: FileKind | None = None) -> list[PendingFile]:
        """Finished files, oldest capture sequence first (hidden temp files are not finished)."""
        found: list[PendingFile] = []
        if not self.root.is_dir():
            return found
        # os.walk, not rglob: folders pruned by an upload meanwhile are skipped, never an error.
        paths = (
            Path(folder) / name
            for folder, _, names in os.walk(self.root)
            for name in names
            if name.endswith(".parquet") and not name.startswith(".")
        )
        for path in paths:
            try:
                key = parse_landing_key(path.relative_to(self.root).as_posix())
                size = path.stat().st_size
            except FileNotFoundError:
                continue
            except ValueError as exc:
                log.error("ignoring a file that is not a landing file: %s (%s)", path, exc)
                continue
            if kind is None or key.kind == kind:
                found.append(PendingFile(path, key, size))
        found.sort(key=lambda f: (f.key.first_seq, f.key.kind, f.key.site, f.key.line))
        return found

    def remove(self, file: PendingFile) -> bool:
        """Delete a pending file (then its companion); False when someone else already did."""
        try:
            file.path.unlink()
        except FileNotFoundError:
            return False
        kind = file.key.kind
        if kind in SPOOL_KINDS:  # drift reports have a bound of their own (`drift.landing_files`)
            self.usage.add(kind, -file.size)
        if file.companion is not None:
            file.companion.unlink(missing_ok=True)
        if self.fsync:
            # a concurrent removal may have pruned the emptied folder: nothing left to make durable then
            with contextlib.suppress(FileNotFoundError):
                fsync_dir(file.path.parent)
        self.prune_empty_dirs(file.path.parent)
        return True

    def prune_empty_dirs(self, directory: Path) -> None:
        with self.tree_lock:
            while directory != self.root and directory.is_relative_to(self.root):
                try:
                    directory.rmdir()
                except OSError:
                    return  # not empty (or already gone): stop climbing
                directory = directory.parent

    def drop(self, file: PendingFile) -> bool:
        """Delete a pending file unless the uploader holds it; False when it did (or it is gone)."""
        with self._claims_lock:  # checked and removed at once: a claim cannot slip in between
            return file.path not in self._claimed and self.remove(file)

    def remove_orphan_companions(self) -> list[Path]:
        """Delete companions whose landing file is gone (a crash between removing the two after an
        upload, or between writing them); at start, before the uploader runs. Returns what went."""
        removed: list[Path] = []
        if not self.root.is_dir():
            return removed
        for folder, _, names in os.walk(self.root):
            for name in names:
                if not name.endswith(COMPANION_SUFFIX) or name.startswith("."):
                    continue
                path = Path(folder) / name
                try:
                    key = parse_companion_key(path.relative_to(self.root).as_posix())
                except ValueError:
                    continue
                if not path.with_name(key.file_id).exists():
                    path.unlink(missing_ok=True)
                    removed.append(path)
        return removed

    def drop_oldest(self, kind: FileKind, enough: Callable[[], bool]) -> int:
        """Delete the oldest pending files of `kind` until `enough()`; returns the rows dropped."""
        dropped_rows = 0
        for file in self.pending(kind):
            if enough():
                break
            try:
                rows = pq.read_metadata(file.path).num_rows
            except (OSError, ValueError):
                rows = 0
            if self.drop(file):
                dropped_rows += rows
                log.warning(
                    "spool full: dropped %s (%d rows) by the drop-oldest policy", file.path.name, rows
                )
        if dropped_rows:
            self.stats.drop(f"{kind}_spool_full", dropped_rows)
        return dropped_rows
