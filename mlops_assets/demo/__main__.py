"""`make demo`: from simulated weld cells to a model scoring at the edge, on embedded local defaults.

A local broker and a real edge agent process; the simulated line's telemetry captured, uploaded,
ingested and trained on (Dagster, MLflow); the signed package deployed to the agent, which then scores
new welds live on the UNS. Everything lives under `./.mlops/` (`$MLOPS_HOME`).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import polars as pl

from edge_agent.domain import LineAddress
from edge_agent.simulator import LineConfig, PublishReport, WeldLine, publish_line
from edge_agent.uns.endpoint import MqttEndpoint, publish_confirmed
from edge_agent.uns.local_broker import LocalBroker
from mlops_assets.demo.edge import AgentProcess, Subscription, counters_total, wait_for_uploads, wait_started
from mlops_assets.demo.loop import AGENT_DRIFT, run_loop
from mlops_assets.demo.platform import deploy_model, run_ingestion, run_training
from mlops_assets.demo.scoring import print_loop, print_scoring, wait_for_results
from mlops_assets.environment import local_home, prepare_local_instance
from mlops_assets.lake import LakeStore
from mlops_assets.lake.tables import VALIDATED_TELEMETRY
from mlops_assets.ml.release.signing import load_or_create_dev_signer
from mlops_assets.ml.training.labels import simulator_labels, write_labels

ADDRESS = LineAddress()
BAD_PAYLOADS = [b"{not json", b'{"seq": -1}', b"\xff\xfe garbage"]
WELD_SECONDS = 2.5  # the simulator's longest weld plus its gap
FIELDS = ("received", "valid", "quarantined", "captured", "uploaded")


def say(text: str) -> None:
    print(f"\n== {text}", flush=True)


def simulation_start_ms(store: LakeStore, welds_per_cell: int) -> int:
    """Simulated time ends about now, and never overlaps what an earlier run put in the lake (a weld cell
    cannot weld twice at once)."""
    start = int(time.time() * 1000 - welds_per_cell * WELD_SECONDS * 1000)
    if store.exists(VALIDATED_TELEMETRY):
        latest = (
            store.scan(VALIDATED_TELEMETRY).filter(pl.col("line") == ADDRESS.line).select(pl.col("ts").max())
        )
        found = latest.collect().item()
        if found is not None:
            start = max(start, int(found.timestamp() * 1000) + 1000)
    return start


def print_counters(heartbeat: dict) -> None:
    print(f"   {'topic':<55}" + "".join(f"{f:>12}" for f in FIELDS))
    for topic, counts in sorted(heartbeat["counters"].items()):
        print(f"   {topic:<55}" + "".join(f"{counts[f]:>12,}" for f in FIELDS))
    print(f"   {'all topics':<55}" + "".join(f"{counters_total(heartbeat, f):>12,}" for f in FIELDS))


def capture(
    endpoint: MqttEndpoint, beats: Subscription, line: WeldLine, welds_per_cell: int
) -> PublishReport:
    """The line welds; the agent captures and uploads; a few malformed payloads go to quarantine."""
    before = counters_total(beats.latest(), "received")
    messages = welds_per_cell * len(line.config.cells) * 20  # ~20 batches per 2 s weld at 1 kHz
    report = publish_line(line, endpoint, max_messages=messages, speed=0)
    topic = ADDRESS.cell_topic("cell-01")
    publish_confirmed(endpoint, [(topic, p) for p in BAD_PAYLOADS], client_id="demo-bad-publisher")
    print(f"   published {report.messages} telemetry messages ({report.rate:,.0f} msg/s, all PUBACKed)")
    print(
        f"   and {len(BAD_PAYLOADS)} bad ones (broken JSON, a payload without its required fields, random bytes)"
    )
    wait_for_uploads(beats, before + report.messages + len(BAD_PAYLOADS))
    return report


CANARY = {"canary_agents": ["edge-demo"], "soak_s": 10, "min_batches": 100}
"""The line's rollout settings: its next champions go to the demo agent as a canary first."""


