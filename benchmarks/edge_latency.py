"""Scoring at the edge: publish-to-score latency and scoring throughput through the real agent, against the
bare ONNX Runtime call on the same windows, in the same run.

1. Latency: 10 cells at 1 kHz (100-sample batches, 100 messages a second in all) are published in real
   time to Mosquitto; a real agent process (validation and scoring worker processes, durable capture,
   checkpoints, outbox) scores them with a package built by the platform's own code. Each batch's publish
   time is compared with the moment its result arrives on `.../weld/anomaly` at a subscriber: publish,
   broker, agent (validate, group commit with fdatasync, score, outbox), broker, subscriber.
2. Throughput: N batches published as fast as the broker takes them; the clock runs from the first
   publish to the last result received.
3. Baseline: the same model in ONNX Runtime (one thread), called once per batch on that batch's windows
   (what the agent's worker does per batch), and on batches of 1,024 windows.

    .venv/bin/python benchmarks/edge_latency.py [--seconds 20] [--messages 10000]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
import orjson
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._common import machine, row
from edge_agent.features import load_package, standardise, window_matrix
from edge_agent.simulator import LineConfig, WeldLine
from edge_agent.uns.endpoint import MqttEndpoint, connect_and_wait, new_client, publish_confirmed
from edge_agent.uns.local_broker import LocalBroker
from tests.edge_agent.agent.scoring.packages import ADDRESS, KEY_ID, PUBLIC_KEY, deploy, make_package

REPO = Path(__file__).resolve().parents[1]
CELLS = tuple(f"cell-{i:02d}" for i in range(1, 11))
START_MS = 1_763_740_800_000


class Results:
    """Receipt time of every result, by (cell, seq)."""

    def __init__(self, endpoint: MqttEndpoint) -> None:
        self.received: dict[tuple[str, int], float] = {}
        self.lock = threading.Condition()
        self.client = new_client(endpoint, "bench-results")
        self.client.on_message = self._on_message
        connect_and_wait(self.client, endpoint)
        self.client.subscribe(f"{ADDRESS.prefix}/+/weld/anomaly", qos=1)

    def _on_message(self, client: Any, userdata: Any, message: Any) -> None:
        now = time.time()
        result = orjson.loads(message.payload)
        if "seq" in result:
            with self.lock:
                self.received.setdefault((message.topic.split("/")[4], result["seq"]), now)
                self.lock.notify_all()

    def wait_for(self, keys: set[tuple[str, int]], timeout_s: float) -> bool:
        with self.lock:
            return self.lock.wait_for(lambda: keys <= self.received.keys(), timeout_s)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def start_agent(work: Path, port: int) -> subprocess.Popen[bytes]:
    config = {
        "agent_id": "edge-bench",
        "mqtt": {"port": port},
        "spool": {"dir": str(work / "spool")},
        "landing": {"url": str(work / "landing")},
        "heartbeat": {"interval_s": 1},
        "log": {"level": "WARNING", "format": "text"},
        "model": {"public_key": PUBLIC_KEY, "key_id": KEY_ID},
        **json.loads(os.environ.get("BENCH_AGENT_EXTRA", "{}")),
    }
    path = work / "edge.yaml"
    path.write_text(yaml.safe_dump(config))
    log = (work / "agent.log").open("ab")
    return subprocess.Popen([sys.executable, "-m", "edge_agent", "run", "--config", str(path)], cwd=REPO,
                            stdout=log, stderr=log)  # fmt: skip


def wait_serving(endpoint: MqttEndpoint, version: str, timeout_s: float = 60.0) -> None:
    seen = threading.Event()

    def on_message(client: Any, userdata: Any, message: Any) -> None:
        model = orjson.loads(message.payload).get("model") or {}
        if model.get("version") == version and model.get("ready"):
            seen.set()

    client = new_client(endpoint, "bench-heartbeat")
    client.on_message = on_message
    connect_and_wait(client, endpoint)
    client.subscribe(f"{ADDRESS.prefix}/_edge/edge-bench/heartbeat", qos=1)
    try:
        if not seen.wait(timeout_s):
            raise TimeoutError(f"the agent did not serve model {version} within {timeout_s} s")
    finally:
        client.disconnect()
        client.loop_stop()


def publish_paced(
    endpoint: MqttEndpoint, seconds: float, speed: float, seed: int
) -> dict[tuple[str, int], float]:
    """Publish the line's batches at `speed` times real time for `seconds`; publish time per (cell, seq)."""
    line = WeldLine(LineConfig(cells=CELLS, seed=seed, start_ms=START_MS + seed * 10_000_000))
    client = new_client(endpoint, f"bench-cells-{seed}")
    client.max_inflight_messages_set(1000)
    connect_and_wait(client, endpoint)
    sent: dict[tuple[str, int], float] = {}
    started = time.monotonic()
    first_ms: int | None = None
    try:
        for cell, topic, batch in line.batches():
            first_ms = batch.timestamp_ms if first_ms is None else first_ms
            due = (batch.timestamp_ms - first_ms) / 1000.0 / speed if speed > 0 else 0.0
            if due >= seconds:
                break
            if speed > 0 and due > time.monotonic() - started:
                time.sleep(due - (time.monotonic() - started))
            sent[(cell, batch.seq)] = time.time()
            client.publish(topic, orjson.dumps(batch.payload), qos=1)
    finally:
        client.disconnect()
        client.loop_stop()
    return sent


