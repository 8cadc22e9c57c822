"""The drift policy alone: streaks per agent and model version, each report counted once, the waits
(cooldown, data after the onset) and the request's run key, onset and tags; the sensor's cursor."""

from __future__ import annotations

import pytest

from mlops_assets.ml.monitoring.drift_policy import (
    DriftState,
    completed_streaks,
    judge_line,
    observe,
    record_request,
)
from mlops_assets.ml.monitoring.drift_summaries import DriftSummary
from mlops_assets.ml.monitoring.settings import DriftPolicy

POLICY = DriftPolicy(share_threshold=0.5, consecutive=3, cooldown_s=600, min_welds=20)
T0 = 1_763_740_800_000


def report(
    seq: int, share: float, *, agent: str = "edge-a", line: str = "line-1", version: str = "1"
) -> DriftSummary:
    at = T0 + seq * 10_000
    return DriftSummary(
        report_id=f"{agent}:{seq}", agent=agent, seq=seq, line=line, timestamp_ms=at,
        window_start_ms=at - 60_000, window_end_ms=at, drift_share=share, model_version=version,
        report_uri=f"plant-1/{line}/{agent}/2025-11-21/drift-{agent}-{seq:012d}-{seq:012d}.html",
    )  # fmt: skip


def run(*reports: DriftSummary, state: DriftState | None = None) -> DriftState:
    """Each report seen at its own look, as the sensor sees retained summaries (the latest only)."""
    state = state or DriftState()
    for summary in reports:
        state = observe(state, [summary], POLICY)
    return state


def test_three_drifting_reports_in_a_row_complete_a_streak_from_the_first_reports_onset() -> None:
    state = run(report(1, 0.75), report(2, 0.5))
    assert completed_streaks(state) == {}
    state = run(report(3, 1.0), state=state)
    ((line, (agent, streak)),) = completed_streaks(state).items()
    assert (line, agent, streak.completed_by, streak.reports) == ("line-1", "edge-a", "edge-a:3", 3)
    assert streak.onset_ms == report(1, 0).window_end_ms and streak.first_report_id == "edge-a:1"


def test_the_onset_is_the_end_of_the_first_drifting_reports_windows_whatever_came_before() -> None:
    """A rolling window that just turned drifted still holds windows from before the change, and the
    report before it may not have been seen (or may hold a few windows of the new regime under the
    threshold): only the end of the first drifting report's windows is surely after the change."""
    for before in ([report(1, 0.0)], [report(0, 0.0)], []):  # the clean report just before, one missed, none
        state = run(*before, report(2, 0.75), report(3, 0.75), report(4, 0.75))
        ((_, (_, streak)),) = completed_streaks(state).items()
        assert streak.onset_ms == report(2, 0.75).window_end_ms > report(2, 0.75).window_start_ms


def test_a_report_under_the_threshold_ends_the_streak_even_a_complete_one() -> None:
    assert completed_streaks(run(report(1, 0.75), report(2, 0.25), report(3, 0.75), report(4, 0.75))) == {}
    assert completed_streaks(run(report(1, 1), report(2, 1), report(3, 1), report(4, 0.25))) == {}


def test_the_same_retained_report_seen_at_every_look_counts_once() -> None:
    state = run(report(1, 1.0), report(1, 1.0), report(1, 1.0), report(2, 1.0), report(2, 1.0))
    assert state.agents["edge-a"].streak is not None and state.agents["edge-a"].streak.reports == 2
    assert completed_streaks(state) == {}


def test_an_older_report_is_ignored_and_a_restarted_counter_is_a_new_report() -> None:
    state = run(report(5, 1.0), report(6, 1.0))
    stale = report(4, 1.0)  # computed before 6: a late duplicate, not a new report
    assert run(stale, state=state).agents["edge-a"].streak.reports == 2  # type: ignore[union-attr]
    restarted = DriftSummary(**{**report(1, 1.0).__dict__, "timestamp_ms": T0 + 999_000})
    assert run(restarted, state=state).agents["edge-a"].streak.reports == 3  # type: ignore[union-attr]


def test_another_model_version_starts_a_new_streak() -> None:
    state = run(report(1, 1.0), report(2, 1.0), report(3, 1.0, version="2"))
    streak = state.agents["edge-a"].streak
    assert streak is not None and (streak.reports, streak.model_version, streak.first_report_id) == (
        1,
        "2",
        "edge-a:3",
    )


