"""`python -m edge_agent.simulator` (or `uns-simulator`): publish a simulated welding line to a broker.

Drift can be switched at run time: `kill -USR1 <pid>` toggles the drift material, or `--drift-after S`
switches it on after S seconds.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

from edge_agent.domain.flash_butt import default_flash_butt_dir, flash_butt_records, iter_flash_butt
from edge_agent.domain.lines import LineAddress
from edge_agent.domain.welds import Weld
from edge_agent.simulator.line import LineConfig, WeldLine
from edge_agent.simulator.publisher import publish_line
from edge_agent.simulator.welds import AnomalyKind
from edge_agent.uns.endpoint import add_endpoint_arguments, endpoint_from_arguments

__all__ = ["PASSWORD_VARIABLE", "main", "parse_args"]

PASSWORD_VARIABLE = "UNS_SIMULATOR_PASSWORD"


def _kinds(text: str) -> tuple[AnomalyKind, ...]:
    try:
        return tuple(AnomalyKind(k.strip()) for k in text.split(",") if k.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"anomaly kinds must be among {[k.value for k in AnomalyKind]}"
        ) from None


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="uns-simulator", description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    add_endpoint_arguments(p, PASSWORD_VARIABLE)
    p.add_argument("--enterprise", default="acme")
    p.add_argument("--site", default="plant-1")
    p.add_argument("--area", default="body-shop")
    p.add_argument("--line", default="line-1")
    p.add_argument("--cells", type=int, default=3, help="number of synthetic cells (cell-01, cell-02, ...)")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--rate-hz", type=float, default=1000.0, help="samples per second per signal")
    p.add_argument("--batch", type=int, default=100, help="samples per message")
    p.add_argument("--anomaly-rate", type=float, default=0.0, help="share of welds with a defect")
    p.add_argument("--anomaly-kinds", type=_kinds, default=tuple(AnomalyKind))
    p.add_argument("--drift-after", type=float, help="switch to the drift material after this many seconds")
    p.add_argument("--speed", type=float, default=1.0, help="simulated/wall time; 0 = as fast as possible")
    p.add_argument("--duration", type=float, help="seconds of wall time to run (default: until Ctrl-C)")
    p.add_argument("--max-messages", type=int)
    p.add_argument("--qos", type=int, choices=[0, 1, 2], default=1)
    p.add_argument("--seq-start", type=int, help="first sequence number (default: the start time in ms)")
    p.add_argument(
        "--replay-flash-butt",
        nargs="?",
        const=str(default_flash_butt_dir()),
        metavar="DIR",
        help="also replay the real flash-butt welds in DIR as cell --replay-cell",
    )
    p.add_argument("--replay-cell", default="cell-fb")
    p.add_argument("--replay-limit", type=int, help="replay at most this many welds")
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    endpoint = endpoint_from_arguments(args)
    config = LineConfig(
        address=LineAddress(args.enterprise, args.site, args.area, args.line),
        cells=tuple(f"cell-{i:02d}" for i in range(1, args.cells + 1)),
        seed=args.seed,
        sample_rate_hz=args.rate_hz,
        batch_size=args.batch,
        anomaly_rate=args.anomaly_rate,
        anomaly_kinds=args.anomaly_kinds,
        seq_start=args.seq_start,
    )
    replay: dict[str, Iterator[Weld]] = {}
    line = WeldLine(config)
    if args.replay_flash_butt:
        try:
            records = flash_butt_records(Path(args.replay_flash_butt))
        except FileNotFoundError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        replay[args.replay_cell] = iter_flash_butt(records[: args.replay_limit], line.start_ms)
        line = WeldLine(LineConfig(**{**config.__dict__, "start_ms": line.start_ms}), replay)
    stop = threading.Event()
    drift = {"on": False}

    def stop_on_signal(*_: object) -> None:
        stop.set()

    def toggle_drift(*_: object) -> None:
        drift["on"] = not drift["on"]
        line.set_drift(drift["on"])
        logging.info("drift material %s", "on" if drift["on"] else "off")

    handlers = {signal.SIGUSR1: toggle_drift, signal.SIGTERM: stop_on_signal, signal.SIGINT: stop_on_signal}
    previous = {signum: signal.signal(signum, handler) for signum, handler in handlers.items()}
    timer = threading.Timer(args.drift_after or 0.0, toggle_drift)
    timer.daemon = True
    try:
        if args.drift_after is not None:
            timer.start()
        report = publish_line(
            line,
            endpoint,
            duration_s=args.duration,
            max_messages=args.max_messages,
            speed=args.speed,
            qos=args.qos,
            stop=stop,
            record=False,
        )
    finally:
        timer.cancel()
        for signum, handler in previous.items():  # main() may run inside a larger program (tests)
            signal.signal(signum, handler)
    for topic, count in sorted(report.per_topic.items()):
        print(f"{count:8d}  {topic}")
    print(f"{report.messages} messages in {report.seconds:.1f} s ({report.rate:.0f} msg/s), all acknowledged")
    return 0
