"""The drift monitor on a real broker with a real agent and real Evidently in its worker process: normal
telemetry is not drifted, the simulator's drift regime is (its moved columns named); summaries retained on
the drift channel and valid against the contract; both landing files land; scoring goes on, every batch
scored once, while reports run; the worker starts on demand and exits when idle; a summary made while
the broker is away follows when it is back; the agent process never imports evidently."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import orjson
import pyarrow.parquet as pq

from edge_agent.agent import EdgeAgent, EdgeSettings
from edge_agent.agent.drift.monitor import DriftMonitor
from edge_agent.contract import ContractValidator
from edge_agent.files.landing_format import DRIFT_SCHEMA, parse_landing_key
from edge_agent.uns.endpoint import MqttEndpoint, publish_confirmed
from edge_agent.uns.local_broker import LocalBroker
from tests.edge_agent.agent.scoring.packages import ADDRESS, deploy, make_package
from tests.edge_agent.agent.scoring.test_model_at_the_edge import (
    ANOMALIES,
    T0,
    model_state,
    publish_deployment,
    results_by_batch,
    running,
    scoring_settings,
)
from tests.edge_agent.agent.support import local_landing_files
from tests.helpers import Recorder, wait_until

from .regimes import DRIFTING, regime_telemetry

REPO = Path(__file__).resolve().parents[4]
DRIFT = {"period_s": 0.5, "min_rows": 400, "window_rows": 800, "worker_idle_s": 3}
DRIFT_TOPIC = f"{ADDRESS.prefix}/_edge/edge-test/drift"
START_MS = 1_763_740_800_000
DRIFT_START_MS = START_MS + 600_000


def monitor_of(agent: EdgeAgent) -> DriftMonitor:
    monitor = agent.parts.drift
    assert monitor is not None, "a scoring agent has a drift monitor"
    return monitor


def serve_model(agent: EdgeAgent, endpoint: MqttEndpoint, tmp_path: Path) -> None:
    folder = tmp_path / "v1"
    manifest = make_package(folder, "1", realistic_profile=True)
    publish_deployment(endpoint, deploy(tmp_path / "landing", folder, manifest, published_ms=T0 + 1_000))
    wait_until(lambda: model_state(agent)["ready"], 30, "model 1 serving")


class BusySampler:
    """Samples (monitor busy, results received) until stopped: did scoring go on while a report ran?"""

    def __init__(self, monitor: DriftMonitor, results: Recorder) -> None:
        self.samples: list[tuple[bool, int]] = []
        self.worker_pids: set[int] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(monitor, results), daemon=True)
        self._thread.start()

    def _run(self, monitor: DriftMonitor, results: Recorder) -> None:
        while not self._stop.wait(0.005):
            self.samples.append((monitor.busy, len(results.messages)))
            if monitor.worker.pid is not None:
                self.worker_pids.add(monitor.worker.pid)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)

    def results_while_busy(self) -> int:
        """Results that arrived between two samples that both saw a report running."""
        return sum(
            later[1] - earlier[1]
            for earlier, later in zip(self.samples, self.samples[1:], strict=False)
            if earlier[0] and later[0]
        )


def publish_in_chunks(endpoint: MqttEndpoint, messages: list[tuple[str, bytes]], chunks: int) -> None:
    """The drift regime arrives over a few seconds (as a line produces it), not in one burst."""
    pause = threading.Event()
    size = -(-len(messages) // chunks)
    for index in range(0, len(messages), size):
        publish_confirmed(endpoint, messages[index : index + size], client_id="cells")
        pause.wait(0.15)


def test_drift_reports_tell_the_normal_regime_from_the_drift_regime_while_every_batch_is_scored_once(
    broker: LocalBroker, endpoint: MqttEndpoint, tmp_path: Path, contract_validator: ContractValidator
) -> None:
    settings = scoring_settings(tmp_path, broker.port, drift=DRIFT)
    normal = regime_telemetry(cells=2, welds=3, seed=5, drift=False, start_ms=START_MS, first_seq=1)
    drifted = regime_telemetry(
        cells=2, welds=5, seed=6, drift=True, start_ms=DRIFT_START_MS, first_seq=10_000
    )
    with (
        Recorder(endpoint, [ANOMALIES]) as results,
        Recorder(endpoint, [DRIFT_TOPIC]) as summaries,
        running(EdgeAgent(settings)) as agent,
    ):
        monitor = monitor_of(agent)
        serve_model(agent, endpoint, tmp_path)
        assert monitor.worker.pid is None  # started on demand: no report yet, no worker
        sampler = BusySampler(monitor, results)
        publish_confirmed(endpoint, normal, client_id="cells")
        wait_until(lambda: len(results_by_batch(results)) >= len(normal), 30, "the normal batches scored")
        wait_until(lambda: monitor.reports >= 1 and not monitor.busy, 120, "a report of the normal regime")
        normal_reports = monitor.reports
        publish_in_chunks(endpoint, drifted, chunks=20)
        everything = len(normal) + len(drifted)
        wait_until(lambda: len(results_by_batch(results)) >= everything, 60, "the drifted batches scored")
        wait_until(
            lambda: monitor.last is not None and int(monitor.last.job.start_ms.min()) >= DRIFT_START_MS,
            120,
            "a report of the drift regime alone",
        )
        wait_until(lambda: not monitor.busy and not monitor.summary_waiting, 30, "the last summary")
        sampler.stop()
        wait_until(lambda: monitor.worker.pid is None, 30, "the idle drift worker to exit")
        state = monitor.state()
    batches = results_by_batch(results)
    assert len(batches) == everything and set(batches.values()) == {1}  # every batch scored once
    assert sampler.results_while_busy() > 0, "no result arrived while a report ran"
    assert sampler.worker_pids and all(not Path(f"/proc/{pid}").exists() for pid in sampler.worker_pids)
    published = {orjson.loads(m.payload)["report_id"]: m.payload for m in summaries.messages}
    assert sorted(published, key=lambda i: int(i.split(":")[1])) == [
        f"edge-test:{n}" for n in range(1, state["reports"] + 1)
    ]
    for raw in published.values():
        verdict = contract_validator.check(DRIFT_TOPIC, raw)
        assert verdict.ok, verdict.error
    before = [orjson.loads(published[f"edge-test:{n}"]) for n in range(1, normal_reports + 1)]
    assert not any(s["dataset_drift"] for s in before), [s["drift_share"] for s in before]
    last = orjson.loads(published[state["last_report_id"]])
    drifted_columns = {name for name, column in last["column_drift"].items() if column["drifted"]}
    assert last["dataset_drift"] and set(DRIFTING) <= drifted_columns and last["drift_share"] >= 0.25
    assert last["cells"] == ["cell-01", "cell-02"] and last["rows"] == 800 and last["model_version"] == "1"
    assert last["window_start_ms"] >= DRIFT_START_MS and last["drifted_columns"] == len(drifted_columns)
    assert state["last_dataset_drift"] is True and state["failures"] == 0
    with Recorder(endpoint, [DRIFT_TOPIC]) as retained:  # a new subscriber gets the latest summary
        [kept] = retained.wait_for(1, 10)
    assert kept.retain and kept.payload == published[state["last_report_id"]]
    check_landing_zone(tmp_path / "landing", published)


def check_landing_zone(landing: Path, published: dict[str, bytes]) -> None:
    """Every report's Parquet file (DRIFT_SCHEMA, its summary as published) and its HTML, which opens."""
    drift_files = {rel: path for rel, path in local_landing_files(landing).items() if "/drift-" in rel}
    assert len(drift_files) == len(published)
    for relative, path in drift_files.items():
        key = parse_landing_key(relative)
        table = pq.read_table(path)
        assert table.schema.remove_metadata() == DRIFT_SCHEMA and table.num_rows == 1
        row = table.to_pylist()[0]
        assert row["report_id"] == f"edge-test:{key.first_seq}" and row["report_seq"] == key.first_seq
        assert row["summary"].encode() == published[row["report_id"]]
        summary = json.loads(row["summary"])
        assert summary["report_uri"] == key.companion_path and row["html_file"] == key.companion_id
        html = (landing / summary["report_uri"]).read_text(encoding="utf-8")
        assert (
            html.lstrip().lower().startswith(("<html", "<!doctype html")) and "</html>" in html[-200:].lower()
        )
        assert json.loads(row["report_json"])["metrics"]


