"""The validate stage: classify every message against the contract, then hand it to the capture writer.

In `validate_workers` worker processes fed by one thread each (`validate_mode: process`), or in threads of
the agent process (`thread`). A batch a worker fails on three times is classified in-thread.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from edge_agent.agent.messages import Message, StoredVerdict, classify, classify_and_decode, digest
from edge_agent.agent.pipeline.child_process import ChildProcess, WorkerGone
from edge_agent.agent.pipeline.queues import BatchQueue, QueueClosed
from edge_agent.agent.pipeline.worker_protocol import DECODE_BLOCKS, encode_batch, unpack_reply
from edge_agent.agent.settings import PipelineSettings
from edge_agent.agent.stats import Stats
from edge_agent.agent.supervision import FatalHandler, restart_worker, start_stage
from edge_agent.contract import ContractValidator

__all__ = ["ValidateStage"]

log = logging.getLogger(__name__)

_ATTEMPTS = 3


class ValidateStage:
    def __init__(
        self,
        ingress: BatchQueue[Message],
        output: BatchQueue[Message],
        *,
        validator: ContractValidator,
        contract_path: Path | None,
        settings: PipelineSettings,
        stats: Stats,
        on_fatal: FatalHandler,
        decode_channel: str | None = None,
        wants_blocks: Callable[[], bool] = lambda: False,
    ) -> None:
        """`decode_channel`: the channel whose valid batches are also decoded for scoring, while
        `wants_blocks()` says scoring needs them (a model is loaded)."""
        self.ingress = ingress
        self.decode_channel = decode_channel
        self.wants_blocks = wants_blocks
        self.output = output
        self.validator = validator
        self.settings = settings
        self.stats = stats
        self.on_fatal = on_fatal
        self._stopping = False
        self.workers: list[ChildProcess] = []
        if settings.validate_mode == "process":
            args = ["--max-payload-bytes", str(settings.max_payload_bytes)]
            if contract_path is not None:
                args += ["--contract", str(contract_path)]
            if decode_channel is not None:
                args += ["--decode-channel", decode_channel]
            self.workers = [
                ChildProcess("edge_agent.agent.pipeline.validate_worker", args, f"validate-{i}")
                for i in range(settings.validate_workers)
            ]
        self._threads: list[threading.Thread] = []
        self._valid_verdicts: dict[str | None, StoredVerdict] = {}

    def start(self) -> None:
        for process in self.workers:
            version = process.start().get("contract_version")
            if version != self.validator.contract.version:
                raise RuntimeError(
                    f"validation worker loaded contract {version}, the agent {self.validator.contract.version}"
                )
        count = self.settings.validate_workers
        for index in range(count):
            worker = self.workers[index] if self.workers else None
            self._threads.append(
                start_stage(
                    f"validate-{index}",
                    partial(self._run, worker),
                    stats=self.stats,
                    on_fatal=self.on_fatal,
                )
            )

    def join(self, timeout_s: float) -> bool:
        """After the ingress queue is closed: wait until every taken message was handed on."""
        for thread in self._threads:
            thread.join(timeout_s)
        return not any(t.is_alive() for t in self._threads)

    def stop(self, timeout_s: float = 5.0) -> None:
        """Stop the threads, then the workers (a worker stopped under a running thread would be restarted)."""
        self._stopping = True
        self.ingress.close()
        self.join(timeout_s)
        for worker in self.workers:
            worker.stop()

    def _decoding(self) -> bool:
        return self.decode_channel is not None and self.wants_blocks()

    def _classify_here(self, batch: list[Message]) -> None:
        channel = self.decode_channel if self._decoding() else None
        for message in batch:
            if channel is None:
                message.verdict = classify(self.validator, message.topic, message.payload)
            else:
                message.verdict, message.block = classify_and_decode(
                    self.validator, message.topic, message.payload, channel
                )
            message.digest = digest(message.topic, message.payload)

    def _call(self, worker: ChildProcess, batch: list[Message]) -> tuple[list[list[Any]], list[bytes | None]]:
        items = [(m.topic, m.payload) for m in batch]
        if self._decoding():
            return unpack_reply(worker.call_raw(encode_batch(items, DECODE_BLOCKS)))
        results = worker.call(encode_batch(items))
        return results, [None] * len(results)

    def _classify_in(self, worker: ChildProcess, batch: list[Message]) -> bool:
        """Classify through the worker (in-thread after repeated failures); False when stopping first."""
        for _ in range(_ATTEMPTS):
            try:
                results, blocks = self._call(worker, batch)
                if len(results) != len(batch):
                    raise WorkerGone(f"worker {worker.name} answered {len(results)} of {len(batch)}")
            except WorkerGone as exc:
                if self._stopping:
                    return False
                restart_worker(worker, stats=self.stats, event="validate_worker_restarts", cause=exc)
                continue
            valid = (
                self._valid_verdicts
            )  # one shared StoredVerdict per valid topic: no allocation per message
            for message, result, block in zip(batch, results, blocks, strict=True):
                message.block = block
                if result[2] is None:
                    verdict = valid.get(result[1])
                    if verdict is None or verdict.channel != result[0]:
                        verdict = valid[result[1]] = StoredVerdict(result[0], result[1])
                        if len(valid) > 65536:
                            valid.clear()
                    message.verdict = verdict
                else:
                    message.verdict = StoredVerdict.from_list(result[:5])
                message.digest = bytes.fromhex(str(result[5]))
            return True
        log.error("validating a batch of %d in-thread after %d worker failures", len(batch), _ATTEMPTS)
        self.stats.event("validate_fallback_batches")
        self._classify_here(batch)
        return True

    def _run(self, worker: ChildProcess | None) -> None:
        batch_size = self.settings.validate_batch
        while True:
            batch = self.ingress.get_batch(batch_size, timeout_s=0.5)
            if not batch:
                if self.ingress.closed and not len(self.ingress):
                    return
                continue
            if worker is None:
                self._classify_here(batch)
            elif not self._classify_in(worker, batch):
                self.stats.event("unacknowledged_on_shutdown", len(batch))
                return
            self.stats.count_verdicts(
                [(m.counter_key, m.verdict is not None and m.verdict.ok) for m in batch],
                [m.verdict.error_kind for m in batch if m.verdict is not None and m.verdict.error_kind],
            )
            try:
                self.output.put_many(batch)
            except QueueClosed:
                log.error(
                    "capture queue closed with %d validated messages in hand (not acknowledged)", len(batch)
                )
                self.stats.event("unacknowledged_on_shutdown", len(batch))
                return
