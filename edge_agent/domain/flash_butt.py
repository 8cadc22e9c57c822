"""Real flash-butt welding records (../shared/data/flash_butt_welding) as welds: one file per weld,
labelled by its folder (`good/`, `bad/`).
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edge_agent.domain.welds import Weld

__all__ = [
    "FLASH_BUTT_SIGNALS",
    "FlashButtRecord",
    "default_flash_butt_dir",
    "flash_butt_records",
    "read_flash_butt",
]

# The files have no header, `|`-separated, one row per 0.1 s. Column 0 is time, 1 voltage, 2 current,
# 3 electrode position; 4 and 5 are an undocumented signal (equal), 6 looks like a process phase, 7 is
# constant. We keep voltage, current, electrode position, column 4 and the phase.
FLASH_BUTT_SIGNALS = {
    1: "voltage_v",
    2: "current_a",
    3: "electrode_position_mm",
    4: "aux_signal_4",
    6: "process_phase",
}
SAMPLE_INTERVAL_MS = 100.0


def shared_data_dir() -> Path:
    """The public datasets: `$UNS_SHARED_DATA` when set, else `../shared/data` seen from the repository root."""
    override = os.environ.get("UNS_SHARED_DATA")
    return Path(override) if override else Path(__file__).resolve().parents[3] / "shared" / "data"


def default_flash_butt_dir() -> Path:
    return shared_data_dir() / "flash_butt_welding"


@dataclass(frozen=True)
class FlashButtRecord:
    path: Path
    good: bool

    @property
    def acquired_at(self) -> dt.datetime:
        """`2011412 02923` -> 2011-04-12 00:29:23: one-digit month, the day after it; time [h]hmmss.

        The names are not zero-padded, so sorting by name is not chronological (April 11-13 would come
        before April 2-4)."""
        day, clock = self.path.stem.split(" ")[:2]
        clock = clock.zfill(6)
        return dt.datetime(
            int(day[:4]), int(day[4]), int(day[5:]), int(clock[:2]), int(clock[2:4]), int(clock[4:6])
        )

    @property
    def weld_id(self) -> str:
        return "fb-" + re.sub(r"[^A-Za-z0-9]+", "-", self.path.stem).strip("-").lower()


def flash_butt_records(root: Path | None = None) -> list[FlashButtRecord]:
    """Distinct records, in acquisition order; raises when the folder is missing.

    Four records (`2011412 225559`, `51208`, `51349`, `63447`) lie byte for byte in both `good/` and
    `bad/`. A weld somebody judged bad is not a good weld, so each keeps only its `bad/` copy: 2,046
    distinct welds, 1,996 good and 50 bad."""
    root = root or default_flash_butt_dir()
    if not (root / "good").is_dir() or not (root / "bad").is_dir():
        raise FileNotFoundError(f"flash-butt welding data not found under {root} (expected good/ and bad/)")
    bad = [FlashButtRecord(p, False) for p in (root / "bad").iterdir() if p.is_file()]
    bad_ids = {r.weld_id for r in bad}
    good = [FlashButtRecord(p, True) for p in (root / "good").iterdir() if p.is_file()]
    records = [r for r in good if r.weld_id not in bad_ids] + bad
    return sorted(records, key=lambda r: (r.acquired_at, r.path.name))


def read_flash_butt(record: FlashButtRecord, start_ms: int = 0) -> Weld:
    table = np.loadtxt(record.path, delimiter="|", dtype=np.float64, ndmin=2)
    if table.shape[1] < 7:
        raise ValueError(f"{record.path}: expected at least 7 columns, found {table.shape[1]}")
    signals = {name: np.ascontiguousarray(table[:, col]) for col, name in FLASH_BUTT_SIGNALS.items()}
    return Weld(
        weld_id=record.weld_id,
        start_ms=start_ms,
        sample_interval_ms=SAMPLE_INTERVAL_MS,
        signals=signals,
        label=None if record.good else "bad_weld",
    )


def iter_flash_butt(
    records: Sequence[FlashButtRecord], start_ms: int, gap_ms: float = 2000.0
) -> Iterator[Weld]:
    """Welds one after another on a simulated clock, `gap_ms` apart."""
    clock = float(start_ms)
    for record in records:
        weld = read_flash_butt(record, int(clock))
        yield weld
        clock += weld.duration_ms + gap_ms
