"""Synthetic gas metal arc welds: realistic signal shapes, injectable defects and material drift.

Pure numpy, no I/O; `SyntheticWeldGenerator` makes one cell's welds, reproducible from a seed.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from edge_agent.domain.welds import Weld

__all__ = [
    "DRIFT_MATERIAL",
    "MATERIALS",
    "SIGNALS",
    "AnomalyKind",
    "OperatingPoint",
    "SyntheticWeldGenerator",
]

SIGNALS = ("current_a", "voltage_v", "wire_feed_m_min", "gas_flow_l_min", "travel_speed_mm_s")


class AnomalyKind(enum.StrEnum):
    POROSITY = "porosity"
    BURN_THROUGH = "burn_through"
    WIRE_STICK = "wire_stick"
    GAS_LOSS = "gas_loss"


@dataclass(frozen=True)
class OperatingPoint:
    """A welding recipe: the nominal value of each signal in steady state."""

    name: str
    current_a: float
    voltage_v: float
    wire_feed_m_min: float
    gas_flow_l_min: float
    travel_speed_mm_s: float


MATERIALS: Mapping[str, OperatingPoint] = {
    "steel-s235-1.2mm": OperatingPoint("steel-s235-1.2mm", 210.0, 24.0, 8.0, 15.0, 6.0),
    "steel-s355-1.2mm": OperatingPoint("steel-s355-1.2mm", 245.0, 26.5, 9.2, 15.0, 6.0),
}
DEFAULT_MATERIAL = "steel-s235-1.2mm"
DRIFT_MATERIAL = "steel-s355-1.2mm"  # drift models a new material: current, voltage and wire feed shift


@dataclass
class SyntheticWeldGenerator:
    """Welds of one cell, reproducible from `seed`. `drift` and `inject` may change between welds."""

    cell: str
    seed: int
    sample_rate_hz: float = 1000.0
    weld_seconds: tuple[float, float] = (1.5, 2.5)
    gap_seconds: float = 0.5
    anomaly_rate: float = 0.0
    anomaly_kinds: tuple[AnomalyKind, ...] = tuple(AnomalyKind)
    material: str = DEFAULT_MATERIAL
    drift: bool = False
    start_ms: int = 0
    _cell_key: int = field(default=0, init=False, repr=False)
    _count: int = field(default=0, init=False)
    _next_start_ms: float = field(default=0.0, init=False)
    _forced: list[AnomalyKind] = field(default_factory=list, init=False)

    def __post_init__(self) -> None:
        if self.sample_rate_hz <= 0:
            raise ValueError("sample_rate_hz must be positive")
        if not 0 <= self.anomaly_rate <= 1:
            raise ValueError("anomaly_rate must be within [0, 1]")
        low, high = self.weld_seconds
        if not 0.5 < low <= high:
            # arc start (0.2 s) and end (0.3 s) must leave a steady state for the defects to act on
            raise ValueError("weld_seconds must be (low, high) with 0.5 < low <= high")
        if round(low * self.sample_rate_hz) < 1:
            raise ValueError("sample_rate_hz x weld_seconds must give every weld at least one sample")
        self._cell_key = int.from_bytes(self.cell.encode()[:16].ljust(16, b"\0"), "little")
        self._next_start_ms = float(self.start_ms)

    def inject(self, kind: AnomalyKind) -> None:
        """Force the next weld to carry this defect."""
        self._forced.append(AnomalyKind(kind))

    def next_weld(self) -> Weld:
        # Each weld draws from its own stream (seed, cell, weld number): the same seed gives the same
        # welds whatever else runs, and injecting a defect or drift never shifts later welds.
        rng = np.random.default_rng([self.seed, self._cell_key, self._count])
        dt = 1.0 / self.sample_rate_hz
        n = round(rng.uniform(*self.weld_seconds) * self.sample_rate_hz)
        roll, kind_index = rng.random(), rng.integers(len(self.anomaly_kinds))
        label: AnomalyKind | None = None
        if self._forced:
            label = self._forced.pop(0)
        elif roll < self.anomaly_rate:
            label = self.anomaly_kinds[kind_index]
        material = DRIFT_MATERIAL if self.drift else self.material
        signals = _nominal_weld(MATERIALS[material], n, dt, rng)
        if label is not None:
            _APPLY[label](signals, MATERIALS[material], dt, rng)
        for name, values in signals.items():
            np.clip(values, 0.0, None, out=values)
            signals[name] = values
        weld = Weld(
            # The start second keeps weld ids unique across simulator runs, as a controller's counter would.
            weld_id=f"{self.cell}-{self.start_ms // 1000}-w{self._count:06d}",
            start_ms=int(self._next_start_ms),
            sample_interval_ms=dt * 1000.0,
            signals=signals,
            label=label.value if label else None,
            recipe=material,
            drifted=self.drift,
        )
        self._count += 1
        self._next_start_ms += (n * dt + self.gap_seconds) * 1000.0
        return weld


def _ramp(n: int, start: int, length: int) -> np.ndarray:
    """0 before `start`, rising linearly to 1 over `length` samples."""
    idx = np.arange(n, dtype=np.float64)
    return np.clip((idx - start) / max(length, 1), 0.0, 1.0)


def _nominal_weld(op: OperatingPoint, n: int, dt: float, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """A defect-free weld in three phases: arc start (first 150 ms: current overshoot, voltage dip, wire
    feed and travel speed ramping up); steady state (the operating point with process ripple and sensor
    noise); end (last 250 ms: crater fill, current and wire feed ramping down)."""
    t = np.arange(n) * dt
    end_len = min(int(0.25 / dt), n // 4)
    fall = 1.0 - _ramp(n, n - end_len, end_len)
    ripple_hz = rng.uniform(70.0, 110.0)
    phase = rng.uniform(0, 2 * np.pi)
    ripple = np.sin(2 * np.pi * ripple_hz * t + phase)
    overshoot = np.exp(-t / 0.03)
    crater = 0.4 + 0.6 * fall
    current = op.current_a * crater * (1.0 + 0.6 * overshoot) + 4.0 * ripple + rng.normal(0, 3.0, n)
    voltage = op.voltage_v * (1.0 - 0.3 * np.exp(-t / 0.02)) * (0.85 + 0.15 * fall) + 0.4 * ripple
    voltage += rng.normal(0, 0.3, n)
    wire = op.wire_feed_m_min * np.minimum(_ramp(n, 0, int(0.1 / dt)), crater) + rng.normal(0, 0.05, n)
    gas = op.gas_flow_l_min + rng.normal(0, 0.2, n)
    travel = op.travel_speed_mm_s * np.minimum(_ramp(n, 0, int(0.2 / dt)), fall) + rng.normal(0, 0.05, n)
    return {
        "current_a": current,
        "voltage_v": voltage,
        "wire_feed_m_min": wire,
        "gas_flow_l_min": gas,
        "travel_speed_mm_s": travel,
    }


def _steady_span(n: int, dt: float) -> tuple[int, int]:
    """[lo, hi) of the steady state, never empty (at low sample rates a phase is a sample or two)."""
    lo = min(int(0.2 / dt), n - 1)
    return lo, max(lo + 1, n - int(0.3 / dt))


def _draw(rng: np.random.Generator, low: int, high: int) -> int:
    """A sample index in [low, high), or `low` when the span is empty (one draw either way, so that the
    welds after a short one stay the same)."""
    return int(rng.integers(low, max(high, low + 1)))


def _porosity(s: dict[str, np.ndarray], op: OperatingPoint, dt: float, rng: np.random.Generator) -> None:
    """Short bursts of high voltage and low current (arc instability, spatter)."""
    lo, hi = _steady_span(len(s["current_a"]), dt)
    for _ in range(int(rng.integers(6, 14))):
        width = int(rng.uniform(0.005, 0.02) / dt) + 1
        at = _draw(rng, lo, hi - width)
        s["voltage_v"][at : at + width] += rng.uniform(6.0, 12.0)
        s["current_a"][at : at + width] -= rng.uniform(30.0, 60.0)


def _burn_through(s: dict[str, np.ndarray], op: OperatingPoint, dt: float, rng: np.random.Generator) -> None:
    """Current creeping up, then a voltage jump and a current collapse as the arc loses the workpiece."""
    n = len(s["current_a"])
    lo, hi = _steady_span(n, dt)
    at = _draw(rng, (lo + hi) // 2, hi)
    creep = _ramp(n, lo, at - lo)
    s["current_a"] *= 1.0 + 0.25 * creep
    width = int(rng.uniform(0.05, 0.1) / dt)
    s["voltage_v"][at : at + width] += 8.0
    s["current_a"][at : at + width] *= 0.3
    s["current_a"][at + width :] += rng.normal(0, 25.0, max(n - at - width, 0))


def _wire_stick(s: dict[str, np.ndarray], op: OperatingPoint, dt: float, rng: np.random.Generator) -> None:
    """The wire fuses to the part: voltage near zero, short-circuit current, wire feed stops."""
    n = len(s["current_a"])
    lo, hi = _steady_span(n, dt)
    at = _draw(rng, lo, hi)
    length = min(int(rng.uniform(0.1, 0.3) / dt), n - at)
    s["voltage_v"][at : at + length] = rng.uniform(0.8, 2.0) + rng.normal(0, 0.2, length)
    s["current_a"][at : at + length] = op.current_a * 1.8 + rng.normal(0, 10.0, length)
    s["wire_feed_m_min"][at : at + length] = np.abs(rng.normal(0, 0.05, length))


def _gas_loss(s: dict[str, np.ndarray], op: OperatingPoint, dt: float, rng: np.random.Generator) -> None:
    """Shielding gas flow collapses, arc noise rises."""
    n = len(s["current_a"])
    lo, hi = _steady_span(n, dt)
    at = _draw(rng, lo, (lo + hi) // 2)
    decay = _ramp(n, at, int(0.2 / dt))
    s["gas_flow_l_min"] = s["gas_flow_l_min"] * (1.0 - 0.93 * decay)
    s["voltage_v"] += decay * rng.normal(0, 1.5, n)
    s["current_a"] += decay * rng.normal(0, 12.0, n)


_APPLY = {
    AnomalyKind.POROSITY: _porosity,
    AnomalyKind.BURN_THROUGH: _burn_through,
    AnomalyKind.WIRE_STICK: _wire_stick,
    AnomalyKind.GAS_LOSS: _gas_loss,
}
