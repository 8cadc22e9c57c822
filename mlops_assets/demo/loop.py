"""The demo's closed loop, headless, with a real Dagster daemon evaluating the real sensors: the line
welds on with model 1 scoring, then changes material; the agent's drift reports, `drift_sensor`,
retraining on the new regime, the gate, the canary and the promotion, until the new model scores.
Every step is timed from the drift onset (`Timeline`)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dagster as dg

from edge_agent.simulator import PublishReport, WeldLine, publish_line
from edge_agent.uns.endpoint import MqttEndpoint
from mlops_assets.demo.edge import Subscription
from mlops_assets.demo.stack import Child, dagster_daemon

__all__ = ["AGENT_DRIFT", "LOOP_ENV", "LoopResult", "Timeline", "run_loop", "why_failed"]

LOOP_ENV = {
    "MLOPS_LANDING_SENSOR_INTERVAL_S": "5",
    "MLOPS_DRIFT_SENSOR_INTERVAL_S": "2",
    "MLOPS_ROLLOUT_SENSOR_INTERVAL_S": "2",
    "MLOPS_FLEET_SENSOR_INTERVAL_S": "10",
    "MLOPS_DRIFT_CONSECUTIVE": "2",
    "MLOPS_DRIFT_MIN_WELDS": "90",
}
"""Short periods for the demo: the edge's sensors look every 2 s, new landing files every 5 s; two
drifting reports in a row ask for a retraining once 90 welds of the new regime are in silver (a
model fitted on fewer welds has thresholds too rough to pass the gate)."""
AGENT_DRIFT = {"drift": {"period_s": 3, "min_rows": 1000, "window_rows": 8000}}
"""The demo's agent reports drift every 3 s (production: every 5 minutes) on its newest 8,000 windows
(about 30 welds: a defective weld among them is not drift)."""
SPEED = 3.0
"""Simulated time against wall time while the loop runs."""
DEFECT_RATE = 0.02
"""Defective welds in normal production during the loop (the training phase had 12 %, for labels)."""


@dataclass
class Timeline:
    """Moments of the loop, in wall seconds from the drift onset (negative before it)."""

    started: float = field(default_factory=time.monotonic)
    onset: float | None = None
    steps: list[tuple[float, str]] = field(default_factory=list)

    def mark(self, text: str, *, onset: bool = False) -> float:
        now = time.monotonic()
        if onset:
            self.onset = now
        if self.onset is None:
            label = f"loop  {now - self.started:6.1f} s"
        else:
            label = f"onset {now - self.onset:+6.1f} s"
        self.steps.append((now, text))
        print(f"   [{label}] {text}", flush=True)
        return now

    def since_onset(self, moment: float) -> float:
        return moment - (self.onset or moment)


@dataclass
class LoopResult:
    retrained: list[dg.DagsterRun]
    new_version: str | None
    onset_to_scoring_s: float | None
    published: PublishReport


def _runs(instance: dg.DagsterInstance, job: str, tags: dict[str, str] | None = None) -> list[dg.DagsterRun]:
    return list(instance.get_runs(filters=dg.RunsFilter(job_name=job, tags=tags or {})))


def _wait(condition: Callable[[], Any], timeout_s: float, what: str, daemon: Child) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        if not daemon.alive():
            raise RuntimeError(f"the Dagster daemon exited:\n{daemon.tail()}")
        time.sleep(0.5)
    raise TimeoutError(
        f"timed out after {timeout_s:.0f} s waiting for {what}; daemon log:\n{daemon.tail(15)}"
    )


def _drift_retrains(instance: dg.DagsterInstance) -> list[dg.DagsterRun]:
    return _runs(instance, "model_training_job", {"mlops/trigger": "drift"})


def run_loop(
    home: Path,
    endpoint: MqttEndpoint,
    line: WeldLine,
    served: str,
    beats: Subscription,
    results: Subscription,
    env: dict[str, str],
    *,
    normal_s: float,
    drift: bool,
) -> LoopResult:
    """Publish on at `SPEED`; after `normal_s` of normal production switch the line to the drift material
    (unless `drift` is false) and follow the loop until the new model scores."""
    timeline = Timeline()
    instance = dg.DagsterInstance.get()
    daemon = dagster_daemon(home / "logs", {**env, **LOOP_ENV}).start()
    drift_reports = Subscription(endpoint, "acme/+/+/+/_edge/+/drift", "drift")
    stop = threading.Event()
    published: list[PublishReport] = []
    publisher = threading.Thread(
        target=lambda: published.append(publish_line(line, endpoint, stop=stop, speed=SPEED)), daemon=True
    )
    line.set_anomaly_rate(DEFECT_RATE)
    try:
        publisher.start()
        timeline.mark(
            f"Dagster daemon started; the line welds on at {SPEED:g}x, {DEFECT_RATE:.0%} defective, model {served} scoring"
        )
        time.sleep(normal_s)  # the normal period's length is the demo's choice, not a synchronisation
        reports = [r for _, r in drift_reports.messages]
        timeline.mark(
            f"{normal_s:.0f} s of normal production: {len(reports)} drift reports, "
            f"{sum(bool(r.get('dataset_drift')) for r in reports)} drifted, "
            f"{len(_drift_retrains(instance))} retraining runs"
        )
        if drift:
            line.set_drift(True)
            timeline.mark(
                "drift onset: the line switches to steel S355 (current, voltage and wire feed move)",
                onset=True,
            )
            retrained, new_version, reached = _follow_drift(
                instance, daemon, drift_reports, beats, results, served, timeline
            )
        else:
            retrained, new_version, reached = _drift_retrains(instance), None, None
    finally:
        report = _stop(stop, publisher, published)
        drift_reports.close()
        _stop_daemon(daemon, instance)
    return LoopResult(retrained, new_version, timeline.since_onset(reached) if reached else None, report)


def _follow_drift(
    instance: dg.DagsterInstance,
    daemon: Child,
    drift_reports: Subscription,
    beats: Subscription,
    results: Subscription,
    served: str,
    timeline: Timeline,
) -> tuple[list[dg.DagsterRun], str | None, float | None]:
    """From the onset on: the drifted report, the retraining, the new model serving and scoring, its
    promotion. The drift retraining runs, the new version and when it first scored (None, None after a
    failed retraining, whose reasons are printed)."""
    before = len(drift_reports.messages)
    first = _wait(lambda: next((r for _, r in drift_reports.messages[before:] if r.get("dataset_drift")), None),
                  180, "a drifted report", daemon)  # fmt: skip
    drifted = sorted(c for c, v in first["column_drift"].items() if v["drifted"])
    timeline.mark(
        f"drift report {first['report_id']}: drift share {first['drift_share']:.2f} ({', '.join(drifted[:4])}...)"
    )
    run = _wait(lambda: next(iter(_drift_retrains(instance)), None), 300,
                "the retraining drift_sensor requests", daemon)  # fmt: skip
    timeline.mark(f"drift_sensor requested model_training_job {run.run_id[:8]} (run key {run.tags.get('dagster/run_key')}, "
                  f"data since the onset)")  # fmt: skip
    done = _wait(lambda: (r := instance.get_run_by_id(run.run_id)) is not None and r.is_finished and r, 600,
                 "the retraining to finish", daemon)  # fmt: skip
    timeline.mark(f"retraining finished: {done.status.value}")
    retrained = _drift_retrains(instance)
    if done.status != dg.DagsterRunStatus.SUCCESS:
        for reason in why_failed(instance, run.run_id):
            print(f"      {reason}")
        return retrained, None, None

    def serving_new() -> str | None:
        model = beats.latest().get("model") or {}
        version = str(model.get("version") or "")
        return version if version and version != served and model.get("ready") else None

    new_version: str = _wait(serving_new, 300, "the agent serving the new model", daemon)
    timeline.mark(
        f"edge agent serving model {new_version} ({(beats.latest().get('model') or {}).get('stage')})"
    )
    _wait(lambda: any(r.get("model_version") == new_version for _, r in results.messages), 120,
          "a result of the new model", daemon)  # fmt: skip
    reached = timeline.mark(f"scores on weld/anomaly from model {new_version}")
    promoted = _wait(lambda: (beats.latest().get("model") or {}).get("stage") == "fleet" and
                     (beats.latest().get("model") or {}).get("version") == new_version, 300,
                     "the canary's promotion to the fleet", daemon)  # fmt: skip
    if promoted:
        timeline.mark(f"canary promoted: model {new_version} serves the whole line")
    return retrained, new_version, reached


def _stop_daemon(daemon: Child, instance: dg.DagsterInstance, runs_timeout_s: float = 120.0) -> None:
    """The daemon stops launching; the runs it launched finish (an ingestion cut short would show as a
    failed run in `make dev` afterwards); what is still queued stays queued for the next daemon."""
    daemon.stop(group=False)
    running = [dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED]
    deadline = time.monotonic() + runs_timeout_s
    while instance.get_runs(filters=dg.RunsFilter(statuses=running)) and time.monotonic() < deadline:
        time.sleep(0.5)
    daemon.kill_group()


def why_failed(instance: dg.DagsterInstance, run_id: str) -> list[str]:
    """What made a run fail: its failed steps' errors and its failed checks' reasons."""
    reasons: list[str] = []
    for record in instance.all_logs(run_id):
        event = record.dagster_event
        if event is None:
            continue
        if event.event_type == dg.DagsterEventType.STEP_FAILURE:
            error = event.step_failure_data.error
            while error is not None and error.cause is not None:  # Dagster's wrapper around the step's own
                error = error.cause
            if error is not None and error.cls_name == "DagsterAssetCheckFailedError":
                continue  # a blocking check: its own evaluation says why
            message = error.message.strip().splitlines()[0] if error else "no error recorded"
            reasons.append(f"step {event.step_key} failed: {message}")
        elif event.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION:
            evaluation = event.asset_check_evaluation_data
            if not evaluation.passed:
                reason = evaluation.metadata.get("reason")
                text = getattr(reason, "value", reason) or "no reason recorded"
                reasons.append(f"check {evaluation.check_name} failed: {text}")
    return reasons or [f"run {run_id} failed without a step failure or failed check on record"]


def _stop(
    stop: threading.Event, publisher: threading.Thread, published: list[PublishReport]
) -> PublishReport:
    stop.set()
    publisher.join(120)
    return published[0] if published else PublishReport()
