"""Durable file operations: fsync a directory, replace a file atomically."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from pathlib import Path

__all__ = ["fsync_dir", "makedirs_durable", "replace_atomically", "temp_path_for"]


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