def test_a_summary_made_while_the_broker_is_away_is_published_when_it_returns(
    broker: LocalBroker, endpoint: MqttEndpoint, tmp_path: Path, contract_validator: ContractValidator
) -> None:
    """The first report is due 10 s after the start; by then the broker is stopped: the report is made,
    its files written, and its summary follows once the broker is back (retained: the latest wins)."""
    settings = scoring_settings(tmp_path, broker.port, drift={**DRIFT, "period_s": 10.0})
    normal = regime_telemetry(cells=1, welds=3, seed=5, drift=False, start_ms=START_MS, first_seq=1)
    with Recorder(endpoint, [ANOMALIES]) as results, running(EdgeAgent(settings)) as agent:
        monitor = monitor_of(agent)
        serve_model(agent, endpoint, tmp_path)
        publish_confirmed(endpoint, normal, client_id="cells")
        wait_until(lambda: len(results_by_batch(results)) >= len(normal), 30, "the batches scored")
        broker.stop()
        assert monitor.reports == 0, "the report came before the outage: the test proves nothing"
        wait_until(lambda: monitor.reports == 1, 120, "the report made during the outage")
        assert monitor.last is not None and monitor.published == 0 and monitor.summary_waiting
        html = monitor.files.key(monitor.last).companion_path
        assert html is not None  # written: waiting in the spool, or uploaded already (the zone is local)
        assert (tmp_path / "spool" / "sealed" / html).exists() or (tmp_path / "landing" / html).exists()
        broker.start()
        wait_until(lambda: monitor.published == 1, 60, "the summary after the outage")
    with Recorder(endpoint, [DRIFT_TOPIC]) as retained:
        [kept] = retained.wait_for(1, 10)
    assert kept.retain and orjson.loads(kept.payload)["report_id"] == "edge-test:1"
    assert contract_validator.check(DRIFT_TOPIC, kept.payload).ok


