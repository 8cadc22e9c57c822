"""What the weld-duration component costs on simulated welds:
`python -m mlops_assets.ml.evaluation.simulator_eval [--seeds ...] [--cells N --per-cell M]`.

The test chain's setup (two cells, 15 % defective welds, 200 Hz, a small autoencoder) for several seeds,
`shape` and `combined` weld scores from one model (`line_eval`); results: README, "The duration
component on simulated welds".
"""

from __future__ import annotations

import argparse
import json
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from edge_agent.domain import LineAddress
from edge_agent.simulator import SyntheticWeldGenerator
from mlops_assets.lake import LakeStore
from mlops_assets.ml.autoencoder.model import AutoencoderConfig
from mlops_assets.ml.evaluation.line_eval import evaluate_line
from mlops_assets.ml.evaluation.silver_welds import silver_rows, write_silver
from mlops_assets.ml.training.labels import _frame, write_labels

__all__ = ["main", "measure_seed"]

START_MS = 1_763_740_800_000
LINE = "sim"
# The tests' chain (tests/mlops_assets/defs/training): its cells, rates and fast autoencoder.
CHAIN_CONFIG = AutoencoderConfig(hidden=(64, 16), latent=6, max_epochs=12)


def measure_seed(lake: Path, seed: int, cells: int, per_cell: int, anomaly_rate: float) -> dict[str, Any]:
    store = LakeStore(str(lake))
    labels = []
    for index in range(cells):
        cell = f"cell-{index + 1:02d}"
        generator = SyntheticWeldGenerator(
            cell=cell, seed=seed, anomaly_rate=anomaly_rate, sample_rate_hz=200.0, start_ms=START_MS
        )
        welds = [generator.next_weld() for _ in range(per_cell)]
        write_silver(store, silver_rows(welds, cell, LineAddress(line=LINE)))
        labels += [(w.weld_id, w.label is not None, w.label) for w in welds]
    write_labels(store, _frame(LINE, labels, "simulator"))
    figures = evaluate_line(store, LINE, config=CHAIN_CONFIG)
    return {"seed": seed, "welds": figures["welds"], **figures["holdout"]["mean"]}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seeds", type=int, nargs="+", default=[3, 4, 5])
    parser.add_argument("--cells", type=int, default=2)
    parser.add_argument("--per-cell", type=int, default=40)
    parser.add_argument("--anomaly-rate", type=float, default=0.15)
    args = parser.parse_args(argv)
    runs = []
    for seed in args.seeds:
        with tempfile.TemporaryDirectory() as tmp:
            runs.append(measure_seed(Path(tmp) / "lake", seed, args.cells, args.per_cell, args.anomaly_rate))
    pooled: dict[str, dict[str, float]] = {}
    for score in ("shape", "combined", "duration_alone"):
        n, bad, tp, fp = (sum(int(r[score][k]) for r in runs) for k in ("n", "n_anomalous", "tp", "fp"))
        pooled[score] = {
            "welds": n,
            "anomalous": bad,
            "tp": tp,
            "fp": fp,
            "recall": tp / bad if bad else float("nan"),
            "false_alarm_rate": fp / (n - bad) if n > bad else float("nan"),
            "f1": 2 * tp / (2 * tp + fp + bad - tp) if bad else float("nan"),
        }
    print(json.dumps({"runs": runs, "pooled": pooled}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