def run(home: Path, welds_per_cell: int, scoring_welds: int, loop: argparse.Namespace) -> int:
    signer = load_or_create_dev_signer(home / "signing")
    store = LakeStore(str(home / "lake"))
    with LocalBroker(home / "demo-broker", persistence=False) as broker:
        endpoint = MqttEndpoint(port=broker.port, protocol="5" if broker.protocols[0] == "5" else "3.1.1")
        os.environ["MLOPS_UNS_PORT"] = str(broker.port)  # the platform's `uns` resource: this broker
        say(f"broker: {broker.kind} on 127.0.0.1:{broker.port} (MQTT {endpoint.protocol})")
        agent = AgentProcess(home, endpoint, ADDRESS, signer.public_key_b64, signer.key_id, AGENT_DRIFT)
        beats = Subscription(endpoint, agent.heartbeat_topic, "heartbeat")
        results = Subscription(endpoint, f"{ADDRESS.prefix}/+/weld/anomaly", "results")
        agent.start()
        try:
            wait_started(agent, beats)
            say(f"edge agent: process {agent.process.pid if agent.process else '?'}, log {agent.log_path}")
            start_ms = simulation_start_ms(store, welds_per_cell + scoring_welds)
            line = WeldLine(LineConfig(seed=start_ms % 10_000, anomaly_rate=0.12, start_ms=start_ms))
            say(
                f"simulator: {len(line.config.cells)} cells, 1 kHz, 100 samples per message, 12% defective welds"
            )
            report = capture(endpoint, beats, line, welds_per_cell)
            say("edge agent: captured, sealed and uploaded (its heartbeat's counters)")
            print_counters(beats.latest())
            written = write_labels(store, simulator_labels(report.sent, ADDRESS.line))
            say(
                f"weld labels: ground truth of {len({s.weld_id for s in report.sent})} welds (Delta version {written})"
            )
            if run_ingestion(home, say) or run_training(say):
                return 1
            version = deploy_model(say, ADDRESS.line, CANARY)
            if version is None:
                return 1
            beats.wait_for(
                lambda: (beats.latest().get("model") or {}).get("version") == version,
                120,
                f"model {version} served",
            )
            say(f"edge agent: serving model {version} (verified, loaded and warmed beside the empty slot)")
            scored = publish_line(
                line, endpoint, max_messages=scoring_welds * len(line.config.cells) * 20, speed=0
            )
            say(f"simulator: {scored.messages} more telemetry messages, scored live at the edge")
            wait_for_results(results, scored)
            beats.wait_for(
                lambda: (beats.latest().get("scoring") or {}).get("results_published", 0) >= len(scored.sent),
                60,
                "a heartbeat that counts every result",
            )
            print_scoring(results, scored, beats.latest())
            write_labels(store, simulator_labels(scored.sent, ADDRESS.line))
            if loop.loop:
                code = closed_loop(home, endpoint, line, version, beats, results, loop)
                if code:
                    return code
        finally:
            code = agent.stop()
            final = beats.latest()
            beats.close()
            results.close()
        say(f"edge agent stopped (exit code {code}): drained, sealed, uploaded, OFFLINE heartbeat")
        print_counters(final)
    print(
        "\n   Open the Dagster UI on these runs: make dev (http://127.0.0.1:3000); lake SQL: .venv/bin/mlops sql --tables"
    )
    return code


def closed_loop(
    home: Path,
    endpoint: MqttEndpoint,
    line: WeldLine,
    served: str,
    beats: Subscription,
    results: Subscription,
    options: argparse.Namespace,
) -> int:
    drift = "then the line changes material" if options.drift else "no drift injected"
    say(f"the closed loop: {options.normal_s:.0f} s of normal production, {drift}")
    env = {
        "MLOPS_HOME": str(home),
        "DAGSTER_HOME": os.environ["DAGSTER_HOME"],
        "MLOPS_UNS_PORT": str(endpoint.port),
    }
    outcome = run_loop(
        home, endpoint, line, served, beats, results, env, normal_s=options.normal_s, drift=options.drift
    )
    wait_for_results(results, outcome.published)
    print_loop(outcome, results)
    if not options.drift:
        return 1 if outcome.retrained else 0
    return 0 if outcome.new_version is not None and len(outcome.retrained) == 1 else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make demo", description=__doc__)
    parser.add_argument("--welds-per-cell", type=int, default=60, help="how much the line welds for training")
    parser.add_argument("--scoring-welds", type=int, default=10, help="welds per cell scored at the edge")
    parser.add_argument("--no-loop", dest="loop", action="store_false", help="stop before the closed loop")
    parser.add_argument("--no-drift", dest="drift", action="store_false", help="run the loop without drift")
    parser.add_argument("--normal-s", type=float, default=20.0, help="normal production before the drift (s)")
    args = parser.parse_args(argv)
    home = local_home()
    os.environ.setdefault("DAGSTER_HOME", str(home / "dagster_home"))
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    prepare_local_instance(Path(os.environ["DAGSTER_HOME"]))
    print(f"MLOPS_HOME={home}")
    return run(home, args.welds_per_cell, args.scoring_welds, args)


if __name__ == "__main__":
    sys.exit(main())
