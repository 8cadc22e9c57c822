"""The heartbeat: the agent's state, retained at QoS 1 on `.../_edge/{agent}/heartbeat` every N seconds.

The same channel carries the Will (OFFLINE). Every heartbeat is checked against the contract's
`agentHeartbeat` schema before it is sent; fields newer than the loaded contract are left out.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Collection
from typing import TYPE_CHECKING, Any, Literal

import orjson

from edge_agent.agent.stats import Stats
from edge_agent.contract import Contract, ContractValidator, TopicMatch, TopicRouter

if TYPE_CHECKING:
    from paho.mqtt.client import MQTTMessageInfo

__all__ = [
    "ADDED_FIELDS",
    "ANOMALY_ADDED_FIELDS",
    "WILL_LAST_ERROR",
    "HeartbeatPublisher",
    "HeartbeatStatus",
    "contract_declares",
    "encode_heartbeat",
    "heartbeat_payload",
    "will_payload",
]

log = logging.getLogger(__name__)

HeartbeatStatus = Literal["ONLINE", "DEGRADED", "OFFLINE"]
ADDED_FIELDS = ("queue_full_waits", "model", "scoring")
"""Heartbeat fields newer than contract 1.0.0 (`queue_full_waits` 1.1.0, `model` and `scoring` 1.2.0):
sent only when the loaded contract declares them."""
ANOMALY_ADDED_FIELDS = (
    "result_id", "seq", "window_start_ms", "window_end_ms", "windows", "alert", "weld",
)  # fmt: skip
"""`anomalyScore` fields of contract 1.2.0: an agent given an older copy leaves them out of its results."""
WILL_LAST_ERROR = "connection lost without a clean disconnect"


def contract_declares(contract: Contract, topic: str, field: str) -> bool:
    """Whether the contract's payload schema for `topic` takes `field`: in its `properties`, or open to
    fields it does not name (no `additionalProperties: false`). False for a topic outside the contract."""
    found = TopicRouter(contract.channels.values()).route(topic)
    if not isinstance(found, TopicMatch):
        return False
    for message in found.channel.messages.values():
        schema = message.payload_schema
        if field in (schema.get("properties") or {}) or schema.get("additionalProperties", True) is True:
            return True
    return False


def heartbeat_payload(
    *,
    agent: str,
    status: HeartbeatStatus,
    started_at: float,
    contract_version: str,
    stats: Stats | None,
    queue_depths: dict[str, int],
    queue_full_waits: dict[str, int],
    spool_bytes: int,
    upload_backlog_files: int,
    last_error: str | None,
    model: dict[str, Any] | None = None,
    scoring: dict[str, Any] | None = None,
    now: float | None = None,
    declared: Collection[str] = ADDED_FIELDS,
) -> dict[str, Any]:
    """The heartbeat's fields; those of `ADDED_FIELDS` not in `declared` (the fields the loaded contract
    takes, `contract_declares`) are left out, and `model` and `scoring` when the agent has no model slot."""
    now = time.time() if now is None else now
    dropped = stats.snapshot()["dropped"] if stats is not None else {}
    payload = {
        "agent": agent,
        "status": status,
        "timestamp_ms": int(now * 1000),
        "started_ms": int(started_at * 1000),
        "uptime_s": round(max(0.0, now - started_at), 3),
        "contract_version": contract_version,
        "model_version": model["version"] if model else "",
        "counters": stats.topic_counters() if stats is not None else {},
        "queue_depths": queue_depths,
        "queue_full_waits": queue_full_waits,
        "dropped": dropped,
        "spool_bytes": spool_bytes,
        "upload_backlog_files": upload_backlog_files,
        "last_error": last_error,
        "model": model,
        "scoring": scoring,
    }
    for field in ADDED_FIELDS:
        if field not in declared or payload[field] is None:
            del payload[field]
    return payload


def will_payload(
    *, agent: str, started_at: float, contract_version: str, declared: Collection[str]
) -> dict[str, Any]:
    """The Will: what the broker publishes for us (OFFLINE) if we vanish without a clean disconnect."""
    return heartbeat_payload(
        agent=agent,
        status="OFFLINE",
        started_at=started_at,
        contract_version=contract_version,
        stats=None,
        queue_depths={},
        queue_full_waits={},
        spool_bytes=0,
        upload_backlog_files=0,
        last_error=WILL_LAST_ERROR,
        now=started_at,
        declared=declared,
    )


def encode_heartbeat(
    payload: dict[str, Any], validator: ContractValidator, topic: str, stats: Stats
) -> bytes | None:
    """The payload's bytes, or None (logged, counted) if it breaks the contract."""
    raw = orjson.dumps(payload)
    verdict = validator.check(topic, raw)
    if not verdict.ok:
        stats.event("heartbeat_invalid")
        log.error("heartbeat breaks the contract, not sent: %s", verdict.error)
        return None
    return raw


class HeartbeatPublisher:
    def __init__(
        self,
        *,
        topic: str,
        interval_s: float,
        build: Callable[[HeartbeatStatus | None], dict[str, Any]],
        publish: Callable[[bytes], MQTTMessageInfo | None],
        validator: ContractValidator,
        stats: Stats,
    ) -> None:
        self.topic = topic
        self.interval_s = interval_s
        self.build = build
        self.publish = publish
        self.validator = validator
        self.stats = stats
        self.last_payload: dict[str, Any] | None = None
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def encode(self, payload: dict[str, Any]) -> bytes | None:
        """The payload's bytes, or None (logged, counted) if it breaks the contract."""
        return encode_heartbeat(payload, self.validator, self.topic, self.stats)

    def beat(self, status: HeartbeatStatus | None = None) -> bool:
        payload = self.build(status)
        raw = self.encode(payload)
        if raw is None:
            return False
        self.last_payload = payload
        if self.publish(raw) is not None:
            self.stats.event("heartbeats")
            return True
        self.stats.event("heartbeats_skipped_offline")
        return False

    def announce(self, status: HeartbeatStatus, wait_s: float) -> bool:
        """Publish a heartbeat with this status now and wait (bounded) until the broker has it."""
        raw = self.encode(self.build(status))
        info = self.publish(raw) if raw is not None else None
        if info is None:
            return False
        info.wait_for_publish(wait_s)
        return info.is_published()

    def trigger(self) -> None:
        """Publish soon (after a (re)connect), from any thread."""
        self._wake.set()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="heartbeat", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(5.0)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.beat()
            except Exception as exc:
                self.stats.error(f"heartbeat failed: {exc!r}")
                log.exception("heartbeat failed")
            self._wake.wait(self.interval_s)
            self._wake.clear()
