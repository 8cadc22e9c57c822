"""The weld score: how abnormal a whole weld is, from its window scores and its length. Numpy only.

The edge and training both compute it with this code from the package's `threshold.json`: one component
per thing that can be wrong with a weld (`shape`, `duration`), each over its own threshold; the weld
score is the largest of them, so "weld score > 1" is an alarm (README, "The weld score").
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from edge_agent.features.fields import json_float
from edge_agent.features.spec import robust_center_scale

__all__ = [
    "COMPONENTS",
    "MIN_DURATION_BOUND",
    "THRESHOLD_FORMAT",
    "DurationModel",
    "WeldScorer",
    "WeldScores",
    "WeldVerdict",
    "aggregate",
    "aggregate_groups",
    "duration_scores",
    "fit_duration",
]

THRESHOLD_FORMAT = 2
COMPONENTS = ("shape", "duration")
MIN_DURATION_BOUND = 1.0
_MIN_SCALE_SAMPLES = 1.0
_PERCENTILE = re.compile(r"p([0-9]{1,3})")


def _quantile_of(how: object) -> float | None:
    """The quantile (0..1) of `pNN`, None for `max` and `mean`; ValueError for anything else."""
    if how in ("max", "mean"):
        return None
    matched = _PERCENTILE.fullmatch(how) if isinstance(how, str) else None
    if matched is None:
        raise ValueError(f"unknown aggregation {how!r} (max, mean or pNN)")
    percent = int(matched.group(1))
    if percent > 100:
        raise ValueError(f"aggregation {how!r}: a percentile is at most p100, got p{percent}")
    return percent / 100.0


def aggregate(scores: np.ndarray, how: str) -> float:
    """One weld's window scores -> one number: `max`, `mean` or `pNN` (a quantile, e.g. p95); NaN if none."""
    quantile = _quantile_of(how)  # checked before the data, so a bad name fails on an empty weld too
    scores = np.asarray(scores, dtype=np.float64)
    if not scores.size:
        return float("nan")
    if quantile is not None:
        return float(np.quantile(scores, quantile))
    return float(scores.max()) if how == "max" else float(scores.mean())


def _positive(value: float, name: str) -> None:
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a positive finite number, got {value!r}")


def _number(data: Mapping[str, Any], key: str, where: str, default: float | None = None) -> float:
    """`data[key]` (or `default`) as a float; ValueError naming `where.key` when absent or not a number."""
    if key not in data and default is None:
        raise ValueError(f"{where} lacks the field {key!r}")
    return json_float(data.get(key, default), f"{where}.{key}")


def aggregate_groups(
    scores: np.ndarray, groups: Sequence[str] | np.ndarray, how: str = "max"
) -> tuple[np.ndarray, np.ndarray]:
    """(group keys, aggregated score per group), keys sorted; see `aggregate`."""
    aggregate(np.empty(0), how)  # an unknown aggregation fails even without data
    keys, inverse = np.unique(np.asarray(groups), return_inverse=True)
    order = np.argsort(inverse, kind="stable")
    bounds = np.searchsorted(inverse[order], np.arange(len(keys) + 1))
    values = np.asarray(scores, dtype=np.float64)
    out = np.array([aggregate(values[order[bounds[k] : bounds[k + 1]]], how) for k in range(len(keys))])
    return keys, out.astype(np.float64)


def fit_duration(lengths: np.ndarray) -> tuple[float, float]:
    """(centre, scale) of weld lengths in samples: median and IQR / 1.349 of the training normal welds.

    When most welds have the same length (IQR zero), the scale falls back to the spread of the central
    98 %, then of all welds (`robust_center_scale`), and is never below one sample: a length is counted
    in whole samples."""
    lengths = np.asarray(lengths, dtype=np.float64)
    lengths = lengths[np.isfinite(lengths)]
    if lengths.size == 0:
        raise ValueError("no weld lengths to fit a duration model on")
    fitted = robust_center_scale(lengths)
    if fitted is None:  # every weld the same length
        return float(np.median(lengths)), _MIN_SCALE_SAMPLES
    return fitted[0], max(fitted[1], _MIN_SCALE_SAMPLES)


