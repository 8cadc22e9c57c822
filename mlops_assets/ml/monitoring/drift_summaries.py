"""The drift summaries the agents retain on their `drift` topics, as `drift_sensor` reads them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from mlops_assets.ml.monitoring.retained import check_retained, edge_filter

__all__ = ["DRIFT_CHANNEL", "DRIFT_FILTER", "DriftSummaries", "DriftSummary", "drift_summaries"]

DRIFT_CHANNEL = "agentDrift"
DRIFT_FILTER = edge_filter("drift")


@dataclass(frozen=True)
class DriftSummary:
    report_id: str
    agent: str
    seq: int
    """n of `report_id` (`<agent>:<n>`): the agent's report counter."""
    line: str
    timestamp_ms: int
    window_start_ms: int
    """Start of the span of windows the report compared: where a drift streak's onset is taken."""
    window_end_ms: int
    """End of that span: after an undrifted report, the drift can only have begun after it."""
    drift_share: float
    model_version: str
    report_uri: str
    """The HTML report, relative to the landing root ('' when the summary names none)."""


@dataclass(frozen=True)
class DriftSummaries:
    summaries: list[DriftSummary]
    refused: dict[str, str]
    """topic -> why the retained message was ignored."""


def drift_summaries(retained: Mapping[str, bytes]) -> DriftSummaries:
    """The contract-valid summaries of `retained` (topic -> payload) that carry a report id of their
    agent (`report_id` is optional in the contract: an agent of an older contract sends none, and its
    reports cannot be told apart)."""
    checked = check_retained(retained, DRIFT_CHANNEL)
    refused = dict(checked.refused)
    summaries = []
    for message in checked.valid:
        data = message.data
        agent, _, number = str(data.get("report_id", "")).rpartition(":")
        if agent != data["agent"] or not number.isdigit():
            refused[message.topic] = f"report_id {data.get('report_id')!r} is not '<agent>:<n>' of its agent"
            continue
        summaries.append(
            DriftSummary(
                report_id=data["report_id"],
                agent=agent,
                seq=int(number),
                line=message.parameters["line"],
                timestamp_ms=int(data["timestamp_ms"]),
                window_start_ms=int(data.get("window_start_ms", data["timestamp_ms"])),
                window_end_ms=int(data.get("window_end_ms", data["timestamp_ms"])),
                drift_share=float(data["drift_share"]),
                model_version=str(data["model_version"]),
                report_uri=str(data.get("report_uri", "")),
            )
        )
    return DriftSummaries(summaries, refused)