def test_agents_keep_their_own_streaks_and_the_line_takes_the_earliest_onset() -> None:
    state = run(
        report(1, 1.0), report(0, 1.0, agent="edge-b"), report(2, 1.0), report(1, 1.0, agent="edge-b")
    )
    state = run(report(3, 1.0), report(2, 1.0, agent="edge-b"), state=state)
    assert {a for a, t in state.agents.items() if t.streak and t.streak.completed_by} == {"edge-a", "edge-b"}
    ((_, (agent, streak)),) = completed_streaks(state).items()  # one line, so one candidate
    assert agent == "edge-b" and streak.onset_ms == report(0, 0).window_end_ms


def _judge(state: DriftState, *, welds: int, last: int | None = None, now: int = T0 + 100_000):
    ((line, (agent, streak)),) = completed_streaks(state).items()
    asked: list[int] = []

    def welds_after(onset_ms: int) -> int:
        asked.append(onset_ms)
        return welds

    return judge_line(
        line, agent, streak, policy=POLICY, last_request_ms=last, now_ms=now, welds_after=welds_after
    ), asked


def test_a_complete_streak_requests_a_retraining_since_its_onset_with_the_report_as_run_key() -> None:
    state = run(report(1, 0.75), report(2, 1.0), report(3, 1.0))
    verdict, asked = _judge(state, welds=20)
    assert verdict.request is not None
    assert verdict.request.run_key == "edge-a:3" and verdict.request.since_ms == report(1, 0).window_end_ms
    assert asked == [verdict.request.since_ms]
    tags = verdict.request.tags
    assert tags["mlops/trigger"] == "drift" and tags["mlops/drift_report_id"] == "edge-a:3"
    assert tags["mlops/drift_onset_ms"] == str(report(1, 0).window_end_ms)
    assert tags["mlops/drift_share"] == "1.0000" and tags["mlops/drift_reports"] == "3"
    assert tags["mlops/drift_report_uri"].endswith("drift-edge-a-000000000003-000000000003.html")


def test_it_waits_while_silver_holds_too_few_welds_after_the_onset() -> None:
    verdict, _ = _judge(run(report(1, 1.0), report(2, 1.0), report(3, 1.0)), welds=19)
    assert verdict.request is None and "waiting for data: 19 of 20 welds" in verdict.note


def test_within_the_cooldown_nothing_is_requested_and_silver_is_not_even_read() -> None:
    state = run(report(1, 1.0), report(2, 1.0), report(3, 1.0))
    verdict, asked = _judge(state, welds=1000, last=T0, now=T0 + 599_000)
    assert verdict.request is None and "cooling down" in verdict.note and asked == []
    after, _ = _judge(state, welds=1000, last=T0, now=T0 + 600_000)
    assert after.request is not None


def test_a_request_ends_the_lines_streaks_and_a_new_one_needs_as_many_reports_again() -> None:
    state = run(report(1, 1.0), report(2, 1.0), report(3, 1.0), report(1, 1.0, agent="edge-b"))
    state = record_request(state, "line-1", T0)
    assert state.requested_ms == {"line-1": T0} and all(t.streak is None for t in state.agents.values())
    state = run(report(4, 1.0), report(5, 1.0), state=state)
    assert completed_streaks(state) == {}
    assert completed_streaks(run(report(6, 1.0), state=state))["line-1"][1].first_report_id == "edge-a:4"


def test_the_state_survives_the_cursor_and_a_broken_cursor_is_named() -> None:
    state = record_request(run(report(1, 1.0), report(2, 1.0), report(3, 0.75, agent="edge-b")), "line-2", T0)
    assert DriftState.from_json(state.to_json()) == state
    assert DriftState.from_json(None) == DriftState()
    with pytest.raises(ValueError, match="drift sensor's cursor"):
        DriftState.from_json('{"agents": 3}')


def test_the_policy_refuses_nonsense() -> None:
    with pytest.raises(ValueError, match="threshold"):
        DriftPolicy(share_threshold=0.0)
    with pytest.raises(ValueError, match="consecutive"):
        DriftPolicy(consecutive=0)
