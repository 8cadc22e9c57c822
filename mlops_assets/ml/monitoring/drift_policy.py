"""`drift_sensor`'s policy: a streak of drifting reports (drift share at least the threshold) from one
agent, against one model version, asks for one retraining of the agent's line on the data since the
streak's onset (the end of the first report's windows), once silver holds enough of it, and not again
within the line's cooldown. `DriftState` is what the sensor keeps between two looks (its cursor)."""

from __future__ import annotations

import copy
import datetime as dt
import json
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field

from mlops_assets.ml.monitoring.drift_summaries import DriftSummary
from mlops_assets.ml.monitoring.settings import DriftPolicy

__all__ = [
    "AgentTrack",
    "DriftState",
    "LineVerdict",
    "RetrainRequest",
    "Streak",
    "completed_streaks",
    "judge_line",
    "observe",
    "record_request",
]


@dataclass
class Streak:
    model_version: str
    first_report_id: str
    onset_ms: int
    reports: int
    last_report_id: str
    drift_share: float
    """The latest report's."""
    report_uri: str
    """The latest report's HTML, relative to the landing root."""
    completed_by: str | None = None
    """The report that made the streak `consecutive` long: the retraining's run key."""


@dataclass
class AgentTrack:
    line: str
    seq: int
    timestamp_ms: int
    streak: Streak | None = None


@dataclass
class DriftState:
    agents: dict[str, AgentTrack] = field(default_factory=dict)
    requested_ms: dict[str, int] = field(default_factory=dict)
    """line -> when the sensor last requested its retraining."""

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, raw: str | None) -> DriftState:
        """The state `to_json` wrote (empty for no cursor); ValueError naming the problem otherwise."""
        if not raw:
            return cls()
        try:
            data = json.loads(raw)
            agents = {}
            for agent, track in data["agents"].items():
                streak = track.pop("streak")
                agents[agent] = AgentTrack(**track, streak=Streak(**streak) if streak else None)
            return cls(agents, {line: int(ms) for line, ms in data["requested_ms"].items()})
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise ValueError(f"the drift sensor's cursor is not readable ({exc!r}): {raw[:200]}") from exc


@dataclass(frozen=True)
class RetrainRequest:
    line: str
    run_key: str
    since_ms: int
    tags: dict[str, str]


@dataclass(frozen=True)
class LineVerdict:
    line: str
    request: RetrainRequest | None
    note: str


def _is_new(summary: DriftSummary, track: AgentTrack | None) -> bool:
    """A report not seen yet: a higher number, or a lower one computed later (the counter restarted)."""
    if track is None or summary.seq > track.seq:
        return True
    return summary.seq < track.seq and summary.timestamp_ms > track.timestamp_ms


def _extended(streak: Streak | None, summary: DriftSummary, line_moved: bool) -> Streak:
    """The streak with `summary`, or a new one. A new streak's onset is the end of its first report's
    windows: the change came before it for sure. Earlier is not sure: a rolling window that just turned
    drifted still holds windows from before the change, the report before it may not have been seen
    (only the latest is retained), and one under the threshold may already hold a few windows of the
    new regime. Welds between the change and the onset are left out of the retraining, rather than
    risk training the new model on the old regime."""
    if streak is None or line_moved or streak.model_version != summary.model_version:
        return Streak(
            model_version=summary.model_version,
            first_report_id=summary.report_id,
            onset_ms=summary.window_end_ms,
            reports=1,
            last_report_id=summary.report_id,
            drift_share=summary.drift_share,
            report_uri=summary.report_uri,
        )
    streak.reports += 1
    streak.last_report_id, streak.drift_share = summary.report_id, summary.drift_share
    streak.report_uri = summary.report_uri
    return streak


