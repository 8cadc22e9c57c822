"""`make demo`: the loop from simulated weld cells to a signed edge model, on embedded local defaults.

1. a local broker (Mosquitto when installed, else an embedded one);
2. the edge agent (in this process, with its worker processes), subscribed as the contract says;
3. the simulated welding line publishes telemetry with defective welds, and a few bad payloads;
4. the agent validates, captures, seals and uploads to the landing zone, then stops cleanly;
5. the weld inspection results (the simulator's ground truth) are recorded as weld labels;
6. Dagster (instance in `$DAGSTER_HOME`, so `make dev` shows these runs afterwards) runs
   `ingestion_job` for every (day, line) with new landing files, then `model_training_job` for the line:
   features, autoencoder (MLflow), threshold, evaluation, signed ONNX package with its blocking checks.

Everything lives under `./.mlops/` (`$MLOPS_HOME`); running it again adds new data and a new model
version, which becomes champion only if it passes the quality gate.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

import dagster as dg
import polars as pl

from edge_agent.agent import EdgeAgent, EdgeSettings
from edge_agent.simulator import LineConfig, WeldLine, publish_line
from edge_agent.uns.endpoint import MqttEndpoint, publish_confirmed
from edge_agent.uns.local_broker import LocalBroker
from mlops_assets.definitions import build_definitions
from mlops_assets.environment import local_home, prepare_local_instance
from mlops_assets.lake import LakeStore
from mlops_assets.lake.pending import scan_pending
from mlops_assets.lake.tables import (
    PAYLOAD_COMPLIANCE,
    QUARANTINED_MESSAGES,
    RAW_UNS_CAPTURES,
    VALIDATED_TELEMETRY,
)
from mlops_assets.landing.zone import LocalLandingZone
from mlops_assets.ml.training.labels import simulator_labels, write_labels
from mlops_assets.partitions import day_line_key

LINE = "line-1"
QUIET = {
    "loggers": {"console": {"config": {"log_level": "INFO"}}}
}  # the run's story, not Dagster's debug events
BAD_PAYLOADS = [b"{not json", b'{"seq": -1}', b"\xff\xfe garbage"]
WELD_SECONDS = 2.5  # the simulator's longest weld plus its gap


def _say(text: str) -> None:
    print(f"\n== {text}", flush=True)


def _agent_settings(home: Path, broker: LocalBroker) -> EdgeSettings:
    return EdgeSettings.model_validate(
        {
            "agent_id": "edge-demo",
            "line": LINE,
            "mqtt": {"port": broker.port, "protocol": broker.protocols[0]},
            "spool": {"dir": str(home / "edge" / "spool"), "seal_max_age_s": 2},
            "landing": {"url": str(home / "landing"), "scan_interval_s": 0.5},
            "heartbeat": {"interval_s": 2},
            "log": {"level": "WARNING", "format": "text"},
        }
    )


def _publish_bad_payloads(endpoint: MqttEndpoint) -> None:
    topic = f"acme/plant-1/body-shop/{LINE}/cell-01/weld/telemetry"
    publish_confirmed(endpoint, [(topic, p) for p in BAD_PAYLOADS], client_id="demo-bad-publisher")


def _simulation_start_ms(store: LakeStore, welds_per_cell: int) -> int:
    """Simulated time ends about now, and never overlaps what an earlier run put in the lake.

    The line publishes faster than real time, so a run covers the recent past; a weld cell cannot weld
    twice at once, so a second run starts after the first one's last sample."""
    start = int(time.time() * 1000 - welds_per_cell * WELD_SECONDS * 1000)
    if store.exists(VALIDATED_TELEMETRY):
        latest = (
            store.scan(VALIDATED_TELEMETRY)
            .filter(pl.col("line") == LINE)
            .select(pl.col("ts").max())
            .collect()
        )
        if latest.item() is not None:
            start = max(start, int(latest.item().timestamp() * 1000) + 1000)
    return start


