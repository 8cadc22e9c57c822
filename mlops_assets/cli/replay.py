"""`mlops replay FILE.csv`: publish a historian export on the UNS as contract-valid weld telemetry.

The CSV becomes a cell of the simulator (`edge_agent.simulator`): same batching, same publisher, paced
at `--speed` times real time (0 = as fast as the broker takes it). Column names are mapped to
snake_case signal names, and the mapping is printed.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from pathlib import Path
from typing import Any

from edge_agent.simulator.cli import PASSWORD_VARIABLE
from edge_agent.uns.endpoint import add_endpoint_arguments

__all__ = ["register", "run"]


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "replay", help="publish a CSV export as weld telemetry on the UNS", description=__doc__
    )
    p.add_argument("file", type=Path)
    p.add_argument("--enterprise", default="acme")
    p.add_argument("--site", required=True)
    p.add_argument("--area", required=True)
    p.add_argument("--line", required=True)
    p.add_argument("--cell", required=True)
    p.add_argument("--speed", type=float, default=1.0, help="simulated/wall time; 0 = as fast as possible")
    add_endpoint_arguments(p, PASSWORD_VARIABLE)
    p.add_argument("--qos", type=int, choices=[0, 1, 2], default=1)
    p.add_argument("--batch", type=int, default=100, help="samples per message (at most 4096)")
    p.add_argument("--sep")
    p.add_argument("--time-column")
    p.add_argument("--label-column", help="a label column to leave out of the signals")
    p.add_argument(
        "--interval-ms", type=float, help="sample interval (default: from the time column, else 1000)"
    )
    p.add_argument("--signals", help="comma-separated CSV columns to publish (default: every numeric one)")
    p.add_argument("--start-ms", type=int, help="time of the first sample (default: now)")
    p.add_argument("--seq-start", type=int, help="first sequence number (default: the start time in ms)")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from edge_agent.domain import LineAddress
    from edge_agent.simulator import LineConfig, WeldLine, publish_line
    from edge_agent.uns.endpoint import endpoint_from_arguments
    from mlops_assets.ml.byod.replay_source import read_replay_source

    if not 1 <= args.batch <= 4096:
        print(
            "mlops replay: error: --batch must be within 1..4096 (the contract's n_samples)", file=sys.stderr
        )
        return 2
    start_ms = args.start_ms if args.start_ms is not None else int(time.time() * 1000)
    try:
        source = read_replay_source(
            args.file,
            start_ms=start_ms,
            sep=args.sep,
            time_column=args.time_column,
            label_column=args.label_column,
            interval_ms=args.interval_ms,
            signals=args.signals.split(",") if args.signals else None,
        )
    except (FileNotFoundError, ValueError) as exc:
        print(f"mlops replay: error: {exc}", file=sys.stderr)
        return 2
    print(f"time column: {source.time_column or '(none)'}; sample interval {source.sample_interval_ms:g} ms")
    print("column -> signal:")
    for column, name in source.mapping.items():
        print(f"  {column!r} -> {name}")
    for column, why in source.ignored.items():
        print(f"  {column!r} not published: {why}")
    address = LineAddress(args.enterprise, args.site, args.area, args.line)
    config = LineConfig(
        address=address, cells=(), batch_size=args.batch, start_ms=start_ms, seq_start=args.seq_start
    )
    line = WeldLine(config, replay={args.cell: iter(source.welds)})
    endpoint = endpoint_from_arguments(args)
    report = publish_line(
        line, endpoint, stop=threading.Event(), speed=args.speed, qos=args.qos, record=False
    )
    rows = sum(w.n_samples for w in source.welds)
    print(
        f"{rows} rows in {report.messages} messages to {address.cell_topic(args.cell)} in {report.seconds:.1f} s"
    )
    return 0
