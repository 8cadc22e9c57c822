"""A weld: one run of samples of a cell's signals, with what is known about it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

__all__ = ["Weld"]


@dataclass(frozen=True)
class Weld:
    """One weld's samples. `label` is None for a normal weld, else the defect's name."""

    weld_id: str
    start_ms: int
    sample_interval_ms: float
    signals: Mapping[str, np.ndarray]
    label: str | None = None
    recipe: str | None = None
    drifted: bool = False

    @property
    def n_samples(self) -> int:
        return len(next(iter(self.signals.values())))

    @property
    def duration_ms(self) -> float:
        return self.n_samples * self.sample_interval_ms
