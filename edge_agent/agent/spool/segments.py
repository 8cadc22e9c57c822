"""One append-only spool of a kind (capture or quarantine): the active segment file and its recovery.

Files: `<spool>/segments/<kind>-<first_seq:012d>.seg` (`segment_format`). Only the writer thread touches
a `SegmentSpool`; its sequence numbers only grow, across restarts.
"""

from __future__ import annotations

import logging
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

from edge_agent.agent.messages import Message, SpoolKind
from edge_agent.agent.spool.digest_window import DigestWindow
from edge_agent.agent.spool.segment_format import encode_header, encode_record, scan
from edge_agent.agent.spool.usage import SpoolUsage
from edge_agent.files.fsutil import fsync_dir, replace_atomically

__all__ = ["RecoveryReport", "SegmentSpool", "list_segments"]

log = logging.getLogger(__name__)

_NAME = re.compile(r"^(capture|quarantine)-(\d{12})\.seg$")


def list_segments(directory: Path, kind: SpoolKind) -> list[tuple[int, Path]]:
    """(first seq, path) of the kind's segments, oldest first."""
    found: list[tuple[int, Path]] = []
    if not directory.is_dir():
        return found
    for path in directory.iterdir():
        match = _NAME.match(path.name)
        if match and match.group(1) == kind:
            found.append((int(match.group(2)), path))
    return sorted(found)


@dataclass
class RecoveryReport:
    kind: SpoolKind
    segments: int = 0
    records: int = 0
    torn_bytes: int = 0
    to_seal: list[Path] = field(default_factory=list)


class SegmentSpool:
    def __init__(
        self,
        directory: Path,
        kind: SpoolKind,
        *,
        agent: str,
        contract_version: str,
        segment_max_bytes: int,
        max_age_s: float,
        window_size: int,
        usage: SpoolUsage,
        fsync: bool = True,
    ) -> None:
        self.directory = directory
        self.kind = kind
        self.agent = agent
        self.contract_version = contract_version
        self.segment_max_bytes = segment_max_bytes
        self.max_age_s = max_age_s
        self.window = DigestWindow(window_size)
        self.usage = usage
        self.fsync = fsync
        self.next_seq = 1
        self._fd: int | None = None
        self._path: Path | None = None
        self._size = 0
        self._records = 0
        self._first_record_at = 0.0

    @property
    def active_path(self) -> Path | None:
        return self._path

    def recover(self) -> RecoveryReport:
        """Bring the spool back to a consistent state and open the active segment."""
        self.directory.mkdir(parents=True, exist_ok=True)
        for stale in self.directory.glob(f".{self.kind}-*.tmp"):
            stale.unlink()
        report = RecoveryReport(self.kind)
        empty: list[Path] = []
        for first_seq, path in list_segments(self.directory, self.kind):
            report.segments += 1
            data = path.read_bytes()
            result = scan(data)
            if result.torn_bytes:
                log.warning(
                    "cutting a torn tail of %d bytes from %s (a crash mid-write; never acknowledged)",
                    result.torn_bytes,
                    path.name,
                )
                with path.open("r+b") as handle:
                    handle.truncate(result.valid_length)
                    handle.flush()
                    os.fsync(handle.fileno())
                report.torn_bytes += result.torn_bytes
            if result.header is not None:
                self.window.extend(result.header.carried_digests)
            for record in result.records:
                self.window.add(record.digest)
                self.next_seq = max(self.next_seq, record.seq + 1)
            self.next_seq = max(self.next_seq, first_seq)
            report.records += len(result.records)
            (report.to_seal if result.records else empty).append(path)
        self._open(self.next_seq)
        for path in empty:
            if path != self._path:
                path.unlink()
        fsync_dir(self.directory)
        return report

    def _open(self, first_seq: int) -> None:
        path = self.directory / f"{self.kind}-{first_seq:012d}.seg"
        header = encode_header(self.agent, self.contract_version, self.window.snapshot())

        def write_header(temp: Path) -> None:
            temp.write_bytes(header)

        # Replacing an empty segment of the same name is safe: the new header carries a superset.
        replace_atomically(path, write_header, fsync=True)
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND)
        self._path = path
        self._size = len(header)
        self._records = 0
        self.usage.add(self.kind, len(header))

    def append(self, messages: list[Message]) -> None:
        """Assign sequence numbers and write the frames (not yet durable: call `sync`).

        On a write error the segment is cut back to where it was and the sequence numbers are reused,
        so a failed group leaves no trace; the caller retries it later.
        """
        if self._fd is None:
            raise RuntimeError("spool is not open: call recover() first")
        first = self.next_seq
        frames = []
        for seq, message in enumerate(messages, start=first):
            message.seq = seq
            frames.append(encode_record(seq, message))
        blob = b"".join(frames)
        offset = self._size
        try:
            view = memoryview(blob)
            while view:
                written = os.write(self._fd, view)
                view = view[written:]
        except OSError:
            os.ftruncate(self._fd, offset)
            raise
        if self._records == 0:
            self._first_record_at = time.monotonic()
        self.next_seq = first + len(messages)
        self._size += len(blob)
        self._records += len(messages)
        self.usage.add(self.kind, len(blob))

    def sync(self) -> None:
        if self.fsync and self._fd is not None:
            os.fdatasync(self._fd)

    def seconds_until_due(self, now: float) -> float:
        """How long until the active segment must be sealed by age (inf while it is empty)."""
        if self._records == 0:
            return float("inf")
        return max(0.0, self._first_record_at + self.max_age_s - now)

    def due(self, now: float) -> bool:
        return self._records > 0 and (
            self._size >= self.segment_max_bytes or now - self._first_record_at >= self.max_age_s
        )

    def rotate(self) -> Path | None:
        """Close the active segment (if it holds records) and open the next; returns the closed one."""
        if self._records == 0 or self._fd is None:
            return None
        closed = self._path
        os.close(self._fd)
        self._fd = None
        self._open(self.next_seq)
        return closed

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
