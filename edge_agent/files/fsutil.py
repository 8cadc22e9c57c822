"""File operations shared by the edge packages: durable renames and directories, and file digests.

`file_sha256` is the one chunked SHA-256 of a file in `edge_agent` (the landing zone's read-back check
uses it; the model package's digests can too).
"""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Callable
from pathlib import Path

__all__ = ["file_sha256", "fsync_dir", "makedirs_durable", "replace_atomically", "temp_path_for"]


def fsync_dir(path: Path) -> None:
    """Make a rename or unlink in `path` durable."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def makedirs_durable(directory: Path) -> None:
    """mkdir -p, with each new directory's entry made durable in its parent."""
    missing: list[Path] = []
    probe = directory
    while not probe.exists():
        missing.append(probe)
        probe = probe.parent
    directory.mkdir(parents=True, exist_ok=True)
    for created in reversed(missing):
        fsync_dir(created.parent)


def temp_path_for(path: Path) -> Path:
    """A hidden sibling that no scan of finished files picks up."""
    return path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")


def replace_atomically(path: Path, write: Callable[[Path], None], *, fsync: bool = True) -> None:
    """Write through `write(temp_path)`, fsync, rename over `path`, fsync the directory.

    Readers see the old file or the new one, never a part; a crash leaves at most a hidden temp file.
    """
    temp = temp_path_for(path)
    try:
        write(temp)
        if fsync:
            fd = os.open(temp, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    if fsync:
        fsync_dir(path.parent)


def file_sha256(path: Path) -> tuple[str, int]:
    """(SHA-256 hex digest, size in bytes) of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size
