"""A cell's alert state with hysteresis, so that a noisy signal does not make it flap.

Raised after `raise_after` consecutive windows over the threshold; cleared after `clear_after`
consecutive windows under `clear_ratio` x threshold. Windows between the two bounds hold the state.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

__all__ = ["AlertPolicy", "AlertState"]

AlertName = Literal["normal", "alert"]


@dataclass(frozen=True)
class AlertPolicy:
    raise_after: int = 3
    clear_after: int = 20
    clear_ratio: float = 0.8

    def __post_init__(self) -> None:
        if self.raise_after < 1 or self.clear_after < 1 or not 0 < self.clear_ratio <= 1:
            raise ValueError("raise_after and clear_after must be >= 1 and clear_ratio in (0, 1]")


@dataclass
class AlertState:
    state: AlertName = "normal"
    since_seq: int | None = None
    run: int = 0
    """Consecutive windows counting towards the other state."""

    def update(self, scores: np.ndarray, threshold: float, seq: int, policy: AlertPolicy) -> bool:
        """Feed a batch's window scores in order; True when the state changed in this batch."""
        changed = False
        for score in scores.tolist():
            if self.state == "normal":
                self.run = self.run + 1 if score > threshold else 0
                if self.run >= policy.raise_after:
                    self.state, self.since_seq, self.run, changed = "alert", seq, 0, True
            else:
                self.run = self.run + 1 if score < policy.clear_ratio * threshold else 0
                if self.run >= policy.clear_after:
                    self.state, self.since_seq, self.run, changed = "normal", seq, 0, True
        return changed

    def to_payload(self, changed: bool) -> dict[str, Any]:
        payload: dict[str, Any] = {"state": self.state, "changed": changed}
        if self.since_seq is not None:
            payload["since_seq"] = self.since_seq
        return payload

    def to_state(self) -> dict[str, Any]:
        return {"state": self.state, "since_seq": self.since_seq, "run": self.run}

    @classmethod
    def from_state(cls, data: dict[str, Any]) -> AlertState:
        return cls(state=data["state"], since_seq=data["since_seq"], run=int(data["run"]))
