"""Where a model comes from: the code's git commit (the data's version comes from Delta)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

__all__ = ["git_commit"]


def git_commit(cwd: Path | None = None) -> str:
    """HEAD of the repository holding this code, `+dirty` when it has local changes; `$GIT_COMMIT` in an
    image built without `.git`; `unknown` when neither exists."""
    if os.environ.get("GIT_COMMIT"):
        return os.environ["GIT_COMMIT"]
    where = cwd or Path(__file__).resolve().parents[2]
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=where, capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=where,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return f"{head}+dirty" if dirty else head
