"""The feature specification: which signals, in which order, how long a window is, how to standardise.

Fitted once on training data (`fit_feature_spec`) and shipped in the model package as `feature_spec.json`,
so the edge and training compute the same numbers from the same samples. Numpy only.
"""

from __future__ import annotations

import json
import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from edge_agent.features.fields import json_float

__all__ = ["SPEC_VERSION", "FeatureSpec", "fit_feature_spec"]

SPEC_VERSION = 1
_IQR_TO_STD = 1.349


@dataclass(frozen=True)
class FeatureSpec:
    """Signals (ordered), window length and stride in samples, and per-signal centre and scale."""

    signals: tuple[str, ...]
    window: int
    stride: int
    center: tuple[float, ...]
    scale: tuple[float, ...]
    clip: float = 50.0
    """Standardised values are clipped to +-clip: one absurd reading must not dominate a whole batch."""
    sample_interval_ms: float | None = None
    dropped: Mapping[str, str] = field(default_factory=dict)
    """Signals seen in the training data but left out, with the reason."""
    version: int = SPEC_VERSION

    def __post_init__(self) -> None:
        if not self.signals:
            raise ValueError("a feature spec needs at least one signal")
        if len(set(self.signals)) != len(self.signals):
            raise ValueError(f"duplicate signal names in {self.signals}")
        if len(self.center) != len(self.signals) or len(self.scale) != len(self.signals):
            raise ValueError("center and scale need one value per signal")
        if self.window < 1 or self.stride < 1:
            raise ValueError(f"window and stride must be >= 1, got {self.window} and {self.stride}")
        if not all(np.isfinite(self.center)) or not all(s > 0 and np.isfinite(s) for s in self.scale):
            raise ValueError("center must be finite and scale finite and positive")
        if not (self.clip > 0 and np.isfinite(self.clip)):
            raise ValueError(f"clip must be a positive finite number, got {self.clip!r}")

    @property
    def n_signals(self) -> int:
        return len(self.signals)

    @property
    def n_features(self) -> int:
        """Length of one flattened window: window x signals, time-major."""
        return self.window * len(self.signals)

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "signals": list(self.signals),
            "window": self.window,
            "stride": self.stride,
            "center": list(self.center),
            "scale": list(self.scale),
            "clip": self.clip,
            "sample_interval_ms": self.sample_interval_ms,
            "dropped": dict(self.dropped),
            "layout": "time-major: feature[t * n_signals + s] = standardised signal s at window step t",
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FeatureSpec:
        """From `to_dict` output; ValueError naming the field that is missing or of the wrong type."""
        if not isinstance(data, Mapping):
            raise ValueError(f"a feature spec must be an object, got {type(data).__name__}")
        version = data.get("version", 0)
        if version != SPEC_VERSION or isinstance(version, bool):
            raise ValueError(f"feature spec version {version!r} is not supported (expected {SPEC_VERSION})")
        for name in ("signals", "window", "stride", "center", "scale"):
            if name not in data:
                raise ValueError(f"feature spec lacks the field {name!r}")
        dropped = data.get("dropped", {})
        if not isinstance(dropped, Mapping):
            raise ValueError(f"feature spec field 'dropped' must be an object, got {dropped!r}")
        interval = data.get("sample_interval_ms")
        return cls(
            signals=tuple(_list_of(data["signals"], "signals", str)),
            window=_integer(data["window"], "window"),
            stride=_integer(data["stride"], "stride"),
            center=tuple(_number(v, "center") for v in _list_of(data["center"], "center", numbers.Real)),
            scale=tuple(_number(v, "scale") for v in _list_of(data["scale"], "scale", numbers.Real)),
            clip=_number(data.get("clip", 50.0), "clip"),
            sample_interval_ms=None if interval is None else _number(interval, "sample_interval_ms"),
            dropped={str(k): str(v) for k, v in dropped.items()},
        )

    @classmethod
    def from_json(cls, text: str | bytes) -> FeatureSpec:
        return cls.from_dict(json.loads(text))


def _list_of(value: object, name: str, kind: type) -> list[Any]:
    if not isinstance(value, list) or any(isinstance(v, bool) or not isinstance(v, kind) for v in value):
        what = "strings" if kind is str else "numbers"
        raise ValueError(f"feature spec field {name!r} must be a list of {what}, got {value!r}")
    return value


def _number(value: object, name: str) -> float:
    return json_float(value, f"feature spec field {name!r}")


def _integer(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"feature spec field {name!r} must be an integer, got {value!r}")
    return int(value)


def robust_center_scale(column: np.ndarray) -> tuple[float, float] | None:
    """(median, robust scale) of the finite values, or None when the column is constant or empty.

    The scale is IQR / 1.349 (the standard deviation of a normal distribution with that IQR), so that a
    few outliers in "normal" training data do not squash every other value towards zero."""
    finite = column[np.isfinite(column)]
    if finite.size == 0:
        return None
    q01, q25, median, q75, q99 = np.quantile(finite, [0.01, 0.25, 0.5, 0.75, 0.99])
    spread = float(np.ptp(finite))
    tiny = 1e-12 * max(1.0, abs(float(median)))
    if spread <= tiny:
        return None
    scale = (q75 - q25) / _IQR_TO_STD
    if scale <= tiny:
        # A signal that mostly sits still (IQR zero) but moves: the spread of its central 98 %, and if
        # even that is flat, of everything. Never the IQR of zero, which would make every move infinite.
        central = finite[(finite >= q01) & (finite <= q99)]
        scale = float(np.std(central))
        if scale <= tiny:
            scale = float(np.std(finite))
    return float(median), float(scale)


def fit_feature_spec(
    values: np.ndarray,
    signals: Sequence[str],
    window: int,
    stride: int,
    *,
    sample_interval_ms: float | None = None,
    clip: float = 50.0,
) -> FeatureSpec:
    """Fit centre and scale per signal on training rows `values` (n_rows x n_signals, NaN = missing).

    Constant or empty signals carry no information about normal behaviour: they are left out, by name,
    in `dropped`; raises when none is left.
    """
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 2 or values.shape[1] != len(signals):
        raise ValueError(f"values must be (rows, {len(signals)}), got {values.shape}")
    kept: list[str] = []
    center: list[float] = []
    scale: list[float] = []
    dropped: dict[str, str] = {}
    for index, name in enumerate(signals):
        fitted = robust_center_scale(values[:, index])
        if fitted is None:
            finite = np.isfinite(values[:, index]).any()
            dropped[name] = "constant in the training data" if finite else "no values in the training data"
            continue
        kept.append(name)
        center.append(fitted[0])
        scale.append(fitted[1])
    if not kept:
        raise ValueError(f"no usable signal: {dropped}")
    return FeatureSpec(
        signals=tuple(kept),
        window=window,
        stride=stride,
        center=tuple(center),
        scale=tuple(scale),
        clip=clip,
        sample_interval_ms=sample_interval_ms,
        dropped=dropped,
    )
