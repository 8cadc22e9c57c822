"""Results waiting for the broker, on disk: store-and-forward for scores, as the capture spool is for
data. Bounded: beyond `max_bytes` the oldest are dropped and counted (`dropped.score_outbox_full`)."""

from __future__ import annotations

import logging
import os
import struct
import threading
import zlib
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from edge_agent.files.fsutil import fsync_dir

__all__ = ["OutboxEntry", "ScoreOutbox"]

log = logging.getLogger(__name__)

_FRAME = struct.Struct("<II")
_BODY = struct.Struct("<qH")
_FILE_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class OutboxEntry:
    index: int
    capture_seq: int
    topic: str
    payload: bytes
    file_no: int

    @property
    def size(self) -> int:
        return _FRAME.size + _BODY.size + len(self.topic) + len(self.payload)


class ScoreOutbox:
    """Frames `u32 length | u32 crc32 | body` appended to `<spool>/outbox/<n>.outbox` (made durable by
    `sync`, before every scoring checkpoint); `unsent` hands them to the publisher, `confirm` forgets
    them once acknowledged, and a file whose entries are all confirmed is deleted. `recover` cuts a torn
    tail and queues every entry left again: a result may be published twice, with the same id."""

    def __init__(self, folder: Path, max_bytes: int, *, fsync: bool = True) -> None:
        self.folder = folder
        self.max_bytes = max_bytes
        self.fsync = fsync
        self.high_water = -1
        """The largest capture sequence with a result in the outbox (recovered ones included)."""
        self.dropped = 0
        self._lock = threading.Lock()
        self._entries: deque[OutboxEntry] = deque()
        self._sent: set[int] = set()
        self._confirmed: set[int] = set()
        self._bytes = 0
        self._next_index = 0
        self._file_no = 0
        self._file_bytes = 0
        self._handle: BinaryIO | None = None
        self._files: dict[int, int] = {}
        """Unconfirmed entries per file."""
        self.has_unsent = threading.Condition(self._lock)

    # --- files ---

    def _path(self, file_no: int) -> Path:
        return self.folder / f"{file_no:012d}.outbox"

    def recover(self) -> int:
        """Load what earlier runs left unconfirmed; returns the number of entries queued again."""
        self.folder.mkdir(parents=True, exist_ok=True)
        numbers = sorted(int(p.stem) for p in self.folder.glob("*.outbox") if p.stem.isdigit())
        for file_no in numbers:
            self._read_file(file_no)
        self._file_no = (numbers[-1] + 1) if numbers else 0
        return len(self._entries)

    def _read_file(self, file_no: int) -> None:
        path = self._path(file_no)
        data = path.read_bytes()
        pos, kept = 0, 0
        while pos + _FRAME.size <= len(data):
            length, crc = _FRAME.unpack_from(data, pos)
            body = data[pos + _FRAME.size : pos + _FRAME.size + length]
            if len(body) < length or zlib.crc32(body) != crc:
                break
            capture_seq, topic_len = _BODY.unpack_from(body, 0)
            topic = body[_BODY.size : _BODY.size + topic_len].decode()
            entry = OutboxEntry(self._next_index, capture_seq, topic, body[_BODY.size + topic_len :], file_no)
            self._next_index += 1
            self._entries.append(entry)
            self._bytes += entry.size
            self._files[file_no] = self._files.get(file_no, 0) + 1
            self.high_water = max(self.high_water, capture_seq)
            pos += _FRAME.size + length
            kept += 1
        if pos < len(data):
            log.warning("outbox %s: cut a torn tail of %d bytes", path.name, len(data) - pos)
            with path.open("r+b") as handle:
                handle.truncate(pos)
        if not kept:
            path.unlink()

    def _open_next(self) -> BinaryIO:
        self._close_current()
        self.folder.mkdir(parents=True, exist_ok=True)
        handle = self._handle = self._path(self._file_no).open("ab", buffering=0)
        self._file_bytes = 0
        if self.fsync:
            fsync_dir(self.folder)
        return handle

    def _close_current(self) -> None:
        handle = self._handle
        if handle is None:
            return
        handle.close()
        self._handle = None
        if not self._files.get(self._file_no):  # every entry of it already confirmed
            self._path(self._file_no).unlink(missing_ok=True)
        self._file_no += 1

    # --- producer side ---

    def append(self, items: list[tuple[int, str, bytes]]) -> None:
        """(capture_seq, topic, payload) results, in order; written, not yet durable (`sync`)."""
        if not items:
            return
        with self._lock:
            handle = self._handle
            if handle is None or self._file_bytes >= _FILE_BYTES:
                handle = self._open_next()
            frames = []
            for capture_seq, topic, payload in items:
                raw_topic = topic.encode()
                body = _BODY.pack(capture_seq, len(raw_topic)) + raw_topic + payload
                frames.append(_FRAME.pack(len(body), zlib.crc32(body)) + body)
                entry = OutboxEntry(self._next_index, capture_seq, topic, payload, self._file_no)
                self._next_index += 1
                self._entries.append(entry)
                self._bytes += entry.size
                self._files[self._file_no] = self._files.get(self._file_no, 0) + 1
                self.high_water = max(self.high_water, capture_seq)
            raw = b"".join(frames)
            handle.write(raw)
            self._file_bytes += len(raw)
            self._drop_over_bound()
            self.has_unsent.notify_all()

    def sync(self) -> None:
        with self._lock:
            if self._handle is not None and self.fsync:
                os.fdatasync(self._handle.fileno())

    def _drop_over_bound(self) -> None:
        while self._bytes > self.max_bytes and self._entries:
            entry = self._entries.popleft()
            self._forget(entry)
            self.dropped += 1

    # --- publisher side ---

    def unsent(self, limit: int, timeout_s: float) -> list[OutboxEntry]:
        """Up to `limit` entries not handed out yet, oldest first; waits up to `timeout_s` for one."""
        with self._lock:
            if not self._pending_locked():
                self.has_unsent.wait(timeout_s)
            out = []
            for entry in self._entries:
                if entry.index not in self._sent:
                    self._sent.add(entry.index)
                    out.append(entry)
                    if len(out) >= limit:
                        break
            return out

    def _pending_locked(self) -> bool:
        return len(self._sent) < len(self._entries)

    def retry(self, entries: list[OutboxEntry]) -> None:
        """Hand these out again (the connection dropped before the broker confirmed them)."""
        with self._lock:
            for entry in entries:
                self._sent.discard(entry.index)
            self.has_unsent.notify_all()

    def confirm(self, entries: list[OutboxEntry]) -> None:
        with self._lock:
            for entry in entries:
                self._confirmed.add(entry.index)
            while self._entries and self._entries[0].index in self._confirmed:
                self._forget(self._entries.popleft())

    def _forget(self, entry: OutboxEntry) -> None:
        self._bytes -= entry.size
        self._sent.discard(entry.index)
        self._confirmed.discard(entry.index)
        left = self._files[entry.file_no] - 1
        if left:
            self._files[entry.file_no] = left
            return
        del self._files[entry.file_no]
        if entry.file_no != self._file_no or self._handle is None:
            self._path(entry.file_no).unlink(missing_ok=True)

    @property
    def backlog(self) -> int:
        with self._lock:
            return len(self._entries)

    def close(self) -> None:
        with self._lock:
            self._close_current()
