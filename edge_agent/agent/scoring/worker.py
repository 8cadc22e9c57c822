"""The scoring worker process: `python -m edge_agent.agent.scoring.worker --public-key KEY [--key-id ID]`.

One `ScoringEngine` answering one request at a time over the worker pipe (`state_codec` documents):
load, activate, drop_shadow, discard, score, idle, snapshot, restore, windows (see `handle`).
`--drift-windows N` keeps the newest N windows the active model scores, for the drift monitor."""

from __future__ import annotations

import argparse
import logging
import sys
import traceback
from pathlib import Path
from typing import Any

import numpy as np

from edge_agent.agent.drift.rolling_windows import RollingWindows
from edge_agent.agent.pipeline.worker_protocol import serve
from edge_agent.agent.scoring.alerts import AlertPolicy
from edge_agent.agent.scoring.cell_stream import StreamLimits
from edge_agent.agent.scoring.engine import ScoreRecord, ScoringEngine
from edge_agent.agent.scoring.state_codec import pack, unpack

log = logging.getLogger("edge_agent.agent.scoring.worker")


def _bytes(value: Any) -> bytes | None:
    return None if value is None else np.asarray(value, dtype=np.uint8).tobytes()


def _records(raw: list[list[Any]]) -> list[ScoreRecord]:
    return [ScoreRecord(str(t), int(s), _bytes(b), _bytes(p)) for t, s, b, p in raw]


def handle(engine: ScoringEngine, request: dict[str, Any]) -> dict[str, Any]:
    op = request["op"]
    if op == "score":
        return {"results": engine.score(_records(request["records"]), float(request["now"]))}
    if op == "idle":
        return {"results": engine.close_idle(float(request["now"]), float(request["idle_s"]))}
    if op == "load":
        try:
            engine.load(str(request["version"]), Path(request["folder"]))
        except Exception as exc:  # reported to the model slot as the refusal's reason
            return {"ok": False, "error": str(exc) or repr(exc)}
        return {"ok": True}
    if op == "activate":
        engine.activate(str(request["version"]), bool(request["keep_shadow"]))
    elif op == "drop_shadow":
        engine.drop_shadow()
    elif op == "discard":
        engine.discard(str(request["version"]))
    elif op == "snapshot":
        return {"state": engine.snapshot()}
    elif op == "restore":
        engine.restore(request["state"])
    elif op == "windows":
        return {"windows": engine.take_windows(int(request["min_new"]))}
    else:
        raise ValueError(f"unknown request {op!r}")
    return {"ok": True}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scoring_worker")
    parser.add_argument("--public-key", required=True)
    parser.add_argument("--key-id", default=None)
    parser.add_argument("--raise-after", type=int, default=AlertPolicy.raise_after)
    parser.add_argument("--clear-after", type=int, default=AlertPolicy.clear_after)
    parser.add_argument("--clear-ratio", type=float, default=AlertPolicy.clear_ratio)
    parser.add_argument("--max-weld-samples", type=int, default=StreamLimits.max_weld_samples)
    parser.add_argument("--drift-windows", type=int, default=0, help="windows kept for drift (0: none)")
    args = parser.parse_args(argv)
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING)
    engine = ScoringEngine(
        public_key=args.public_key,
        key_id=args.key_id,
        policy=AlertPolicy(args.raise_after, args.clear_after, args.clear_ratio),
        limits=StreamLimits(max_weld_samples=args.max_weld_samples),
        windows=RollingWindows(args.drift_windows) if args.drift_windows > 0 else None,
    )

    def answer(body: bytes) -> bytes:
        request = unpack(body)
        try:
            return pack(handle(engine, request))
        except Exception as exc:  # the agent counts it and goes on; the stream state is kept
            log.error("scoring request %s failed: %s", request.get("op"), traceback.format_exc())
            return pack({"failed": f"{request.get('op')}: {exc!r}"})

    return serve(answer, {"model": None})


if __name__ == "__main__":
    raise SystemExit(main())
