"""Sustained ingest through the edge agent against a bare paho subscriber, same broker, same messages.

1. Throughput (consumer-bound): N telemetry messages (100 samples x 5 signals, QoS 1) are queued in the
   consumer's persistent session on Mosquitto while it is offline; the consumer then connects and the
   clock runs from CONNACK to the last message. The bare subscriber only counts (paho auto-acks); the
   agent validates every message and acknowledges it only after the group commit made it durable
   (fdatasync). Rounds alternate; the best round of each counts. The agent runs with its defaults
   (validation in a worker process) and, for reference, with validation in a thread.
2. Latency: a publisher process paces the same kind of stream at a fixed rate while the agent runs; each
   message's publish time is compared with the moment its group commit returned (a processor in the
   agent's `score` slot sees messages right after that). The bare subscriber's publish-to-receive
   latency on the same stream is the baseline.

    .venv/bin/python benchmarks/edge_ingest.py [--messages 20000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any, NamedTuple

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._common import machine, row
from edge_agent.agent import EdgeAgent, EdgeSettings, Message, ProcessorKind
from edge_agent.simulator import LineConfig, WeldLine
from edge_agent.uns.endpoint import MqttEndpoint, connect_and_wait, new_client, publish_confirmed
from edge_agent.uns.local_broker import LocalBroker

FILTER = "acme/+/+/+/+/weld/telemetry"
START_MS = 1_763_740_800_000


def corpus(count: int, seed: int = 1) -> list[tuple[str, bytes]]:
    line = WeldLine(LineConfig(seed=seed, start_ms=START_MS, seq_start=0))
    batches = line.batches()
    return [(topic, orjson.dumps(batch.payload)) for _, topic, batch in (next(batches) for _ in range(count))]


def publish_all(endpoint: MqttEndpoint, messages: list[tuple[str, bytes]]) -> None:
    publish_confirmed(endpoint, messages, client_id=f"bench-pub-{uuid.uuid4().hex[:6]}")


def prepare_session(endpoint: MqttEndpoint, client_id: str, filters: list[str]) -> None:
    """Create a persistent session with subscriptions, then leave: the broker queues for it."""
    subscribed = threading.Event()
    client = new_client(endpoint, client_id, clean_start=False)
    client.on_subscribe = lambda *args: subscribed.set()
    connect_and_wait(client, endpoint, clean_start=False, session_expiry_s=3600)
    client.subscribe([(f, 1) for f in filters])
    if not subscribed.wait(10):
        raise TimeoutError("no SUBACK")
    client.disconnect()
    client.loop_stop()


def process_cpu_s(pid: int) -> float:
    """CPU seconds (user + system) a process has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Drain(NamedTuple):
    rate: float
    cpu_us: float  # per message, in the consumer's own process (every thread)
    worker_cpu_us: float  # per message, in the agent's worker processes


def drain_bare(endpoint: MqttEndpoint, client_id: str, count: int) -> Drain:
    received = [0]
    done = threading.Event()
    connected_at = [0.0]

    def on_message(*args: Any) -> None:
        received[0] += 1
        if received[0] >= count:
            done.set()

    client = new_client(endpoint, client_id, clean_start=False)
    client.on_message = on_message
    client.on_connect = lambda *args: connected_at.__setitem__(0, time.perf_counter())
    cpu_before = time.process_time()
    connect_and_wait(client, endpoint, clean_start=False, session_expiry_s=3600)
    if not done.wait(300):
        raise TimeoutError(f"bare subscriber got {received[0]} of {count}")
    seconds = time.perf_counter() - connected_at[0]
    cpu_us = (time.process_time() - cpu_before) / count * 1e6
    client.disconnect()
    client.loop_stop()
    return Drain(count / seconds, cpu_us, 0.0)


def agent_settings(work: Path, port: int, mode: str, client_id: str, workers: int = 1) -> EdgeSettings:
    return EdgeSettings.model_validate(
        {
            "agent_id": "edge-bench",
            "mqtt": {"port": port, "client_id": client_id},
            "pipeline": {"validate_mode": mode, "validate_workers": workers, "score_workers": 1},
            "spool": {"dir": str(work / f"spool-{client_id}"), "seal_max_age_s": 2.0},
            "landing": {"url": str(work / f"landing-{client_id}")},  # one per agent run: no conflicts
            "heartbeat": {"interval_s": 5.0},
            "log": {"level": "WARNING"},
        }
    )