_PROBE = """
import json, sys, time
from edge_agent.agent import EdgeAgent, EdgeSettings
from edge_agent.uns.endpoint import MqttEndpoint, publish_confirmed

settings = EdgeSettings.model_validate(json.loads(sys.argv[1]))
messages = [(t, bytes.fromhex(p)) for t, p in json.loads(open(sys.argv[2]).read())]
with EdgeAgent(settings) as agent:
    assert agent.ready.wait(30)
    deadline = time.monotonic() + 60
    while not (agent.heartbeat_state().get("model") or {}).get("ready"):
        assert time.monotonic() < deadline, "no model"
        time.sleep(0.05)
    publish_confirmed(MqttEndpoint(port=settings.mqtt.port), messages, client_id="cells")
    deadline = time.monotonic() + 120
    while agent.parts.drift.reports < 1:
        assert time.monotonic() < deadline, agent.stats.snapshot()
        time.sleep(0.05)
    report = agent.parts.drift.state()
print(json.dumps({"report": report, "evidently": sorted(m for m in sys.modules if m.split(".")[0] == "evidently")}))
"""


def test_the_agent_process_never_imports_evidently(
    broker: LocalBroker, endpoint: MqttEndpoint, tmp_path: Path
) -> None:
    """A fresh interpreter runs the agent through a whole drift report: the report is made (in the worker
    process, which imports evidently) while the agent's own process never imports it."""
    folder = tmp_path / "v1"
    manifest = make_package(folder, "1", realistic_profile=True)
    publish_deployment(endpoint, deploy(tmp_path / "landing", folder, manifest, published_ms=T0 + 1_000))
    settings = scoring_settings(tmp_path, broker.port, drift=DRIFT, log={"level": "WARNING"})
    messages = regime_telemetry(cells=2, welds=2, seed=5, drift=False, start_ms=START_MS, first_seq=1)
    telemetry_file = tmp_path / "telemetry.json"
    telemetry_file.write_text(json.dumps([(t, p.hex()) for t, p in messages]))
    result = subprocess.run(
        [sys.executable, "-c", _PROBE, settings.model_dump_json(), str(telemetry_file)],
        cwd=REPO, capture_output=True, text=True, timeout=300, env={**os.environ, "PYTHONPATH": str(REPO)},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    found: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    assert found["report"]["reports"] >= 1 and found["report"]["failures"] == 0
    assert found["evidently"] == []
    settings_back = EdgeSettings.model_validate_json(settings.model_dump_json())
    assert settings_back.drift.period_s == DRIFT["period_s"]
