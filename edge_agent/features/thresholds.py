"""A package's `threshold.json` as a typed, frozen object: training builds it, the platform and the edge
parse it once, and `to_dict()` gives back the very JSON object the platform writes (format 2) or wrote
(format 1, from before the duration component), so a package rebuilt from a parsed one is unchanged.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from edge_agent.features.fields import json_float
from edge_agent.features.weld_score import THRESHOLD_FORMAT, DurationModel, WeldScorer

__all__ = ["WELD_SCORE_TEXT", "WINDOW_SCORE_TEXT", "PackageThresholds", "Threshold"]

WINDOW_SCORE_TEXT = "mean squared error of the standardised window (the ONNX output `score`)"
"""`score` of the file: what the window threshold is compared with."""
WELD_SCORE_TEXT = (
    "max over components of component / its threshold, > 1 = alarm: shape = aggregated "
    "window score / weld.value; duration = |samples - center| / scale / weld_duration.value"
)
"""`weld_score` of a format 2 file: how the weld score is made of its components."""


@dataclass(frozen=True)
class Threshold:
    """One fitted threshold (`window`, or `weld` for the shape component): a score above `value` alarms."""

    value: float
    method: str
    params: Mapping[str, Any] = field(default_factory=dict)
    n_scores: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "value": self.value,
            "method": self.method,
            "params": dict(self.params),
            "n_scores": self.n_scores,
        }

    @classmethod
    def from_dict(cls, data: object, where: str) -> Threshold:
        """`data` (the `where` object of the file); ValueError naming the field when it cannot be read."""
        if not isinstance(data, Mapping):
            raise ValueError(f"{where} must be an object, got {type(data).__name__}")
        if "value" not in data:
            raise ValueError(f"{where} lacks the field 'value'")
        params = data.get("params", {})
        if not isinstance(params, Mapping):
            raise ValueError(f"{where}.params must be an object, got {params!r}")
        return cls(
            value=json_float(data["value"], f"{where}.value"),
            method=str(data.get("method", "")),
            params=dict(params),
            n_scores=int(json_float(data.get("n_scores", 0), f"{where}.n_scores")),
        )


@dataclass(frozen=True)
class PackageThresholds:
    """What `threshold.json` holds: the window threshold, the weld score's components and the per-signal
    error thresholds (an alert names the signals above theirs)."""

    window: Threshold
    weld: Threshold | None
    """The shape component's threshold on aggregated window scores; None without weld ids."""
    weld_aggregation: str
    """How a weld's window scores become one: max, mean or pNN."""
    weld_duration: DurationModel | None
    """The duration component (format 2); None when switched off, without weld ids, or in format 1."""
    signal_errors: Mapping[str, float] = field(default_factory=dict)
    format: int = THRESHOLD_FORMAT

    def __post_init__(self) -> None:
        if self.format not in (1, THRESHOLD_FORMAT):
            raise ValueError(
                f"threshold.json format {self.format!r} is not supported (1 or {THRESHOLD_FORMAT})"
            )
        if self.format == 1 and self.weld_duration is not None:
            raise ValueError("threshold.json format 1 has no weld_duration")
        value = self.window.value
        if not (math.isfinite(value) and value > 0):
            raise ValueError(f"window.value must be a positive finite number, got {value!r}")
        _ = self.weld_scorer  # the weld score's own checks: aggregation, component thresholds

    @property
    def weld_scorer(self) -> WeldScorer | None:
        """The weld score of these thresholds; None without a weld level (no weld ids in training)."""
        if self.weld is None and self.weld_duration is None:
            return None
        shape = None if self.weld is None else self.weld.value
        return WeldScorer(
            aggregation=self.weld_aggregation, shape_threshold=shape, duration=self.weld_duration
        )

    def to_dict(self) -> dict[str, Any]:
        """The JSON object of `threshold.json` (format 1 without the keys format 2 added)."""
        out: dict[str, Any] = {}
        if self.format >= 2:
            out["format"] = self.format
        out["score"] = WINDOW_SCORE_TEXT
        out["window"] = self.window.to_dict()
        out["weld"] = None if self.weld is None else self.weld.to_dict()
        out["weld_aggregation"] = self.weld_aggregation
        if self.format >= 2:
            out["weld_duration"] = None if self.weld_duration is None else self.weld_duration.to_dict()
            out["weld_score"] = WELD_SCORE_TEXT
        out["signal_errors"] = dict(self.signal_errors)
        return out

    @classmethod
    def from_dict(cls, data: object) -> PackageThresholds:
        """Parse `threshold.json`; ValueError naming the field when it cannot be scored with."""
        if not isinstance(data, Mapping):
            raise ValueError(f"threshold.json must be an object, got {type(data).__name__}")
        scorer = WeldScorer.from_thresholds(data)  # the weld score's checks, and their messages
        aggregation = data.get("weld_aggregation", "max")
        if not isinstance(aggregation, str):
            raise ValueError(f"weld_aggregation must be a string, got {aggregation!r}")
        errors = data.get("signal_errors", {})
        if not isinstance(errors, Mapping):
            raise ValueError(f"signal_errors must be an object, got {errors!r}")
        weld = data.get("weld")
        return cls(
            window=Threshold.from_dict(data.get("window"), "window"),
            weld=None if weld is None else Threshold.from_dict(weld, "weld"),
            weld_aggregation=aggregation,
            weld_duration=None if scorer is None else scorer.duration,
            signal_errors={str(k): json_float(v, f"signal_errors.{k}") for k, v in errors.items()},
            format=int(data.get("format", 1)),
        )