def drain_agent(work: Path, port: int, mode: str, workers: int, client_id: str, count: int) -> Drain:
    with EdgeAgent(agent_settings(work, port, mode, client_id, workers)) as agent:
        if not agent.ready.wait(30):
            raise TimeoutError("agent did not become ready")
        parts = agent.parts
        connected_at = parts.session.connected_at
        worker_pids = [
            w.pid for w in [*parts.validate.workers, parts.spool.seal_stage.worker] if w is not None and w.pid
        ]
        cpu_before = time.process_time()
        workers_before = sum(process_cpu_s(pid) for pid in worker_pids)
        pause = threading.Event()
        while agent.stats.totals()["captured"] < count:
            if time.monotonic() - connected_at > 300:
                raise TimeoutError(f"agent captured {agent.stats.totals()['captured']} of {count}")
            pause.wait(0.002)
        seconds = time.monotonic() - connected_at
        cpu_us = (time.process_time() - cpu_before) / count * 1e6
        worker_us = (sum(process_cpu_s(pid) for pid in worker_pids) - workers_before) / count * 1e6
        return Drain(count / seconds, cpu_us, worker_us)


class DurableClock:
    """A processor in the agent's score slot: notes when each message's group commit returned."""

    kind: ProcessorKind = "score"

    def __init__(self) -> None:
        self.batches: list[tuple[float, list[Message]]] = []

    def process(self, messages: list[Message]) -> None:
        self.batches.append((time.time(), messages))


def paced_publisher(port: int, rate: float, count: int, out: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, __file__, "--publish", str(port), str(rate), str(count), str(out)]
    )


