"""Anomaly thresholds from the score distribution of normal (validation) data: a quantile, mean + k
standard deviations, or peaks over threshold (`fit_threshold`)."""

from __future__ import annotations

import logging
from typing import Any, Literal

import numpy as np

from edge_agent.features import Threshold

__all__ = ["ThresholdMethod", "fit_threshold"]

log = logging.getLogger(__name__)

ThresholdMethod = Literal["quantile", "mean_std", "pot"]


def _pot(scores: np.ndarray, risk: float, initial_quantile: float) -> tuple[float, dict[str, Any]]:
    from scipy.stats import genpareto  # only the `pot` method needs scipy, slow to import

    t = float(np.quantile(scores, initial_quantile))
    excesses = scores[scores > t] - t
    n, n_t = len(scores), len(excesses)
    if n_t < 10:
        raise ValueError(f"only {n_t} scores exceed the initial quantile: too few for a Pareto fit")
    shape, _, scale = genpareto.fit(excesses, floc=0.0)
    ratio = risk * n / n_t
    value = t - scale * np.log(ratio) if abs(shape) < 1e-06 else t + scale / shape * (ratio ** (-shape) - 1.0)
    return float(value), {"shape": float(shape), "scale": float(scale), "initial_threshold": t, "peaks": n_t}


def fit_threshold(
    scores: np.ndarray,
    method: ThresholdMethod = "pot",
    *,
    quantile: float = 0.99,
    k: float = 3.0,
    risk: float = 1e-3,
    initial_quantile: float = 0.98,
) -> Threshold:
    """A threshold above which a score is anomalous, from scores of normal data only.

    - `quantile`: the q-quantile of the scores (q = 0.99 flags about 1 % of normal windows).
    - `mean_std`: mean + k standard deviations.
    - `pot`: peaks over threshold (Siffer et al., KDD 2017): a generalised Pareto distribution fitted to
      the excesses over a high initial quantile gives the score whose exceedance probability is `risk`;
      it extrapolates beyond the observed maximum, which a plain quantile cannot do with few samples."""
    scores = np.asarray(scores, dtype=np.float64)
    scores = scores[np.isfinite(scores)]
    params: dict[str, Any]
    if scores.size == 0:
        raise ValueError("no finite scores to fit a threshold on")
    if method == "quantile":
        if not 0 < quantile < 1:
            raise ValueError("quantile must be in (0, 1)")
        value, params = float(np.quantile(scores, quantile)), {"quantile": quantile}
    elif method == "mean_std":
        value, params = float(scores.mean() + k * scores.std()), {"k": k}
    elif method == "pot":
        if not 0 < risk < 1 or not 0 < initial_quantile < 1:
            raise ValueError("risk and initial_quantile must be in (0, 1)")
        try:
            value, params = _pot(scores, risk, initial_quantile)
            params.update(risk=risk, initial_quantile=initial_quantile)
        except (ValueError, RuntimeError) as exc:
            # Too few or degenerate peaks: fall back to the quantile with the same exceedance, and say so.
            q = min(1.0 - risk, 1.0 - 1.0 / (scores.size + 1))
            log.warning("peaks-over-threshold fit failed (%s); using the %.4f quantile instead", exc, q)
            value = float(np.quantile(scores, q))
            params = {"risk": risk, "fallback": f"quantile {q:.4f}", "reason": str(exc)}
        # A Pareto tail with a strongly negative shape can end below the observed maximum of normal data.
        value = max(value, float(np.quantile(scores, initial_quantile)))
    else:
        raise ValueError(f"unknown threshold method {method!r} (quantile, mean_std, pot)")
    # A zero threshold would flag perfectly reconstructed windows; the contract requires > 0 too.
    value = max(value, float(np.finfo(np.float32).tiny))
    return Threshold(value=value, method=method, params=params, n_scores=int(scores.size))