def observe(state: DriftState, summaries: Iterable[DriftSummary], policy: DriftPolicy) -> DriftState:
    """`state` after the reports of `summaries` not seen yet: a drifting report extends its agent's
    streak (or starts one: at the first report, after a report under the threshold, or when the model
    version or the line changed); a report under the threshold ends it, complete or not (the drift did
    not last). A streak that reaches `policy.consecutive` reports is complete; it stays complete, and
    grows, until its line's retraining is requested.

    Only the latest report of an agent is retained on the UNS: reports made between two looks are not
    seen, so `consecutive` counts the reports the sensor saw (an agent reporting no faster than the
    sensor looks has every report seen)."""
    state = copy.deepcopy(state)
    for summary in sorted(summaries, key=lambda s: (s.agent, s.timestamp_ms, s.seq)):
        track = state.agents.get(summary.agent)
        if not _is_new(summary, track):
            continue
        streak = track.streak if track is not None else None
        moved = track is not None and track.line != summary.line
        if summary.drift_share >= policy.share_threshold:
            streak = _extended(streak, summary, moved)
            if streak.completed_by is None and streak.reports >= policy.consecutive:
                streak.completed_by = summary.report_id
        else:
            streak = None
        state.agents[summary.agent] = AgentTrack(summary.line, summary.seq, summary.timestamp_ms, streak)
    return state


def completed_streaks(state: DriftState) -> dict[str, tuple[str, Streak]]:
    """line -> (agent, streak): per line, the complete streak with the earliest onset."""
    found: dict[str, tuple[str, Streak]] = {}
    for agent, track in sorted(state.agents.items()):
        streak = track.streak
        if streak is None or streak.completed_by is None:
            continue
        if track.line not in found or streak.onset_ms < found[track.line][1].onset_ms:
            found[track.line] = (agent, streak)
    return found


def _iso(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC).isoformat(timespec="seconds")


def judge_line(
    line: str,
    agent: str,
    streak: Streak,
    *,
    policy: DriftPolicy,
    last_request_ms: int | None,
    now_ms: int,
    welds_after: Callable[[int], int],
) -> LineVerdict:
    """Request the line's retraining for its complete `streak`, or say why it waits: the line's
    cooldown since `last_request_ms`, or fewer than `policy.min_welds` welds in silver since the onset
    (`welds_after(onset_ms)`, only asked once the cooldown is over)."""
    about = f"{line}: {agent} drifts ({streak.reports} reports, share {streak.drift_share:.2f}, onset {_iso(streak.onset_ms)})"
    if last_request_ms is not None and now_ms - last_request_ms < policy.cooldown_s * 1000:
        left = policy.cooldown_s - (now_ms - last_request_ms) / 1000
        return LineVerdict(
            line, None, f"{about}; cooling down for {left:.0f} s more after the last retraining"
        )
    welds = welds_after(streak.onset_ms)
    if welds < policy.min_welds:
        return LineVerdict(
            line,
            None,
            f"{about}; waiting for data: {welds} of {policy.min_welds} welds since the onset in silver",
        )
    assert streak.completed_by is not None
    tags = {
        "mlops/trigger": "drift",
        "mlops/drift_report_id": streak.completed_by,
        "mlops/drift_first_report_id": streak.first_report_id,
        "mlops/drift_reports": str(streak.reports),
        "mlops/drift_share": f"{streak.drift_share:.4f}",
        "mlops/drift_onset_ms": str(streak.onset_ms),
        "mlops/drift_onset": _iso(streak.onset_ms),
        "mlops/drift_model_version": streak.model_version,
        "mlops/drift_agent": agent,
        "mlops/drift_report_uri": streak.report_uri,
    }
    request = RetrainRequest(line, streak.completed_by, streak.onset_ms, tags)
    return LineVerdict(line, request, f"{about}; retraining on {welds} welds since the onset")


def record_request(state: DriftState, line: str, now_ms: int) -> DriftState:
    """`state` once the line's retraining is requested: its cooldown starts and its agents' streaks end
    (the next request needs a new streak)."""
    state = copy.deepcopy(state)
    state.requested_ms[line] = now_ms
    for track in state.agents.values():
        if track.line == line:
            track.streak = None
    return state
