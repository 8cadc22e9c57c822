"""The drift monitor: a thread that turns the profile rows the scoring stage hands it into drift reports,
off the hot path, through a worker process started on demand and stopped when idle. Each report's
landing files go into the sealed backlog; its summary, checked against the contract, is published
retained on the agent's drift channel (one the broker has not confirmed waits, the latest winning)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import orjson

from edge_agent.agent.drift.landing_files import DriftFiles
from edge_agent.agent.drift.report import DriftJob, DriftReport, summary_payload
from edge_agent.agent.drift.state_file import DriftState, DriftStateFile
from edge_agent.agent.pipeline.child_process import ChildProcess, WorkerGone
from edge_agent.agent.scoring.state_codec import pack, unpack
from edge_agent.agent.settings import EdgeSettings
from edge_agent.agent.stats import Stats
from edge_agent.agent.supervision import FatalHandler, start_stage
from edge_agent.contract import ContractValidator

if TYPE_CHECKING:
    from paho.mqtt.client import MQTTMessageInfo

__all__ = ["DriftFailed", "DriftMonitor"]

log = logging.getLogger(__name__)

WORKER_MODULE = "edge_agent.agent.drift.worker"
_TICK_S = 0.5
_REPORT_TIMEOUT_S = 300.0  # the first report pays evidently's import (seconds on a busy edge box)
_REPUBLISH_S = 30.0


class DriftFailed(Exception):
    """A report could not be made (the worker failed or refused, the summary broke the contract)."""


class DriftMonitor:
    def __init__(
        self,
        settings: EdgeSettings,
        *,
        files: DriftFiles,
        state_file: DriftStateFile,
        publish: Callable[[bytes], MQTTMessageInfo | None],
        validator: ContractValidator,
        declared: frozenset[str],
        stats: Stats,
        on_written: Callable[[], None],
        on_fatal: FatalHandler,
    ) -> None:
        self.agent, self.topic, self.settings = settings.agent_id, settings.drift_topic, settings.drift
        self.files, self.state_file = files, state_file
        self.publish, self.validator, self.declared = publish, validator, declared
        self.stats, self.on_written, self.on_fatal = stats, on_written, on_fatal
        self.worker = ChildProcess(WORKER_MODULE, [], "drift-0")
        self.reports = self.failures = self.published = 0
        self.report_seconds = 0.0
        self.last: DriftReport | None = None
        self._state = DriftState()
        self._job: DriftJob | None = None
        self._running = self._accepting = False
        self._jobs = threading.Condition()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._publishing = threading.Lock()
        self._info: MQTTMessageInfo | None = None
        self._sent_at = 0.0
        self._worker_used_at = 0.0

    # --- what the scoring stage calls ---

    @property
    def busy(self) -> bool:
        """A report is waiting or running: the stage takes no rows meanwhile."""
        with self._jobs:
            return self._job is not None or self._running

    @property
    def summary_waiting(self) -> bool:
        """The latest summary is not yet confirmed by the broker."""
        return self._state.unpublished is not None

    def submit(self, job: DriftJob) -> bool:
        with self._jobs:
            if not self._accepting or self._job is not None or self._running:
                return False
            self._job = job
            self._jobs.notify_all()
            return True

    # --- lifecycle ---

    def start(self) -> None:
        state, problem = self.state_file.load()
        if problem is not None:
            self.stats.error(problem)
        self._state = state
        self._accepting = True
        self._thread = start_stage("drift", self._run, stats=self.stats, on_fatal=self.on_fatal)

    def drain(self, deadline: float) -> None:
        """Take no more jobs; let a running report finish and its summary reach the broker (bounded)."""
        with self._jobs:
            self._accepting = False
            self._jobs.wait_for(
                lambda: self._job is None and not self._running, max(0.1, deadline - time.monotonic())
            )
        limit = min(deadline, time.monotonic() + 5.0)
        while not self._publish_pending() and time.monotonic() < limit:
            self._stop.wait(0.05)

    def stop(self) -> None:
        self._accepting = False
        self._stop.set()
        with self._jobs:
            self._jobs.notify_all()
        if self._thread is not None:
            self._thread.join(1.0)
        self.worker.stop(timeout_s=2.0)  # a report still running ends here
        if self._thread is not None:
            self._thread.join(5.0)

    # --- the thread ---

    def _run(self) -> None:
        while not self._stop.is_set():
            with self._jobs:
                self._jobs.wait_for(lambda: self._job is not None or self._stop.is_set(), _TICK_S)
                job, self._job = self._job, None
                self._running = job is not None
            if job is not None:
                try:
                    self._report(job)
                finally:
                    with self._jobs:
                        self._running = False
                        self._jobs.notify_all()
            self._publish_pending()
            self._stop_idle_worker()

    def _report(self, job: DriftJob) -> None:
        started = time.monotonic()
        try:
            outcome = self._compute(job)
            report = self._finish(job, outcome)
        except (DriftFailed, WorkerGone, OSError) as exc:
            if self._stop.is_set():  # the agent stops: the worker was stopped under the report
                log.info("drift report over %d windows abandoned: the agent stops (%s)", job.rows, exc)
                return
            self.failures += 1
            self.stats.event("drift_report_failures")
            self.stats.error(f"drift report failed: {exc}")
            log.error("drift report over %d windows of model %s failed: %s", job.rows, job.model_version, exc)
            return
        finally:
            self._worker_used_at = time.monotonic()
        self.report_seconds += time.monotonic() - started
        self.reports += 1
        self.last = report
        self.stats.event("drift_reports")
        log.info(
            "drift report %s: %d of %d columns drifted (share %.2f, dataset drift %s) over %d windows of model %s",
            report.report_id, report.drifted_columns, len(report.column_drift), report.drift_share,
            report.dataset_drift, job.rows, job.model_version,
        )  # fmt: skip

    def _compute(self, job: DriftJob) -> dict[str, Any]:
        if self.worker.pid is None:
            try:
                self.worker.start()
            except (OSError, RuntimeError, TimeoutError) as exc:
                raise DriftFailed(f"the drift worker did not start: {exc}") from exc
            self.stats.event("drift_worker_starts")
        request = {
            "op": "report",
            "package": str(job.package),
            "spec": job.spec,
            "windows": job.windows,
            "drift_share": self.settings.drift_share,
            "method": self.settings.method,
            "threshold": self.settings.method_threshold,
        }
        try:
            reply: dict[str, Any] = unpack(self.worker.call_raw(pack(request), timeout_s=_REPORT_TIMEOUT_S))
        except WorkerGone:
            self.worker.stop(timeout_s=1.0)  # the next report starts a new one
            raise
        if "failed" in reply:
            raise DriftFailed(f"the drift worker: {reply['failed']}")
        return reply

    def _finish(self, job: DriftJob, outcome: dict[str, Any]) -> DriftReport:
        """Number the report (durably first: a number is never taken twice), write its landing files,
        then hand its summary to the publisher."""
        with self._publishing:  # every change of the state under one lock (see `_publish_pending`)
            seq = self._state.last_seq + 1
            self._save(DriftState(seq, self._state.unpublished))
        report = DriftReport.from_outcome(
            agent=self.agent, seq=seq, created_ms=int(time.time() * 1000), job=job,
            threshold=self.settings.drift_share, outcome=outcome,
        )  # fmt: skip
        key = self.files.key(report)
        assert key.companion_path is not None
        raw = orjson.dumps(summary_payload(report, key.companion_path, declared=self.declared))
        verdict = self.validator.check(self.topic, raw)
        if not verdict.ok:
            self.stats.event("drift_summary_invalid")
            raise DriftFailed(f"the summary breaks the contract's driftReport: {verdict.error}")
        self.files.write(report, raw)
        self.on_written()
        with self._publishing:
            self._info = None
            self._save(DriftState(seq, raw))
        self._publish_pending()
        return report

    def _save(self, state: DriftState) -> None:
        self.state_file.save(state)
        self._state = state

    def _publish_pending(self) -> bool:
        """Publish the latest summary until the broker confirms it; True when nothing waits."""
        with self._publishing:
            raw = self._state.unpublished
            if raw is None:
                return True
            info = self._info
            if info is not None and info.is_published():
                self._info = None
                self._save(DriftState(self._state.last_seq, None))
                self.published += 1
                self.stats.event("drift_summaries_published")
                return True
            if info is None or time.monotonic() - self._sent_at >= _REPUBLISH_S:
                self._info = self.publish(raw)  # None while not connected: tried again next tick
                self._sent_at = time.monotonic()
            return False

    def _stop_idle_worker(self) -> None:
        if (
            self.worker.pid is not None
            and time.monotonic() - self._worker_used_at >= self.settings.worker_idle_s
        ):
            self.worker.stop()
            self.stats.event("drift_worker_idle_stops")
            log.info("drift worker stopped after %.0f s without a report", self.settings.worker_idle_s)

    # --- what the metrics say ---

    def state(self) -> dict[str, Any]:
        last = self.last
        return {
            "reports": self.reports,
            "failures": self.failures,
            "published": self.published,
            "report_seconds": self.report_seconds,
            "worker_running": self.worker.pid is not None,
            "summary_waiting": self.summary_waiting,
            "last_report_id": last.report_id if last is not None else None,
            "last_model_version": last.job.model_version if last is not None else None,
            "last_drift_share": last.drift_share if last is not None else None,
            "last_dataset_drift": last.dataset_drift if last is not None else None,
        }
