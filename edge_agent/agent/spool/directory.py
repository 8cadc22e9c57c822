"""The spool folder: its layout, who owns it (one agent, by an exclusive lock), and its recovery at start.

    <spool>/lock, segments/, sealed/, conflicts/, corrupt/    (README: "How a message travels")

An agent that cannot take the lock touches nothing in the folder.
"""

from __future__ import annotations

import fcntl
import logging
import os
from collections.abc import Mapping
from pathlib import Path

from edge_agent.agent.messages import SpoolKind
from edge_agent.agent.spool.seal_stage import SealStage
from edge_agent.agent.spool.sealed_backlog import SealedBacklog
from edge_agent.agent.spool.segments import SegmentSpool, list_segments
from edge_agent.agent.spool.usage import SpoolUsage
from edge_agent.agent.stats import Stats

__all__ = ["SpoolDirectory", "SpoolInUse"]

log = logging.getLogger(__name__)


class SpoolInUse(RuntimeError):
    """Another agent holds the spool's lock."""


class SpoolDirectory:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.segments = root / "segments"
        self.sealed = root / "sealed"
        self.conflicts = root / "conflicts"
        self.corrupt = root / "corrupt"
        self._lock_fd: int | None = None

    @property
    def locked(self) -> bool:
        return self._lock_fd is not None

    def lock(self) -> None:
        """Take the folder for this agent, or raise `SpoolInUse` having touched nothing."""
        self.root.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.root / "lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise SpoolInUse(f"spool {self.root} is in use by another agent") from None
        self._lock_fd = fd

    def unlock(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def set_aside_files(self, kind: SpoolKind) -> list[Path]:
        """Files of `kind` kept in `conflicts/` and `corrupt/` (they still count against the spool)."""
        return [
            p
            for folder in (self.conflicts, self.corrupt)
            if folder.is_dir()
            for p in folder.rglob(f"{kind}-*")
        ]

    def recover(
        self,
        spools: Mapping[SpoolKind, SegmentSpool],
        *,
        seal_stage: SealStage,
        backlog: SealedBacklog,
        usage: SpoolUsage,
        stats: Stats,
    ) -> None:
        """Make the folder consistent after whatever happened last (crash, kill -9, power loss)."""
        if not self.locked:
            raise RuntimeError("recover() before lock()")
        if self.sealed.is_dir():
            for temp in self.sealed.rglob(".*.tmp"):  # a sealing cut short: the segment is sealed again
                temp.unlink()
            for orphan in backlog.remove_orphan_companions():
                log.warning("removed %s: its landing file is gone (uploaded, or never written)", orphan)
        for kind, spool in spools.items():
            report = spool.recover()
            for segment in report.to_seal:
                seal_stage.submit(kind, segment)
            files = [p for _, p in list_segments(self.segments, kind)]
            files += [f.path for f in backlog.pending(kind)]
            usage.rescan(kind, files + self.set_aside_files(kind))
            if report.segments:
                log.info(
                    "recovered the %s spool: %d segments, %d records to seal, %d torn bytes cut, next seq %d",
                    kind,
                    report.segments,
                    report.records,
                    report.torn_bytes,
                    spool.next_seq,
                )
            if report.torn_bytes:
                stats.event("recovered_torn_bytes", report.torn_bytes)
