"""The scoring stage: every captured batch scored once, in capture order, by the model slot's model;
results to the outbox; checkpoints that let a crash resume from the durable capture; every drift
period, the newest scored windows handed to the drift monitor."""

from __future__ import annotations

import collections
import logging
import threading
import time
from typing import Any

import numpy as np
import orjson

from edge_agent.agent.drift.monitor import DriftMonitor
from edge_agent.agent.drift.report import DriftJob
from edge_agent.agent.messages import Message
from edge_agent.agent.model_slot.slot import Activation, ModelSlot
from edge_agent.agent.pipeline.child_process import ChildProcess, WorkerGone
from edge_agent.agent.pipeline.queues import BatchQueue
from edge_agent.agent.scoring.checkpoint import Checkpoint, CheckpointFile
from edge_agent.agent.scoring.counters import ScoringCounters
from edge_agent.agent.scoring.outbox import ScoreOutbox
from edge_agent.agent.scoring.replay import captured_after
from edge_agent.agent.scoring.state_codec import pack, unpack
from edge_agent.agent.settings import EdgeSettings
from edge_agent.agent.spool.sealed_backlog import PendingFile, SealedBacklog
from edge_agent.agent.stats import Stats
from edge_agent.agent.supervision import FatalHandler, start_stage

__all__ = ["MANIFEST_CHANNEL", "TELEMETRY_CHANNEL", "ScoringStage"]

log = logging.getLogger(__name__)

TELEMETRY_CHANNEL = "weldTelemetry"
MANIFEST_CHANNEL = "modelManifest"
_ATTEMPTS = 3
_DROP_SHADOW = "drop_shadow"
_IDLE_CHECK_S = 1.0


def anomaly_topic(telemetry_topic: str) -> str:
    return telemetry_topic.rsplit("/", 2)[0] + "/weld/anomaly"


