"""The drift profile: per-window summary statistics of each signal, in engineering units.

The model package ships these for validation windows (`reference_profile.parquet`); the edge computes
the same columns from the windows it scores and compares the two distributions (Evidently). They are
computed from standardised windows (what both sides already hold) mapped back to engineering units, so
a drift report speaks in amperes and volts. Values clipped by the spec stay clipped: an absurd reading
is an absurd reading in both profiles.
"""

from __future__ import annotations

import numpy as np

from edge_agent.features.spec import FeatureSpec

__all__ = ["PROFILE_STATS", "profile_columns", "window_profile"]

PROFILE_STATS = ("mean", "std")


def profile_columns(spec: FeatureSpec) -> list[str]:
    return [f"{name}__{stat}" for name in spec.signals for stat in PROFILE_STATS]


def window_profile(windows: np.ndarray, spec: FeatureSpec) -> dict[str, np.ndarray]:
    """Columns `<signal>__mean` and `<signal>__std` (engineering units) of standardised windows
    `(n_windows, window * n_signals)`."""
    windows = np.asarray(windows, dtype=np.float64)
    if windows.ndim != 2 or windows.shape[1] != spec.n_features:
        raise ValueError(f"expected (n, {spec.n_features}) windows, got {windows.shape}")
    raw = windows.reshape(len(windows), spec.window, spec.n_signals) * np.asarray(spec.scale) + np.asarray(
        spec.center
    )
    mean, std = raw.mean(axis=1), raw.std(axis=1)
    out: dict[str, np.ndarray] = {}
    for index, name in enumerate(spec.signals):
        out[f"{name}__mean"] = mean[:, index]
        out[f"{name}__std"] = std[:, index]
    return out
