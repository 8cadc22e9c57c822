"""The drift monitor's durable state, `<spool>/drift/state.json` (replaced atomically): the last report
number taken, so report ids keep increasing across restarts, and the summary the broker has not yet
confirmed, so that it is published after a restart too. An unreadable state (only a bug or a foreign
file: it is written atomically) is replaced, numbering going on from the current Unix time in seconds,
above any count this agent reached, so that no number is taken twice."""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from edge_agent.files.fsutil import makedirs_durable, replace_atomically

__all__ = ["DriftState", "DriftStateFile"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DriftState:
    last_seq: int = 0
    unpublished: bytes | None = None
    """The latest summary, until the broker confirmed it (retained: only the latest matters)."""


class DriftStateFile:
    def __init__(self, folder: Path, *, fsync: bool = True) -> None:
        self.folder = folder
        self.path = folder / "state.json"
        self.fsync = fsync

    def load(self) -> tuple[DriftState, str | None]:
        """The state, and what was wrong with the file when it could not be read (None when fine)."""
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return DriftState(), None
        try:
            document = json.loads(raw)
            unpublished = document.get("unpublished")
            state = DriftState(
                int(document["last_seq"]), unpublished.encode("utf-8") if unpublished is not None else None
            )
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            restart = int(time.time())
            problem = (
                f"the drift state {self.path} is unreadable ({exc!r}); report numbers go on from {restart}"
            )
            log.error("%s", problem)
            return DriftState(last_seq=restart), problem
        return state, None

    def save(self, state: DriftState) -> None:
        document = {
            "last_seq": state.last_seq,
            "unpublished": state.unpublished.decode("utf-8") if state.unpublished is not None else None,
        }
        raw = json.dumps(document).encode("utf-8")
        makedirs_durable(self.folder)
        replace_atomically(self.path, partial(_write, raw), fsync=self.fsync)


def _write(raw: bytes, temp: Path) -> None:
    temp.write_bytes(raw)
