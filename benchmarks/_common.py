"""Shared helpers for the benchmarks: timing and a plain report format."""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Callable


def machine() -> str:
    return f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"


def best_of(repeats: int, run: Callable[[], int]) -> tuple[float, int]:
    """Best wall time over `repeats` runs of `run` (which returns the number of items it handled)."""
    best = float("inf")
    items = 0
    for _ in range(repeats):
        started = time.perf_counter()
        items = run()
        best = min(best, time.perf_counter() - started)
    return best, items


def row(name: str, value: float, unit: str, note: str = "") -> None:
    print(f"  {name:<48} {value:>14,.1f} {unit:<8} {note}")