def publish_burst(endpoint: MqttEndpoint, count: int, seed: int) -> tuple[dict[tuple[str, int], float], list]:
    line = WeldLine(LineConfig(cells=CELLS, seed=seed, start_ms=START_MS + seed * 10_000_000))
    batches = line.batches()
    items = [next(batches) for _ in range(count)]
    messages = [(topic, orjson.dumps(batch.payload)) for _, topic, batch in items]
    started = time.time()
    publish_confirmed(endpoint, messages, client_id=f"bench-burst-{seed}")
    return {(cell, batch.seq): started for cell, _, batch in items}, [b for _, _, b in items]


def percentiles_ms(values: list[float]) -> tuple[float, float, float]:
    p50, p99 = np.percentile(values, [50, 99])
    return float(p50) * 1000, float(p99) * 1000, max(values) * 1000


def bare_onnx(package_dir: Path, batches: list, repeats: int = 3) -> dict[str, float]:
    """The package's model in ONNX Runtime (one thread), once per batch on that batch's windows, and on
    batches of 1,024 windows; the windows cut with the same feature code the agent uses."""
    package = load_package(package_dir, PUBLIC_KEY, key_id=KEY_ID)
    spec = package.spec
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(str(package.model_path), options, providers=["CPUExecutionProvider"])
    per_batch = []
    for batch in batches:
        values = np.column_stack([np.asarray(batch.payload["signals"][s]) for s in spec.signals])
        windows = window_matrix(standardise(values, spec), spec.window, spec.stride)
        if len(windows):
            per_batch.append(windows)
    latencies = []
    best_pass = float("inf")
    for _ in range(repeats):
        pass_started = time.perf_counter()
        for windows in per_batch:
            started = time.perf_counter()
            session.run(["score", "signal_errors"], {"windows": windows})
            latencies.append(time.perf_counter() - started)
        best_pass = min(best_pass, time.perf_counter() - pass_started)
    big = np.concatenate(per_batch)[:1024]
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        for _ in range(20):
            session.run(["score", "signal_errors"], {"windows": big})
        best = min(best, (time.perf_counter() - started) / 20)
    p50, p99 = np.percentile(latencies, [50, 99])
    return {"p50_us": float(p50) * 1e6, "p99_us": float(p99) * 1e6, "windows_per_s": len(big) / best,
            "batches_per_s": len(per_batch) / best_pass,
            "windows_per_batch": float(np.mean([len(w) for w in per_batch]))}  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=20.0, help="latency phase, wall seconds")
    parser.add_argument("--messages", type=int, default=10_000, help="throughput phase, batches")
    args = parser.parse_args()
    print(f"edge scoring latency and throughput ({machine()}, load average {os.getloadavg()[0]:.2f})")
    with tempfile.TemporaryDirectory() as tmp, LocalBroker(Path(tmp) / "broker", kind="mosquitto") as broker:
        work = Path(tmp)
        endpoint = MqttEndpoint(port=broker.port)
        manifest = make_package(work / "package", "1")
        deployment = deploy(
            work / "landing", work / "package", manifest, published_ms=int(time.time() * 1000)
        )
        topic = f"{ADDRESS.prefix}/_model/manifest"
        publish_confirmed(
            endpoint, [(topic, orjson.dumps(deployment))], client_id="bench-platform", retain=True
        )
        agent = start_agent(work, broker.port)
        results = Results(endpoint)
        try:
            wait_serving(endpoint, "1")
            sent = publish_paced(endpoint, args.seconds, speed=1.0, seed=1)
            if not results.wait_for(set(sent), 120):
                raise TimeoutError("not every paced batch got its result")
            latency = [results.received[key] - at for key, at in sent.items()]
            burst, batches = publish_burst(endpoint, args.messages, seed=2)
            started = min(burst.values())
            if not results.wait_for(set(burst), 600):
                raise TimeoutError("not every burst batch got its result")
            took = max(results.received[key] for key in burst) - started
        finally:
            results.close()
            agent.send_signal(signal.SIGTERM)
            agent.wait(60)
        bare = bare_onnx(work / "package", batches[:2000])
    p50, p99, worst = percentiles_ms(latency)
    print(
        f"\n1. publish-to-score latency, {len(CELLS)} cells at 1 kHz, 100-sample batches, {len(sent):,} batches"
    )
    row("agent: publish -> result received, p50", p50, "ms")
    row("agent: publish -> result received, p99", p99, "ms", "(aim: < 5 ms)")
    row("agent: publish -> result received, max", worst, "ms")
    row("bare ONNX Runtime, one call per batch, p50", bare["p50_us"] / 1000, "ms",
        f"({bare['windows_per_batch']:.1f} windows per batch)")  # fmt: skip
    row("bare ONNX Runtime, one call per batch, p99", bare["p99_us"] / 1000, "ms")
    print(f"\n2. throughput, {args.messages:,} batches published at once")
    rate = args.messages / took
    row("agent: batches scored per second (end to end)", rate, "batch/s",
        f"({rate * bare['windows_per_batch']:,.0f} windows/s)")  # fmt: skip
    row("bare ONNX Runtime, one call per batch", bare["batches_per_s"], "batch/s", "(the same windows)")
    row("ratio agent / bare ONNX call", rate / bare["batches_per_s"], "x")
    row("bare ONNX Runtime, batches of 1,024 windows", bare["windows_per_s"], "win/s", "(reference)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