def duration_scores(lengths: np.ndarray, center: float, scale: float) -> np.ndarray:
    """|n - centre| / scale per weld: too short and too long are both abnormal."""
    return np.abs(np.asarray(lengths, dtype=np.float64) - center) / scale


@dataclass(frozen=True)
class DurationModel:
    """The duration component as shipped in `threshold.json` (`weld_duration`).

    The two-sided robust z of a weld's length, |n - centre| / scale (too short and too long are both
    abnormal), over `bound`: fitted on the validation normal welds with the same rule (method, quantile)
    as the weld threshold, and never below one scale (`MIN_DURATION_BOUND`), so a weld one sample off a
    fixed length is normal. Every weld has one, including a weld too short for a single window."""

    center: float
    scale: float
    bound: float
    """Largest normal `duration_scores` value (fitted on validation welds)."""
    method: str = "quantile"
    params: Mapping[str, Any] = field(default_factory=dict)
    n_fit: int = 0
    n_scores: int = 0
    unit: str = "samples"

    def __post_init__(self) -> None:
        if self.unit != "samples":
            raise ValueError(f"weld_duration.unit {self.unit!r} is not supported (samples)")
        if not math.isfinite(self.center):
            raise ValueError(f"weld_duration.center must be a finite number, got {self.center!r}")
        _positive(self.scale, "weld_duration.scale")
        _positive(self.bound, "weld_duration.value (the bound)")

    def score(self, lengths: np.ndarray) -> np.ndarray:
        return duration_scores(lengths, self.center, self.scale)

    def limits(self) -> tuple[float, float]:
        """Normal lengths in samples: a weld alarms below the first or above the second."""
        return self.center - self.bound * self.scale, self.center + self.bound * self.scale

    def to_dict(self) -> dict[str, Any]:
        low, high = self.limits()
        return {
            "value": self.bound,
            "center": self.center,
            "scale": self.scale,
            "unit": self.unit,
            "method": self.method,
            "params": dict(self.params),
            "n_fit": self.n_fit,
            "n_scores": self.n_scores,
            "normal_samples": [low, high],
            "score": "|samples - center| / scale; the component is that over value",
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DurationModel:
        if not isinstance(data, Mapping):
            raise ValueError(f"weld_duration must be an object or null, got {type(data).__name__}")
        params = data.get("params", {})
        if not isinstance(params, Mapping):
            raise ValueError(f"weld_duration.params must be an object, got {params!r}")
        return cls(
            center=_number(data, "center", "weld_duration"),
            scale=_number(data, "scale", "weld_duration"),
            bound=_number(data, "value", "weld_duration"),
            method=str(data.get("method", "")),
            params=dict(params),
            n_fit=int(_number(data, "n_fit", "weld_duration", 0)),
            n_scores=int(_number(data, "n_scores", "weld_duration", 0)),
            unit=str(data.get("unit", "samples")),
        )


@dataclass(frozen=True)
class WeldScores:
    """Per weld: the weld score, each normalised component (NaN where absent) and the top component."""

    score: np.ndarray
    components: dict[str, np.ndarray]
    top: np.ndarray
    """Name of the largest component per weld ("" when the weld has none)."""

    @property
    def alarm(self) -> np.ndarray:
        return self.score > 1.0


@dataclass(frozen=True)
class WeldVerdict:
    score: float
    components: dict[str, float]
    fired: tuple[str, ...]
    """The components above 1, largest first: what an alert names."""

    @property
    def alarm(self) -> bool:
        return self.score > 1.0


@dataclass(frozen=True)
class WeldScorer:
    """Weld score from the window scores and the length of each weld.

    `shape` is the weld's window scores aggregated (`aggregation`: mean, max or pNN) over
    `shape_threshold`; a weld shorter than one window has no window and no shape score (NaN).
    `duration` is `DurationModel`'s score over its bound. The components above 1 name an alarm's cause.
    Each component keeps its own false-alarm rate on validation welds, so with both about twice as many
    normal welds alarm at the same quantile."""

    aggregation: str
    shape_threshold: float | None
    """`weld.value` of `threshold.json`: the aggregated window score at which the shape alarms."""
    duration: DurationModel | None = None

    def __post_init__(self) -> None:
        try:
            _quantile_of(self.aggregation)
        except ValueError as exc:
            raise ValueError(f"weld_aggregation: {exc}") from None
        if self.shape_threshold is not None:
            _positive(self.shape_threshold, "weld.value (the weld threshold)")

    @property
    def components(self) -> tuple[str, ...]:
        present = {"shape": self.shape_threshold is not None, "duration": self.duration is not None}
        return tuple(c for c in COMPONENTS if present[c])

    @classmethod
    def from_thresholds(cls, thresholds: Mapping[str, Any]) -> WeldScorer | None:
        """From `threshold.json`; None when the package has no weld level (no weld ids in training).

        `format` absent (1) is shape only, its weld score the shape score over its threshold (the same
        alarms as before the duration component); format 2 adds `weld_duration` (null when switched off)."""
        if not isinstance(thresholds, Mapping):
            raise ValueError(f"threshold.json must be an object, got {type(thresholds).__name__}")
        version = thresholds.get("format", 1)
        if version not in (1, THRESHOLD_FORMAT) or isinstance(version, bool):
            raise ValueError(f"threshold.json format {version!r} is not supported (1 or {THRESHOLD_FORMAT})")
        weld = thresholds.get("weld")
        duration = thresholds.get("weld_duration") if version >= 2 else None
        if weld is None and duration is None:
            return None
        if weld is not None and not isinstance(weld, Mapping):
            raise ValueError(f"weld must be an object or null, got {type(weld).__name__}")
        return cls(
            aggregation=thresholds.get("weld_aggregation", "max"),
            shape_threshold=None if weld is None else _number(weld, "value", "weld"),
            duration=None if duration is None else DurationModel.from_dict(duration),
        )

    def score_welds(self, shape: np.ndarray, lengths: np.ndarray) -> WeldScores:
        """`shape`: aggregated window score per weld (NaN: no window); `lengths`: samples per weld."""
        shape = np.asarray(shape, dtype=np.float64)
        lengths = np.asarray(lengths, dtype=np.float64)
        if shape.shape != lengths.shape:
            raise ValueError(f"shape scores {shape.shape} and lengths {lengths.shape} differ")
        parts: dict[str, np.ndarray] = {}
        if self.shape_threshold is not None:
            parts["shape"] = shape / self.shape_threshold
        if self.duration is not None:
            parts["duration"] = self.duration.score(lengths) / self.duration.bound
        if not parts:
            return WeldScores(np.full(shape.shape, np.nan), parts, np.full(shape.shape, "", dtype=object))
        stacked = np.stack([parts[c] for c in self.components])
        filled = np.where(np.isnan(stacked), -np.inf, stacked)
        best = filled.argmax(axis=0)
        score = filled.max(axis=0)
        none = ~np.isfinite(score) & (score < 0)
        score = np.where(none, np.nan, score)
        top = np.where(none, "", np.asarray(self.components, dtype=object)[best])
        return WeldScores(score, parts, top)

    def verdict(self, window_scores: np.ndarray, n_samples: int) -> WeldVerdict:
        """One finished weld at the edge: its window scores (possibly none) and its length in samples."""
        scored = self.score_welds(
            np.array([aggregate(window_scores, self.aggregation)]), np.array([n_samples], dtype=np.float64)
        )
        components = {c: float(v[0]) for c, v in scored.components.items()}
        fired = tuple(sorted((c for c, v in components.items() if v > 1.0), key=lambda c: -components[c]))
        return WeldVerdict(float(scored.score[0]), components, fired)
