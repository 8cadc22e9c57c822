"""Measure the training graph on the real flash-butt welds:
`python -m mlops_assets.ml.evaluation.flash_butt_eval [--split time|random]`.

One model, trained on good welds only, on a temporary lake with the assets' steps, and two weld scores
(`line_eval`): `shape` and `combined`. `--split time` (the product's split) also reports the study's DEV
and TEST welds (`study_split`); protocols and results: README, "Results on the real flash-butt welds".
"""

from __future__ import annotations

import argparse
import json
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from edge_agent.domain import FlashButtRecord, LineAddress, flash_butt_records, read_flash_butt
from mlops_assets.lake import LakeStore
from mlops_assets.ml.autoencoder.model import AutoencoderConfig
from mlops_assets.ml.evaluation.line_eval import evaluate_line
from mlops_assets.ml.evaluation.silver_welds import silver_rows, write_silver
from mlops_assets.ml.training.labels import flash_butt_labels, write_labels

__all__ = ["main", "measure", "study_split"]

START_MS = 1_763_740_800_000
LINE = "flash-butt"


def study_split(records: Sequence[FlashButtRecord]) -> dict[str, set[str]]:
    """Weld ids of the study's splits, records in acquisition order: the earliest 70 % of the good welds
    train (the latest 20 % of those validate), as in the product's split; the later good welds and the
    bad welds, in time order, alternate between DEV (even positions) and TEST (odd)."""
    ordered = sorted(records, key=lambda r: r.acquired_at)
    good = [r.weld_id for r in ordered if r.good]
    bad = [r.weld_id for r in ordered if not r.good]
    n_pool = int(0.7 * len(good))
    pool, held = good[:n_pool], good[n_pool:]
    n_val = int(0.2 * n_pool)
    return {
        "train": set(pool[: n_pool - n_val]),
        "validation": set(pool[n_pool - n_val :]),
        "dev": set(held[0::2]) | set(bad[0::2]),
        "test": set(held[1::2]) | set(bad[1::2]),
    }


def measure(
    records: Sequence[FlashButtRecord],
    lake: Path,
    *,
    window: int = 32,
    stride: int = 8,
    config: AutoencoderConfig | None = None,
    threshold_method: str = "quantile",
    aggregations: Sequence[str] = ("mean", "max", "p90"),
    study: dict[str, set[str]] | None = None,
) -> dict[str, Any]:
    """Replay `records` (acquisition order = replay order) into a lake, train and evaluate.

    `study`: weld ids of `study_split`, to report DEV and TEST (first aggregation) as well."""
    store = LakeStore(str(lake))
    welds, clock = [], START_MS
    for record in records:
        weld = read_flash_butt(record, clock)
        welds.append(weld)
        clock += int(weld.duration_ms) + 2000
    write_silver(store, silver_rows(welds, "cell-fb", LineAddress(line=LINE)))
    write_labels(store, flash_butt_labels(records, LINE))
    subsets = None if study is None else {"dev": study["dev"], "test": study["test"]}
    figures = evaluate_line(
        store,
        LINE,
        window=window,
        stride=stride,
        config=config,
        threshold_method=threshold_method,
        aggregations=aggregations,
        subsets=subsets,
    )
    fitted = figures.pop("fit_weld_ids")
    if study is not None:
        figures["study_same_train_validation"] = all(fitted[k] == study[k] for k in fitted)
        figures["study"] = figures.pop("subsets")
    else:
        figures.pop("subsets")
    return figures


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--split", choices=["time", "random"], default="time")
    parser.add_argument("--max-epochs", type=int, default=40)
    args = parser.parse_args(argv)
    records = sorted(flash_butt_records(), key=lambda r: r.acquired_at)
    study = study_split(records) if args.split == "time" else None
    if args.split == "random":
        # The held-out good welds drawn with seed 0, replayed last so the time-ordered split holds them out.
        good = [r for r in records if r.good]
        held = set(np.random.default_rng(0).permutation(len(good))[: round(0.3 * len(good))].tolist())
        records = (
            [r for i, r in enumerate(good) if i not in held]
            + [r for r in records if not r.good]
            + [good[i] for i in sorted(held)]
        )
    with tempfile.TemporaryDirectory() as tmp:
        figures = measure(
            records, Path(tmp) / "lake", config=AutoencoderConfig(max_epochs=args.max_epochs), study=study
        )
    print(json.dumps({"split": args.split, **figures}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
