"""The contract as one callable: topic and raw payload in, a verdict out. Never raises on bad input."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from edge_agent.contract.document import Contract
from edge_agent.contract.errors import ContractError, ErrorKind
from edge_agent.contract.payloads import PayloadValidator
from edge_agent.contract.topics import TopicMatch, TopicRouter

__all__ = ["DEFAULT_MAX_PAYLOAD_BYTES", "ContractValidator", "Verdict"]

DEFAULT_MAX_PAYLOAD_BYTES = 1 << 20


@dataclass(frozen=True, slots=True)
class Verdict:
    """The outcome of checking one message. `data` is the decoded payload when it is valid."""

    topic: str
    channel: str | None = None
    message: str | None = None
    parameters: Mapping[str, str] = field(default_factory=dict)
    data: Any = None
    error: ContractError | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


class ContractValidator:
    """Routes topics to channels and validates payloads against each channel's messages.

    Thread-safe: the compiled validators hold no state, and the topic cache tolerates races.
    """

    def __init__(
        self,
        contract: Contract,
        *,
        channels: list[str] | None = None,
        max_payload_bytes: int = DEFAULT_MAX_PAYLOAD_BYTES,
    ) -> None:
        self.contract = contract
        selected = [contract.channel(c) for c in channels] if channels else list(contract.channels.values())
        self.router = TopicRouter(selected)
        self.max_payload_bytes = max_payload_bytes
        self._validators: dict[str, list[PayloadValidator]] = {
            ch.id: [
                PayloadValidator(msg.payload_schema, channel_id=ch.id, message_name=name)
                for name, msg in ch.messages.items()
            ]
            for ch in selected
        }

    def route(self, topic: str) -> TopicMatch | ContractError:
        return self.router.route(topic)

    def check(self, topic: str, payload: bytes) -> Verdict:
        """Validate one MQTT message as received."""
        routed = self.router.route(topic)
        if isinstance(routed, ContractError):
            return Verdict(topic, channel=routed.channel, error=routed)
        channel_id = routed.channel.id
        if len(payload) > self.max_payload_bytes:
            error = ContractError(
                ErrorKind.TOO_LARGE,
                channel_id,
                "$",
                f"payload of {len(payload)} bytes exceeds the limit of {self.max_payload_bytes}",
            )
            return Verdict(topic, channel_id, parameters=routed.parameters, error=error)
        try:
            data = orjson.loads(payload)
        except orjson.JSONDecodeError as exc:
            error = ContractError(ErrorKind.NOT_JSON, channel_id, "$", f"payload is not JSON: {exc}")
            return Verdict(topic, channel_id, parameters=routed.parameters, error=error)
        message, problem = self.check_data(channel_id, data)
        return Verdict(
            topic, channel_id, message, routed.parameters, data if problem is None else None, problem
        )

    def check_data(self, channel_id: str, data: Any) -> tuple[str | None, ContractError | None]:
        """Validate an already decoded payload; returns (message name, None) or (None, first error)."""
        first: ContractError | None = None
        for validator in self._validators[channel_id]:
            problem = validator.validate(data)
            if problem is None:
                return validator.message_name, None
            first = first or problem
        return None, first
