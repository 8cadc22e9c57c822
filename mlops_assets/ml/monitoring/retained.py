"""Retained UNS messages checked against the contract: what the monitoring sensors read from the broker
(drift summaries, heartbeats). A message that breaks the contract is reported and ignored, never trusted."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from edge_agent.contract import ContractValidator, load_contract

__all__ = ["CheckedRetained", "RetainedMessage", "check_retained", "edge_filter"]


def edge_filter(leaf: str) -> str:
    """The topic filter of every agent's `leaf` topic (`heartbeat`, `drift`) on every line."""
    return f"+/+/+/+/_edge/+/{leaf}"


@dataclass(frozen=True)
class RetainedMessage:
    topic: str
    parameters: Mapping[str, str]
    """The channel parameters of the topic: enterprise, site, area, line, agent."""
    data: Mapping[str, Any]
    """The decoded payload, valid against the contract."""


@dataclass(frozen=True)
class CheckedRetained:
    valid: list[RetainedMessage]
    refused: dict[str, str]
    """topic -> why the message was ignored."""


def check_retained(retained: Mapping[str, bytes], channel: str) -> CheckedRetained:
    """The messages of `retained` (topic -> payload) that are valid messages of `channel` and whose
    payload names the agent of their topic; the others with the reason, in `refused`."""
    validator = ContractValidator(load_contract(), channels=[channel])
    valid: list[RetainedMessage] = []
    refused: dict[str, str] = {}
    for topic, payload in sorted(retained.items()):
        verdict = validator.check(topic, payload)
        if not verdict.ok:
            refused[topic] = f"breaks the contract: {verdict.error}"
        elif verdict.data.get("agent") != verdict.parameters.get("agent"):
            refused[topic] = f"names agent {verdict.data.get('agent')!r}, its topic another"
        else:
            valid.append(RetainedMessage(topic, dict(verdict.parameters), verdict.data))
    return CheckedRetained(valid, refused)
