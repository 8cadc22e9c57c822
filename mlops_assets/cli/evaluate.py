"""`mlops evaluate`: train on a normal CSV export, score another one row by row (bring your own data).

Runs the asset graph's feature, training, threshold and scoring code (`mlops_assets.ml`) on two files;
writes one row per data row of the test file (blank lines are not rows), in input order, with `score`
and `is_anomaly`; prints metrics when the test file has labels. The label column of either file is the
one `--label-column` names, else one named like a label. Heavy imports happen inside `run`, so
`mlops --help` stays fast.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path
from typing import Any

__all__ = ["register", "run"]


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "evaluate",
        help="train on a normal CSV, write per-row anomaly scores for another CSV",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--train", type=Path, required=True, help="CSV of normal operation (the model learns it)")
    p.add_argument("--test", type=Path, required=True, help="CSV to score (one output row per row)")
    p.add_argument("--out", type=Path, required=True, help="predictions CSV: score,is_anomaly")
    p.add_argument(
        "--label-column", help="0/1, boolean or text labels in the test file (auto-detected by name)"
    )
    p.add_argument("--time-column", help="time column (auto-detected when omitted); never a signal")
    p.add_argument("--sep", help="field separator (sniffed from the first line when omitted)")
    p.add_argument(
        "--no-header",
        action="store_true",
        help="the files have no header line (by default: a first line with text where the second has "
        "numbers or dates names the columns)",
    )
    p.add_argument("--window", type=int, help="rows per window (chosen from the data when omitted)")
    p.add_argument("--threshold-method", choices=["pot", "quantile", "mean_std"], default="pot")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--max-seconds", type=float, default=600.0, help="training time budget")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.set_defaults(handler=run)


def _fmt(value: Any) -> str:
    if value is None:
        return "n/a"
    return f"{value:.4f}" if isinstance(value, float) else str(value)


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    from mlops_assets.ml.autoencoder.metrics import HEADLINE_METRICS
    from mlops_assets.ml.byod.detector import DetectorOptions
    from mlops_assets.ml.byod.evaluate_csv import evaluate_files

    started = time.monotonic()
    options = DetectorOptions(
        window=args.window,
        threshold_method=args.threshold_method,
        seed=args.seed,
        max_seconds=args.max_seconds,
    )
    try:
        result = evaluate_files(
            args.train,
            args.test,
            args.out,
            label_column=args.label_column,
            time_column=args.time_column,
            sep=args.sep,
            options=options,
            header=False if args.no_header else None,
        )
    except (FileNotFoundError, ValueError) as exc:
        print(f"mlops evaluate: error: {exc}", file=sys.stderr)
        return 2
    info = result.detector.info
    summary = {
        "time_column": result.columns.time,
        "time_column_reason": result.columns.time_reason,
        "signals": result.columns.signals,
        "ignored_columns": result.columns.ignored,
        "notes": result.notes,
        "model": info,
        "threshold": result.detector.threshold.to_dict(),
        "test_rows": len(result.scores),
        "alarms": int(result.is_anomaly.sum()),
        "metrics": result.metrics,
        "seconds": round(time.monotonic() - started, 1),
        "predictions": str(args.out),
    }
    if args.json:
        print(json.dumps(summary, indent=2, default=str))
        return 0
    why = f" ({result.columns.time_reason})" if result.columns.time else ""
    print(f"time column: {result.columns.time or '(none)'}{why}")
    print(f"signals ({len(result.columns.signals)}): {', '.join(result.columns.signals)}")
    for name, why in result.columns.ignored.items():
        print(f"ignored column {name!r}: {why}")
    for name, why in info["dropped_signals"].items():
        print(f"signal {name!r} not modelled: {why}")
    for note in result.notes:
        print(note)
    print(
        f"window {info['window']} rows, {info['train_windows']} training windows, {info['epochs']} epochs "
        f"(best {info['best_epoch']}; {info['stop_reason']}), {info['training_seconds']} s"
    )
    threshold = result.detector.threshold
    print(
        f"threshold {threshold.value:.6g} ({threshold.method}, from {threshold.n_scores} validation rows of the training file)"
    )
    print(f"{len(result.scores)} rows scored, {int(result.is_anomaly.sum())} flagged -> {args.out}")
    if result.metrics is not None:
        m = result.metrics
        print("metrics (rows):")
        for key in HEADLINE_METRICS:
            print(f"  {key:<18} {_fmt(m.get(key))}")
    return 0
