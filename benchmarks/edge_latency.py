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
4. Drift reports: the same paced stream through three more agents, one after the other: the drift
   monitor off; on but idle (no report due: the scoring worker only keeps the windows); on and reporting
   back to back (period 0.5 s, Evidently in its worker process, its import paid before the clock starts).
   Publish-to-result latency and the scoring worker's time per batch, with reports running against
   without; the share of the phase a report was running (the agent's `edge_drift_report_seconds`).

    .venv/bin/python benchmarks/edge_latency.py [--seconds 20] [--messages 10000] [--drift-seconds 20]
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
import urllib.request
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
from edge_agent.uns.local_broker import LocalBroker, free_port
from tests.edge_agent.agent.scoring.packages import ADDRESS, KEY_ID, PUBLIC_KEY, deploy, make_package

REPO = Path(__file__).resolve().parents[1]
CELLS = tuple(f"cell-{i:02d}" for i in range(1, 11))
START_MS = 1_763_740_800_000


class Results:
    """Receipt time of every result, by (cell, seq), and the scoring worker's time for it."""

    def __init__(self, endpoint: MqttEndpoint) -> None:
        self.received: dict[tuple[str, int], float] = {}
        self.worker_us: list[float] = []
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
                self.worker_us.append(float(result.get("latency_us", 0.0)))
                self.lock.notify_all()

    def reset(self) -> None:
        with self.lock:
            self.received.clear()
            self.worker_us.clear()

    def wait_for(self, keys: set[tuple[str, int]], timeout_s: float) -> bool:
        with self.lock:
            return self.lock.wait_for(lambda: keys <= self.received.keys(), timeout_s)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def start_agent(
    work: Path, port: int, agent_id: str = "edge-bench", extra: dict[str, Any] | None = None
) -> subprocess.Popen[bytes]:
    config = {
        "agent_id": agent_id,
        "mqtt": {"port": port},
        "spool": {"dir": str(work / f"spool-{agent_id}")},
        "landing": {"url": str(work / "landing")},
        "heartbeat": {"interval_s": 1},
        "log": {"level": "WARNING", "format": "text"},
        "model": {"public_key": PUBLIC_KEY, "key_id": KEY_ID},
        **(extra or {}),
        **json.loads(os.environ.get("BENCH_AGENT_EXTRA", "{}")),
    }
    path = work / f"{agent_id}.yaml"
    path.write_text(yaml.safe_dump(config))
    log = (work / "agent.log").open("ab")
    return subprocess.Popen([sys.executable, "-m", "edge_agent", "run", "--config", str(path)], cwd=REPO,
                            stdout=log, stderr=log)  # fmt: skip


def wait_serving(
    endpoint: MqttEndpoint, version: str, timeout_s: float = 60.0, agent_id: str = "edge-bench"
) -> None:
    seen = threading.Event()

    def on_message(client: Any, userdata: Any, message: Any) -> None:
        model = orjson.loads(message.payload).get("model") or {}
        if model.get("version") == version and model.get("ready"):
            seen.set()

    client = new_client(endpoint, "bench-heartbeat")
    client.on_message = on_message
    connect_and_wait(client, endpoint)
    client.subscribe(f"{ADDRESS.prefix}/_edge/{agent_id}/heartbeat", qos=1)
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


DRIFT_MODES: dict[str, dict[str, Any]] = {
    "drift monitor off": {"enabled": False},
    "drift on, no report due": {"period_s": 1e9},
    "drift reports running": {"period_s": 0.5, "min_rows": 200, "worker_idle_s": 600},
}


def drift_metrics(port: int) -> dict[str, float]:
    """The agent's `edge_drift_*` samples from its Prometheus endpoint."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        text = response.read().decode()
    samples = (line.rsplit(" ", 1) for line in text.splitlines() if line.startswith("edge_drift_"))
    return {name: float(value) for name, value in samples}


def wait_drift_report(endpoint: MqttEndpoint, agent_id: str, timeout_s: float = 180.0) -> None:
    seen = threading.Event()
    client = new_client(endpoint, f"bench-drift-{agent_id}")
    client.on_message = lambda *args: seen.set()
    connect_and_wait(client, endpoint)
    client.subscribe(f"{ADDRESS.prefix}/_edge/{agent_id}/drift", qos=1)
    try:
        if not seen.wait(timeout_s):
            raise TimeoutError(f"{agent_id} made no drift report within {timeout_s} s")
    finally:
        client.disconnect()
        client.loop_stop()


def drift_phase(work: Path, endpoint: MqttEndpoint, mode: str, seconds: float) -> dict[str, Any]:
    """One agent in a drift mode (`DRIFT_MODES`) warmed by a burst (reporting: until its first report,
    so Evidently's import is paid), then a paced stream; latencies and the drift counters."""
    agent_id = f"edge-bench-drift-{list(DRIFT_MODES).index(mode)}"
    metrics_port = free_port()
    extra = {"drift": DRIFT_MODES[mode], "metrics": {"port": metrics_port}}
    drift = "worker_idle_s" in DRIFT_MODES[mode]
    agent = start_agent(work, endpoint.port, agent_id, extra)
    results = Results(endpoint)
    try:
        wait_serving(endpoint, "1", agent_id=agent_id)
        warm, _ = publish_burst(endpoint, 3000, seed=3)
        if not results.wait_for(set(warm), 120):
            raise TimeoutError("not every warm-up batch got its result")
        if drift:
            wait_drift_report(endpoint, agent_id)
        results.reset()
        before = drift_metrics(metrics_port)
        sent = publish_paced(endpoint, seconds, speed=1.0, seed=4)
        if not results.wait_for(set(sent), 120):
            raise TimeoutError("not every paced batch got its result")
        after = drift_metrics(metrics_port)
    finally:
        results.close()
        agent.send_signal(signal.SIGTERM)
        agent.wait(60)
    counters = ("edge_drift_reports_total", "edge_drift_report_seconds_total")
    delta = {name: after.get(name, 0.0) - before.get(name, 0.0) for name in counters}
    return {
        "latency": [results.received[key] - at for key, at in sent.items()],
        "worker_us": list(results.worker_us),
        "reports": delta["edge_drift_reports_total"],
        "report_seconds": delta["edge_drift_report_seconds_total"],
        "batches": len(sent),
    }


def print_drift_phases(phases: dict[str, dict[str, Any]], seconds: float) -> None:
    counts = ", ".join(f"{p['batches']:,}" for p in phases.values())
    print(f"\n4. scoring while drift reports run, against without (the same paced stream: {counts} batches)")
    for name, phase in phases.items():
        p50, p99, worst = percentiles_ms(phase["latency"])
        worker_p50, worker_p99 = np.percentile(phase["worker_us"], [50, 99])
        row(f"{name}: publish -> result, p50", p50, "ms")
        row(f"{name}: publish -> result, p99", p99, "ms", f"(max {worst:.1f} ms)")
        row(f"{name}: scoring worker per batch, p50", float(worker_p50), "us")
        row(f"{name}: scoring worker per batch, p99", float(worker_p99), "us")
    reporting = phases["drift reports running"]
    busy = 100.0 * reporting["report_seconds"] / seconds
    row("drift reports made during the reporting phase", reporting["reports"], "reports",
        f"(a report running {busy:.0f}% of the {seconds:.0f} s)")  # fmt: skip


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
    parser.add_argument("--drift-seconds", type=float, default=20.0, help="each drift phase, wall seconds")
    args = parser.parse_args()
    print(f"edge scoring latency and throughput ({machine()}, load average {os.getloadavg()[0]:.2f})")
    with tempfile.TemporaryDirectory() as tmp, LocalBroker(Path(tmp) / "broker", kind="mosquitto") as broker:
        work = Path(tmp)
        endpoint = MqttEndpoint(port=broker.port)
        manifest = make_package(work / "package", "1", realistic_profile=True)
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
        phases = {mode: drift_phase(work, endpoint, mode, args.drift_seconds) for mode in DRIFT_MODES}
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
    print_drift_phases(phases, args.drift_seconds)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
