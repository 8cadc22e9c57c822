"""The scoring checkpoint: how far scoring got in the capture sequence, and every cell's state there.

`<spool>/scoring/checkpoint` (a `state_codec` document, replaced atomically). Records captured after
`capture_seq` are scored again from the spool after a crash (`replay`), and until a checkpoint covers
them their sealed files are not uploaded (the upload fence), so that they are still there to read.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edge_agent.agent.scoring.state_codec import pack, unpack
from edge_agent.files.fsutil import makedirs_durable, replace_atomically

__all__ = ["Checkpoint", "CheckpointFile"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Checkpoint:
    capture_seq: int
    """Every captured record up to this one is scored (or was unscored, and counted)."""
    cells: dict[str, Any] = field(default_factory=dict)
    """The scoring worker's `snapshot()`."""


class CheckpointFile:
    def __init__(self, folder: Path, *, fsync: bool = True) -> None:
        self.folder = folder
        self.path = folder / "checkpoint"
        self.fsync = fsync

    def load(self) -> Checkpoint | None:
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return None
        try:
            document = unpack(raw)
            return Checkpoint(int(document["capture_seq"]), dict(document["cells"]))
        except (ValueError, KeyError, TypeError) as exc:
            # Written atomically, so only a bug or a foreign file gets here: start from scratch, loudly.
            log.error(
                "the scoring checkpoint %s is unreadable (%r): scoring starts without it", self.path, exc
            )
            return None

    def save(self, checkpoint: Checkpoint) -> None:
        raw = pack({"capture_seq": checkpoint.capture_seq, "cells": checkpoint.cells})

        def write(temp: Path) -> None:
            temp.write_bytes(raw)

        makedirs_durable(self.folder)
        replace_atomically(self.path, write, fsync=self.fsync)
