"""What travels through the agent: a received MQTT message, filled in stage by stage, and its verdict.

`Message` is mutable on purpose: the network thread creates it, the validate stage adds the verdict
summary and digest, the writer adds the capture sequence. One object per message keeps the hot path
free of copies.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Literal

import orjson

from edge_agent.contract import ContractValidator, Verdict
from edge_agent.features.telemetry_block import block_from_payload, encode_block

__all__ = [
    "SPOOL_KINDS",
    "UNKNOWN_TOPIC_KEY",
    "VALIDATOR_ERROR",
    "Message",
    "SpoolKind",
    "StoredVerdict",
    "classify",
    "classify_and_decode",
    "digest",
]

VALIDATOR_ERROR = "validator_error"
"""Quarantine reason of a message the validator failed on (an agent bug; the contract's kinds are in
`edge_agent.contract.ErrorKind`)."""

UNKNOWN_TOPIC_KEY = "_unknown"
"""Counter key of every topic outside the contract (the heartbeat schema names it)."""

SpoolKind = Literal["capture", "quarantine"]
SPOOL_KINDS: tuple[SpoolKind, SpoolKind] = ("capture", "quarantine")


@dataclass(frozen=True, slots=True)
class StoredVerdict:
    """The part of a contract verdict that is stored with the message (what the landing schemas hold)."""

    channel: str | None
    parameters_json: str | None
    error_kind: str | None = None
    error_path: str | None = None
    error_reason: str | None = None

    @property
    def ok(self) -> bool:
        return self.error_kind is None

    def to_list(self) -> list[str | None]:
        return [self.channel, self.parameters_json, self.error_kind, self.error_path, self.error_reason]

    @staticmethod
    def from_list(items: list[str | None]) -> StoredVerdict:
        return StoredVerdict(items[0], items[1], items[2], items[3], items[4])


def classify(validator: ContractValidator, topic: str, payload: bytes) -> StoredVerdict:
    """The stored verdict of one message. Never raises: should the validator itself fail (a bug, not bad
    input: it refuses bad input with a verdict), the message goes to quarantine as `validator_error` with
    the exception as the reason, instead of stopping the stage that classifies it."""
    try:
        checked = validator.check(topic, payload)
    except Exception as exc:
        return StoredVerdict(None, None, VALIDATOR_ERROR, "$", f"the validator failed: {exc!r}"[:1000])
    return _stored(checked)


def classify_and_decode(
    validator: ContractValidator, topic: str, payload: bytes, channel: str
) -> tuple[StoredVerdict, bytes | None]:
    """`classify`, and for a valid message of `channel` (telemetry) its samples decoded from the payload
    the check already parsed (`edge_agent.features.telemetry_block`): the batch is never parsed twice."""
    try:
        checked = validator.check(topic, payload)
    except Exception as exc:
        return StoredVerdict(None, None, VALIDATOR_ERROR, "$", f"the validator failed: {exc!r}"[:1000]), None
    verdict = _stored(checked)
    if checked.error is not None or checked.channel != channel:
        return verdict, None
    return verdict, encode_block(block_from_payload(checked.data))


def _stored(checked: Verdict) -> StoredVerdict:
    parameters = orjson.dumps(dict(checked.parameters)).decode() if checked.parameters else None
    if checked.error is None:
        return StoredVerdict(checked.channel, parameters)
    error = checked.error
    return StoredVerdict(checked.channel, parameters, error.kind.value, error.path, error.reason)


def digest(topic: str, payload: bytes) -> bytes:
    """16-byte identity of a message's content, for recognising QoS 1 redeliveries."""
    h = hashlib.blake2b(topic.encode(), digest_size=16)
    h.update(b"\x00")
    h.update(payload)
    return h.digest()


class Message:
    __slots__ = (
        "block",
        "digest",
        "dup",
        "generation",
        "mid",
        "payload",
        "qos",
        "received_at",
        "retain",
        "seq",
        "topic",
        "verdict",
    )

    def __init__(
        self,
        topic: str,
        payload: bytes,
        qos: int,
        retain: bool,
        dup: bool,
        mid: int,
        generation: int,
        received_at: float,
    ) -> None:
        self.topic = topic
        self.payload = payload
        self.qos = qos
        self.retain = retain
        self.dup = dup
        self.mid = mid
        self.generation = generation
        self.received_at = received_at
        self.verdict: StoredVerdict | None = None
        self.block: bytes | None = None
        """A valid telemetry batch decoded by validation, while scoring wants it (`telemetry_block`)."""
        self.digest = b""
        self.seq = -1

    @property
    def received_at_ms(self) -> int:
        return int(self.received_at * 1000)

    @property
    def kind(self) -> SpoolKind:
        return "capture" if self.verdict is not None and self.verdict.ok else "quarantine"

    @property
    def counter_key(self) -> str:
        """The topic for counters, or `_unknown` when the topic is outside the contract."""
        verdict = self.verdict
        return (
            self.topic if verdict is not None and verdict.parameters_json is not None else UNKNOWN_TOPIC_KEY
        )
