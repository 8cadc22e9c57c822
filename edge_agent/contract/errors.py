"""Structured errors of the UNS contract: what failed, where, and why."""

from __future__ import annotations

import enum
from dataclasses import dataclass

__all__ = ["ContractDocumentError", "ContractError", "ErrorKind"]


class ErrorKind(enum.StrEnum):
    """Why a message was refused; also the quarantine reason code."""

    UNKNOWN_TOPIC = "unknown_topic"
    BAD_PARAMETER = "bad_parameter"
    TOO_LARGE = "too_large"
    NOT_JSON = "not_json"
    SCHEMA = "schema"


@dataclass(frozen=True, slots=True)
class ContractError:
    """A message that breaks the contract.

    `path` is a JSON path into the payload (`$.signals.current_a[3]`) or, for topic errors, the
    offending topic level (`topic.cell`). `channel` is None when the topic matches no channel.
    """

    kind: ErrorKind
    channel: str | None
    path: str
    reason: str

    def __str__(self) -> str:
        where = f"{self.channel}:" if self.channel else ""
        return f"{self.kind.value} at {where}{self.path}: {self.reason}"


class ContractDocumentError(ValueError):
    """The AsyncAPI document itself is unusable (not a mistake in a message)."""
