"""Measure the training graph on the real flash-butt welds: `python -m mlops_assets.ml.flash_butt_eval`.

The split is fixed before any result is seen: welds in acquisition order (parsed from the file name,
`yyyy m dd hmmss` without zero padding), the earliest 70 % of the good welds train (the latest 20 % of
those validate), the later 30 % of the good welds and all 50 bad welds are the test set. Training uses
good welds only. The same steps as the Dagster assets (`mlops_assets.ml.steps`) on a temporary lake.
`--split random` draws the held-out good welds with a fixed seed instead.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from edge_agent.simulator import FlashButtRecord, LineAddress, flash_butt_records, read_flash_butt
from mlops_assets.lake import VALIDATED_TELEMETRY, LakeStore
from mlops_assets.ml import steps
from mlops_assets.ml.feature_table import read_windows
from mlops_assets.ml.labels import flash_butt_labels, label_map, write_labels
from mlops_assets.ml.metrics import detection_metrics
from mlops_assets.ml.model import AutoencoderConfig
from mlops_assets.ml.scoring import score_windows
from mlops_assets.ml.silver_writer import silver_rows, write_silver

__all__ = ["acquisition_time", "main", "measure"]

START_MS = 1_763_740_800_000


def acquisition_time(record: FlashButtRecord) -> dt.datetime:
    """Kept for callers; the parsing lives on the record."""
    return record.acquired_at


def measure(
    records: Sequence[FlashButtRecord],
    lake: Path,
    *,
    window: int = 32,
    stride: int = 8,
    config: AutoencoderConfig | None = None,
    threshold_method: str = "quantile",
    aggregations: Sequence[str] = ("mean", "max", "p90"),
) -> dict[str, object]:
    """Train and evaluate on `records` (acquisition order = replay order); returns the figures."""
    store = LakeStore(str(lake))
    config = config or AutoencoderConfig()
    address = LineAddress(line="flash-butt")
    welds, clock = [], START_MS
    for record in records:
        weld = read_flash_butt(record, clock)
        welds.append(weld)
        clock += int(weld.duration_ms) + 2000
    write_silver(store, silver_rows(welds, "cell-fb", address))
    write_labels(store, flash_butt_labels(records, address.line))
    telemetry = store.read(VALIDATED_TELEMETRY, line=address.line).sort("cell", "ts")
    build = steps.build_features(
        store,
        address.line,
        telemetry,
        label_map(store, address.line),
        window=window,
        stride=stride,
        val_fraction=0.2,
        holdout_fraction=0.3,
    )
    started = time.monotonic()
    result, spec, _ = steps.train_from_lake(store, address.line, config)
    val, val_meta = read_windows(store, address.line, ["validation"])
    test, test_meta = read_windows(store, address.line, ["holdout"])
    figures: dict[str, object] = {
        "welds": build.split.summary(),
        "windows": build.windows,
        "epochs": len(result.history),
        "best_epoch": result.best_epoch,
        "train_seconds": round(time.monotonic() - started, 1),
        "signals": list(spec.signals),
        "window": window,
        "stride": stride,
    }
    scores, _ = score_windows(result.scorer, test)
    for aggregation in aggregations:
        bundle, _, _ = steps.fit_thresholds(
            result.scorer, spec, val, val_meta, threshold_method, {}, aggregation
        )
        _window_metrics, weld_metrics, _ = steps.evaluate_windows(result.scorer, test, test_meta, bundle)
        figures[f"weld_{aggregation}"] = {
            k: weld_metrics[k]
            for k in (
                "n",
                "n_anomalous",
                "precision",
                "recall",
                "f1",
                "false_alarm_rate",
                "missed_alarm_rate",
                "roc_auc",
                "average_precision",
            )
        }
    labels = (test_meta["label"].fill_null(0).to_numpy() == 1).astype(np.int8)
    figures["window_roc_auc"] = detection_metrics(labels, scores, float("inf"))["roc_auc"]
    return figures


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--split", choices=["time", "random"], default="time")
    parser.add_argument("--max-epochs", type=int, default=40)
    args = parser.parse_args(argv)
    records = sorted(flash_butt_records(), key=acquisition_time)
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
        figures = measure(records, Path(tmp) / "lake", config=AutoencoderConfig(max_epochs=args.max_epochs))
    print(json.dumps({"split": args.split, **figures}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
