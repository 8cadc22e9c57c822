"""How often the edge's drift report cries wolf, and whether it still sees the real change: Evidently's
default for large references (the normed Wasserstein distance, column threshold 0.1) against the agent's
default (PSI, 0.2), on simulated telemetry through the drift worker's own report function.

1. Normal production with 2 % defective welds: the newest `--ring` windows every 2,500 windows; the
   share of reports with a drift share of 0.25 or more (false alarms).
2. One gas-loss weld (the kind that moves a profile column furthest) among 12, 24 and 48 normal welds.
3. The drift material: a ring of it alone, and half of it with half of normal production.

Run: `.venv/bin/python benchmarks/drift_methods.py` (about 1 minute on 2 cores; `make bench` runs it).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._common import machine
from edge_agent.agent.drift.evidently_report import drift_report
from edge_agent.features import fill_missing, standardise, window_matrix, window_profile
from edge_agent.simulator import SIGNALS, AnomalyKind, SyntheticWeldGenerator
from tests.edge_agent.agent.drift.regimes import scored_windows
from tests.edge_agent.agent.scoring.packages import SPEC

METHODS = {
    "wasserstein (Evidently's default)": ("wasserstein", None),
    "psi (the agent's default)": ("psi", 0.2),
}
SHARE = 0.25


def _windows(generator: SyntheticWeldGenerator) -> np.ndarray:
    weld = generator.next_weld()
    values = np.column_stack([weld.signals[s] for s in SIGNALS])
    return window_matrix(standardise(fill_missing(values), SPEC), SPEC.window, SPEC.stride)


def _line(seed: int, welds: int, **options: object) -> np.ndarray:
    cells = [SyntheticWeldGenerator(cell=f"cell-{i:02d}", seed=seed, **options) for i in (1, 2, 3)]  # type: ignore[arg-type]
    return np.concatenate([_windows(g) for _ in range(welds) for g in cells])


def _share(windows: np.ndarray, reference: pd.DataFrame, method: str, threshold: float | None) -> float:
    current = pd.DataFrame(window_profile(windows, SPEC))
    return drift_report(current, reference, SHARE, method=method, threshold=threshold).share


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ring", type=int, default=2000, help="windows per report in part 1")
    parser.add_argument("--normal-welds", type=int, default=100, help="welds per cell of normal production")
    args = parser.parse_args()
    print(machine())
    reference = pd.DataFrame(window_profile(_line(11, 4)[:5000], SPEC))
    print(f"reference: {len(reference)} windows of 12 normal welds (3 cells x 4)")
    normal = _line(12, args.normal_welds, anomaly_rate=0.02)
    drift = _line(13, 20, drift=True, anomaly_rate=0.02)
    defects = {
        welds: scored_windows(cells=3, welds=welds // 3, seed=5, drift=False, defect=AnomalyKind.GAS_LOSS)
        for welds in (12, 24, 48)
    }
    rates: dict[str, float] = {}
    for label, (method, threshold) in METHODS.items():
        shares = np.array([
            _share(normal[end - args.ring : end], reference, method, threshold)
            for end in range(args.ring, len(normal), 2500)
        ])  # fmt: skip
        rates[label] = float(np.mean(shares >= SHARE))
        one = " / ".join(f"{_share(w, reference, method, threshold):.1f}" for w in defects.values())
        whole = _share(drift[: args.ring], reference, method, threshold)
        half = _share(np.concatenate([normal[-args.ring // 2 :], drift[: args.ring - args.ring // 2]]),
                      reference, method, threshold)  # fmt: skip
        print(f"\n== {label}")
        print(f"   normal, 2 % defects: {len(shares)} reports of {args.ring} windows, "
              f"{rates[label]:.2f} drifted (share: mean {shares.mean():.2f}, max {shares.max():.2f})")  # fmt: skip
        print(f"   one gas-loss weld among 12 / 24 / 48 welds: drift share {one}")
        print(f"   drift material: whole ring {whole:.1f}, half the ring {half:.1f} (>= {SHARE} is drift)")
    base, ours = rates.values()
    print(f"\nfalse drift rate in normal production: psi {ours:.2f} vs wasserstein {base:.2f}")


if __name__ == "__main__":
    main()