def publisher_main(port: int, rate: float, count: int, out: Path) -> None:
    endpoint = MqttEndpoint(port=port)
    messages = corpus(count, seed=7)
    client = new_client(endpoint, f"bench-paced-{uuid.uuid4().hex[:6]}")
    client.max_inflight_messages_set(1000)
    connect_and_wait(client, endpoint)
    sent: dict[str, float] = {}
    started = time.perf_counter()
    for index, (topic, payload) in enumerate(messages):
        due = started + index / rate
        pause = due - time.perf_counter()
        if pause > 0:
            time.sleep(pause)
        sent[f"{topic}|{orjson.loads(payload)['seq']}"] = time.time()
        client.publish(topic, payload, qos=1)
    time.sleep(1.0)
    client.disconnect()
    client.loop_stop()
    out.write_text(json.dumps(sent))


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def latency_run(work: Path, broker: LocalBroker, rate: float, count: int) -> dict[str, tuple[float, float]]:
    endpoint = MqttEndpoint(port=broker.port)
    clock = DurableClock()
    agent = EdgeAgent(agent_settings(work, broker.port, "process", "bench-latency"), processors=[clock])
    bare_times: dict[str, float] = {}
    lock = threading.Lock()

    def on_bare(client: Any, userdata: Any, msg: Any) -> None:
        now = time.time()
        with lock:
            bare_times[f"{msg.topic}|{orjson.loads(msg.payload)['seq']}"] = now

    # The bare subscriber runs in its own process? No: in this process, like the agent, but on its own
    # paho thread; it only timestamps, so it adds little to the agent's GIL.
    bare = new_client(endpoint, f"bench-bare-lat-{uuid.uuid4().hex[:6]}")
    bare.on_message = on_bare
    subscribed = threading.Event()
    bare.on_subscribe = lambda *args: subscribed.set()
    connect_and_wait(bare, endpoint)
    bare.subscribe(FILTER, 1)
    subscribed.wait(10)
    try:
        with agent:
            if not agent.ready.wait(30):
                raise TimeoutError("agent did not become ready")
            out = work / "sent.json"
            publisher = paced_publisher(broker.port, rate, count, out)
            if publisher.wait(300) != 0:
                raise RuntimeError("paced publisher failed")
            deadline = time.monotonic() + 60
            while agent.stats.totals()["captured"] < count and time.monotonic() < deadline:
                time.sleep(0.01)
    finally:
        bare.disconnect()
        bare.loop_stop()
    sent = json.loads(out.read_text())
    durable: list[float] = []
    for done_at, messages in clock.batches:
        for message in messages:
            key = f"{message.topic}|{orjson.loads(message.payload)['seq']}"
            durable.append(done_at - sent[key])
    received = [bare_times[k] - t for k, t in sent.items() if k in bare_times]
    return {
        "agent publish-to-durable": (percentile(durable, 0.5), percentile(durable, 0.99)),
        "bare publish-to-receive": (percentile(received, 0.5), percentile(received, 0.99)),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--latency-rate", type=float, default=2000.0)
    parser.add_argument("--latency-messages", type=int, default=10_000)
    args = parser.parse_args()
    print(
        f"edge ingest: {args.messages:,} telemetry messages of 100 samples x 5 signals, QoS 1 ({machine()})"
    )
    messages = corpus(args.messages)
    print(f"  payload size: {statistics.mean(len(p) for _, p in messages):,.0f} bytes on average")
    with tempfile.TemporaryDirectory(prefix="edge-bench-") as tmp:
        work = Path(tmp)
        with LocalBroker(work / "broker", kind="mosquitto") as broker:
            endpoint = MqttEndpoint(port=broker.port)
            agent_filters = ["acme/+/+/+/+/weld/telemetry", "acme/+/+/+/_model/manifest"]
            variants = {
                "agent": ("process", 1),
                "agent (thread)": ("thread", 1),
                "agent (2 threads)": ("thread", 2),
            }
            results: dict[str, list[Drain]] = {"bare": [], **{name: [] for name in variants}}
            for round_index in range(args.rounds):
                for name in results:
                    client_id = f"{name.replace(' ', '').replace('(', '-').replace(')', '')}-{round_index}"
                    prepare_session(endpoint, client_id, [FILTER] if name == "bare" else agent_filters)
                    publish_all(endpoint, messages)
                    if name == "bare":
                        drained = drain_bare(endpoint, client_id, len(messages))
                    else:
                        mode, workers = variants[name]
                        drained = drain_agent(work, broker.port, mode, workers, client_id, len(messages))
                    results[name].append(drained)
            best = {name: max(runs, key=lambda d: d.rate) for name, runs in results.items()}
            print(f"  throughput (best of {args.rounds} rounds; every round in brackets)")
            labels = {
                "bare": "bare paho subscriber (counts only)",
                "agent": "agent: validate + durable capture",
                "agent (thread)": "agent, validation in a thread",
                "agent (2 threads)": "agent, validation in 2 threads",
            }
            for name, label in labels.items():
                row(label, best[name].rate, "msg/s", str([round(d.rate) for d in results[name]]))
            print(f"  ratio agent / bare: {best['agent'].rate / best['bare'].rate:.2f} (aim >= 0.70)")
            per_round = [a.rate / b.rate for a, b in zip(results["agent"], results["bare"], strict=True)]
            print(f"  ratio agent / bare within each round: {[round(r, 2) for r in per_round]}")
            for name in ("agent (thread)", "agent (2 threads)"):
                print(f"  ratio {name} / bare: {best[name].rate / best['bare'].rate:.2f}")
            print("  CPU per message in the best round (consumer process + agent worker processes)")
            for name, label in labels.items():
                row(label, best[name].cpu_us, "us", f"+ {best[name].worker_cpu_us:.1f} us in workers")
            latencies = latency_run(work, broker, args.latency_rate, args.latency_messages)
            print(f"  latency at {args.latency_rate:,.0f} msg/s paced, {args.latency_messages:,} messages")
            for name, (p50, p99) in latencies.items():
                print(f"  {name:<48} p50 {p50 * 1000:8.1f} ms   p99 {p99 * 1000:8.1f} ms")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--publish":
        publisher_main(int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]), Path(sys.argv[5]))
    else:
        main()