class ScoringStage:
    """The writer `offer`s what it captured (a full queue makes it wait, counted: nothing captured goes
    unscored while the agent runs). The thread sends telemetry to the worker (decoded by validation, or
    parsed from the payload after a restart), manifests to the model slot, results to the outbox; the
    slot's swaps happen between two requests. Every `checkpoint_interval_s` the worker's state is saved
    with the capture sequence it covers; sealed capture files past it are held back from upload
    (`holds_back`), so after a crash `start` scores them again from the spool. A worker that dies is
    restarted from the checkpoint and the requests since are replayed; a request it fails three times
    is counted unscored (`error`). With a drift monitor, every `drift.period_s` the worker's rolling
    windows go to it (`_offer_drift`: one request; the report runs in the monitor's own thread and
    worker process)."""

    def __init__(
        self,
        settings: EdgeSettings,
        *,
        slot: ModelSlot,
        outbox: ScoreOutbox,
        backlog: SealedBacklog,
        segments_dir: Any,
        checkpoints: CheckpointFile,
        stats: Stats,
        on_fatal: FatalHandler,
        undeclared_fields: frozenset[str] = frozenset(),
        drift: DriftMonitor | None = None,
    ) -> None:
        model, scoring = settings.model, settings.scoring
        assert model.public_key is not None, "scoring needs model.public_key"
        self.public_key, self.key_id = model.public_key, model.key_id
        self.settings = scoring
        self.slot = slot
        self.outbox = outbox
        self.backlog = backlog
        self.segments_dir = segments_dir
        self.checkpoints = checkpoints
        self.stats = stats
        self.on_fatal = on_fatal
        self.undeclared_fields = undeclared_fields
        self.counters = ScoringCounters()
        self.queue: BatchQueue[Message] = BatchQueue("score", scoring.queue_capacity)
        args = ["--public-key", model.public_key, "--max-weld-samples", str(scoring.max_weld_samples),
                "--raise-after", str(scoring.alert_raise_after), "--clear-after", str(scoring.alert_clear_after),
                "--clear-ratio", str(scoring.alert_clear_ratio)]  # fmt: skip
        if model.key_id is not None:
            args += ["--key-id", model.key_id]
        self.drift, self.drift_settings = drift, settings.drift
        if drift is not None:
            args += ["--drift-windows", str(settings.drift.window_rows)]
        self.worker = ChildProcess("edge_agent.agent.scoring.worker", args, "score-0")
        self.fenced_seq: int | None = None
        """Capture files past this sequence stay in the spool (None: all, until `start` has replayed)."""
        self.scored_through = 0
        self._saved_through = -1
        self._since_checkpoint: list[dict[str, Any]] = []
        self._controls: collections.deque[Activation | str] = collections.deque()
        self._thread: threading.Thread | None = None
        self._abort = threading.Event()
        self._next_checkpoint = 0.0
        self._next_idle = 0.0
        self._next_drift = time.monotonic() + settings.drift.period_s
        slot.request_activation = self._controls.append
        slot.request_drop_shadow = lambda: self._controls.append(_DROP_SHADOW)

    # --- what the rest of the agent calls ---

    def offer(self, messages: list[Message]) -> None:
        """Captured messages, in capture order; waits for room (counted) rather than skip any."""
        self.queue.put_many(messages)

    def holds_back(self, file: PendingFile) -> bool:
        fenced = self.fenced_seq
        return file.key.kind == "capture" and (fenced is None or file.key.last_seq > fenced)

    def wants_blocks(self) -> bool:
        return self.slot.active is not None or bool(self._controls)

    # --- lifecycle ---

    def start(self) -> None:
        """Start the worker with the cached model and the checkpoint, score what the spool holds past
        it, then take live batches."""
        self.worker.start()
        checkpoint = self.checkpoints.load()
        if checkpoint is not None:
            self._call({"op": "restore", "state": checkpoint.cells})
            self.scored_through = checkpoint.capture_seq
        activation = self.slot.cached_activation()
        if activation is not None:
            self._activate(activation, restoring=True)
        self.outbox.recover()
        self._replay()
        self._checkpoint(force=True)
        self._thread = start_stage("scoring", self._run, stats=self.stats, on_fatal=self.on_fatal)
        self.slot.start()

    def _replay(self) -> None:
        records = captured_after(
            self.backlog, self.segments_dir, self.scored_through, (TELEMETRY_CHANNEL, MANIFEST_CHANNEL)
        )
        if records:
            log.info("scoring %d batches captured after the last checkpoint (seq > %d)", len(records),
                     self.scored_through)  # fmt: skip
            self.stats.event("scoring_replayed", len(records))
        for start in range(0, len(records), self.settings.batch):
            chunk = records[start : start + self.settings.batch]
            pending: list[list[Any]] = []
            for record in chunk:
                if record.channel == MANIFEST_CHANNEL:
                    self.slot.on_deployment(record.payload, self.public_key, self.key_id)
                else:
                    pending.append([record.topic, record.seq, None, np.frombuffer(record.payload, np.uint8)])
            self._score(pending)
            self.scored_through = chunk[-1].seq

    def drain(self, deadline: float) -> None:
        """Score what is queued, save a last checkpoint (the fence opens for the final upload)."""
        self.slot.stop()
        self.queue.close()
        if self._thread is not None:
            self._thread.join(max(0.1, deadline - time.monotonic()))
            if self._thread.is_alive():
                log.error("scoring did not drain in time; the rest is scored at the next start")
                self._abort.set()
                self._thread.join(5.0)
        if self._thread is not None and not self._thread.is_alive():
            self._guarded_checkpoint()

    def stop(self) -> None:
        self._abort.set()
        self.slot.stop()
        self.queue.close()
        if self._thread is not None:
            self._thread.join(5.0)
        self.worker.stop()
        self.outbox.close()

    # --- the thread ---

    def _run(self) -> None:
        while not self._abort.is_set():
            self._apply_controls()
            batch = self.queue.get_batch(self.settings.batch, timeout_s=0.1)
            if batch:
                self._process(batch)
            self._housekeeping()
            if not batch and self.queue.closed and not len(self.queue):
                return

    def _process(self, batch: list[Message]) -> None:
        records: list[list[Any]] = []
        parsed = 0
        for message in batch:
            channel = message.verdict.channel if message.verdict is not None else None
            if channel == TELEMETRY_CHANNEL:
                if message.block is not None:
                    records.append([message.topic, message.seq, np.frombuffer(message.block, np.uint8), None])
                else:  # validated before a model was loaded: the worker parses it (counted)
                    parsed += 1
                    records.append(
                        [message.topic, message.seq, None, np.frombuffer(message.payload, np.uint8)]
                    )
            elif channel == MANIFEST_CHANNEL:
                self._score(records)
                records = []
                self.slot.on_deployment(message.payload, self.public_key, self.key_id)
        self._score(records)
        self.scored_through = max(self.scored_through, batch[-1].seq)
        if parsed and self.slot.active is not None:
            self.stats.event("scoring_parsed_payloads", parsed)

    def _housekeeping(self) -> None:
        now = time.monotonic()
        if now >= self._next_idle:
            self._next_idle = now + _IDLE_CHECK_S
            reply = self._call({"op": "idle", "now": time.time(), "idle_s": self.settings.weld_idle_close_s})
            self._publish(reply.get("results", []), suppress_through=None)
        if now >= self._next_checkpoint:
            self._checkpoint()
        if self.drift is not None and now >= self._next_drift:
            self._offer_drift(self.drift)

    def _offer_drift(self, drift: DriftMonitor) -> None:
        """The newest scored windows to the drift monitor, when at least `drift.min_rows` arrived since
        the last report and it is free (else it is asked again shortly)."""
        now = time.monotonic()
        if drift.busy:
            self._next_drift = now + _IDLE_CHECK_S
            return
        self._next_drift = now + self.drift_settings.period_s
        taken = self._call({"op": "windows", "min_new": self.drift_settings.min_rows}).get("windows")
        if taken is not None:
            drift.submit(DriftJob.from_windows(taken))

    # --- the worker ---

    def _call(self, request: dict[str, Any]) -> dict[str, Any]:
        """One request; a worker that dies is restarted from the checkpoint, and after `_ATTEMPTS`
        failures a score request is answered as unscored (`error`)."""
        for attempt in range(_ATTEMPTS):
            try:
                reply: dict[str, Any] = unpack(self.worker.call_raw(pack(request)))
            except WorkerGone as exc:
                if self._abort.is_set():
                    raise
                self._restart_worker(exc, attempt)
                continue
            if "failed" in reply:
                self.stats.event("scoring_request_failures")
                self.stats.error(f"scoring worker: {reply['failed']}")
                break
            return reply
        if request["op"] == "score":
            self.counters.unscored_by("error", len(request["records"]))
        return {"results": []}

    def _restart_worker(self, cause: BaseException, attempt: int) -> None:
        self.stats.event("score_worker_restarts")
        self.stats.error(f"scoring worker failed ({cause}); restarting it from the checkpoint")
        log.error("scoring worker failed (%s, attempt %d); restarting it", cause, attempt + 1)
        self.worker.restart()
        self.slot.shadow_dropped()  # a shadow is not reloaded: the canary compares from here on without it
        active = self.slot.active
        if active is not None:
            folder = self.slot.cache.folder(active.version)
            self._send({"op": "load", "version": active.version, "folder": str(folder)})
            self._send({"op": "activate", "version": active.version, "keep_shadow": False})
        checkpoint = self.checkpoints.load()
        if checkpoint is not None:
            self._send({"op": "restore", "state": checkpoint.cells})
        for earlier in self._since_checkpoint:  # results already in the outbox: only the state is rebuilt
            self._send(earlier)

    def _send(self, request: dict[str, Any]) -> dict[str, Any]:
        reply: dict[str, Any] = unpack(self.worker.call_raw(pack(request)))
        return reply

    def _score(self, records: list[list[Any]]) -> None:
        if not records:
            return
        request = {"op": "score", "now": time.time(), "records": records}
        reply = self._call(request)
        self._since_checkpoint.append(request)
        self._publish(reply.get("results", []), suppress_through=self.outbox.high_water)

    def _publish(self, entries: list[dict[str, Any]], suppress_through: int | None) -> None:
        """Results to the outbox; those of batches already in it (scored before a crash) are left out."""
        active = self.slot.active.version if self.slot.active is not None else None
        items: list[tuple[int, str, bytes]] = []
        for entry in entries:
            self.counters.add(entry, active)
            seq = int(entry.get("capture_seq", self.scored_through))
            if suppress_through is not None and seq <= suppress_through:
                continue
            for key in ("result", "weld_only"):
                result = entry.get(key)
                if result is not None:
                    for name in self.undeclared_fields:
                        result.pop(name, None)
                    items.append((seq, anomaly_topic(entry["topic"]), orjson.dumps(result)))
        self.outbox.append(items)

    # --- swaps and checkpoints ---

    def _apply_controls(self) -> None:
        while self._controls:
            control = self._controls.popleft()
            if control == _DROP_SHADOW:
                self._call({"op": "drop_shadow"})
                self.slot.shadow_dropped()
            elif isinstance(control, Activation):
                self._activate(control)

    def _activate(self, activation: Activation, restoring: bool = False) -> None:
        version = activation.deployment.version
        reply = self._call({"op": "load", "version": version, "folder": str(activation.folder)})
        if not reply.get("ok"):
            self.slot.refused(version, str(reply.get("error", "the scoring worker could not load it")))
            if self.slot.active is None or self.slot.active.version != version:
                self.slot.cache.discard(version)
            return
        # What the old model scored is made durable first, so that a crash can never have a batch scored
        # again by another version than the one that scored it.
        if not restoring:
            self._checkpoint(force=True)
        self._call({"op": "activate", "version": version, "keep_shadow": activation.keep_shadow})
        self.slot.activated(activation)

    def _checkpoint(self, force: bool = False) -> None:
        self._next_checkpoint = time.monotonic() + self.settings.checkpoint_interval_s
        if not force and self.scored_through == self._saved_through:
            return
        state = self._call({"op": "snapshot"}).get("state")
        if state is None:  # the worker could not give its state: keep the last checkpoint and the fence
            log.error("no scoring checkpoint: the worker did not return its state")
            return
        self.outbox.sync()
        self.checkpoints.save(Checkpoint(self.scored_through, state))
        self._saved_through = self.scored_through
        self.fenced_seq = self.scored_through
        self._since_checkpoint.clear()

    def _guarded_checkpoint(self) -> None:
        try:
            self._checkpoint(force=True)
        except Exception as exc:
            log.exception("the last scoring checkpoint failed")
            self.stats.error(f"the last scoring checkpoint failed: {exc!r}")

    # --- what the heartbeat says ---

    def state(self, published: int) -> dict[str, Any]:
        return self.counters.payload(published=published, backlog=self.outbox.backlog)