def _run_edge(home: Path, welds_per_cell: int) -> tuple[Any, dict[str, int]]:
    with LocalBroker(home / "demo-broker", persistence=False) as broker:
        endpoint = MqttEndpoint(port=broker.port, protocol="5" if broker.protocols[0] == "5" else "3.1.1")
        _say(f"broker: {broker.kind} on 127.0.0.1:{broker.port} (MQTT {endpoint.protocol})")
        agent = EdgeAgent(_agent_settings(home, broker))
        agent.start()
        try:
            if not agent.session.subscribed.wait(30):
                raise TimeoutError("the edge agent did not subscribe within 30 s")
            _say("edge agent: subscribed to " + ", ".join(agent.session.subscriptions))
            start_ms = _simulation_start_ms(LakeStore(str(home / "lake")), welds_per_cell)
            line = WeldLine(LineConfig(seed=start_ms % 10_000, anomaly_rate=0.12, start_ms=start_ms))
            messages = welds_per_cell * len(line.config.cells) * 20  # ~20 batches per 2 s weld at 1 kHz
            _say(
                f"simulator: {len(line.config.cells)} cells, 1 kHz, 100 samples per message, 12% defective welds"
            )
            report = publish_line(line, endpoint, max_messages=messages, speed=0)
            _publish_bad_payloads(endpoint)
            print(
                f"   published {report.messages} telemetry messages ({report.rate:,.0f} msg/s, all PUBACKed)"
            )
            print(
                f"   and {len(BAD_PAYLOADS)} bad ones (broken JSON, a payload without its required fields, random bytes)"
            )
            expected = report.messages + len(BAD_PAYLOADS)
            deadline = time.monotonic() + 60
            while agent.stats.totals()["received"] < expected and time.monotonic() < deadline:
                agent.stop_requested.wait(0.1)
        finally:
            code = agent.stop()
        totals = agent.stats.totals()
        _say(f"edge agent stopped (exit code {code}): drained, sealed, uploaded")
        fields = ("received", "valid", "quarantined", "captured", "uploaded")
        print(f"   {'topic':<52}" + "".join(f"{f:>12}" for f in fields))
        for topic, counts in sorted(agent.stats.topic_counters().items()):
            print(f"   {topic:<52}" + "".join(f"{counts[f]:>12,}" for f in fields))
        print(f"   {'all topics':<52}" + "".join(f"{totals[f]:>12,}" for f in fields))
        print("   quarantine reasons:", dict(agent.stats.snapshot()["quarantine_reasons"]))
        return report, totals


def _metadata(result: dg.ExecuteInProcessResult, keys: tuple[str, ...]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for node in result.dagster_run.step_keys_to_execute or []:
        for materialization in result.asset_materializations_for_node(node):
            for key, value in materialization.metadata.items():
                if key in keys:
                    found[f"{materialization.asset_key.to_user_string()}.{key}"] = getattr(
                        value, "value", value
                    )
    return found


def _run_platform(home: Path) -> int:
    defs = build_definitions()
    instance = dg.DagsterInstance.get()
    store = LakeStore(str(home / "lake"))
    scan = scan_pending(store, LocalLandingZone(home / "landing"), since=None)
    known = set(instance.get_dynamic_partitions("line"))
    instance.add_dynamic_partitions("line", [line for line in scan.lines if line not in known])
    _say(
        f"dagster: instance in {os.environ.get('DAGSTER_HOME')}; {len(scan.partitions)} partition(s) to ingest"
    )
    ingestion = defs.resolve_job_def("ingestion_job")
    for pending in scan.partitions:
        partition = day_line_key(pending.day, pending.line)
        result = ingestion.execute_in_process(
            run_config=QUIET, instance=instance, partition_key=partition, raise_on_error=False
        )
        print(
            f"   ingestion_job [{partition}]: {'success' if result.success else 'FAILED'} ({len(pending.file_ids)} files)"
        )
        if not result.success:
            return 1
    for table in (RAW_UNS_CAPTURES, VALIDATED_TELEMETRY, QUARANTINED_MESSAGES, PAYLOAD_COMPLIANCE):
        rows = store.read(table, line=LINE).height if store.exists(table) else 0
        print(
            f"   {table.layer}/{table.name:<22} {rows:>9} rows for {LINE} (Delta version {store.version(table)})"
        )

    _say(f"model_training_job [{LINE}]: features, autoencoder, threshold, evaluation, signed package")
    training = defs.resolve_job_def("model_training_job")
    result = training.execute_in_process(
        run_config=QUIET, instance=instance, partition_key=LINE, raise_on_error=False
    )
    wanted = ("windows", "epochs", "best_val_loss", "threshold", "roc_auc", "f1", "precision", "recall",
              "model_version", "package_uri", "mlflow_run_id")  # fmt: skip
    for key, value in _metadata(result, wanted).items():
        print(f"   {key:<40} {value}")
    for check in result.get_asset_check_evaluations():
        print(f"   check {check.check_name:<36} {'passed' if check.passed else 'FAILED'}")
    print(
        "\n   Open the Dagster UI on these runs: make dev (http://127.0.0.1:3000); lake SQL: .venv/bin/mlops sql --tables"
    )
    return 0 if result.success else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make demo", description=__doc__)
    parser.add_argument("--welds-per-cell", type=int, default=60, help="how much the line welds")
    args = parser.parse_args(argv)
    home = local_home()
    os.environ.setdefault("DAGSTER_HOME", str(home / "dagster_home"))
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    prepare_local_instance(Path(os.environ["DAGSTER_HOME"]))
    print(f"MLOPS_HOME={home}")
    report, totals = _run_edge(home, args.welds_per_cell)
    written = write_labels(LakeStore(str(home / "lake")), simulator_labels(report.sent, LINE))
    _say(
        f"weld labels: ground truth of {len({s.weld_id for s in report.sent})} welds recorded (Delta version {written})"
    )
    if totals["captured"] < report.messages:
        print(f"   ERROR: {report.messages - totals['captured']} telemetry messages were not captured")
        return 1
    return _run_platform(home)


if __name__ == "__main__":
    sys.exit(main())
