"""The new-regime rule of the quality gate, bound by bound: the false-alarm margins (absolute and
relative), the recall tolerance on the labelled history, the floor when the champion cannot be scored
on it, and the refusals when something cannot be measured."""

from __future__ import annotations

from dataclasses import replace

import pytest

from mlops_assets.ml.release.gate_decision import FIRST_MODEL, LABELLED_HOLDOUT, NEW_REGIME, decide
from mlops_assets.ml.release.new_regime_rule import NewRegimeEvidence, NewRegimePolicy, decide_new_regime

POLICY = NewRegimePolicy(false_alarm_margin=0.2, false_alarm_relative_margin=0.5, recall_tolerance=0.05)
AFTER_DRIFT = NewRegimeEvidence(
    level="weld",
    holdout_welds=24,
    candidate_false_alarm_rate=0.04,
    champion_false_alarm_rate=0.96,
    history_welds=10,
    candidate_recall=1.0,
    champion_recall=1.0,
    champion_history_error=None,
    labels_version=3,
)


def test_a_candidate_that_removes_the_false_alarms_and_keeps_recall_passes() -> None:
    decision = decide_new_regime(AFTER_DRIFT, POLICY)
    assert decision.passed and decision.rule == NEW_REGIME, decision.reason
    assert decision.metric == "false_alarm_rate" and (decision.candidate, decision.champion) == (0.04, 0.96)
    assert decision.tolerance == 0.2
    assert decision.reason.startswith("new regime (no labelled bad weld held out): ")
    assert "24 held-out welds" in decision.reason and "10 labelled bad welds" in decision.reason


@pytest.mark.parametrize(
    ("champion", "candidate", "passed"),
    [
        (0.96, 0.48, True),  # half the champion's: the relative margin exactly
        (0.96, 0.49, False),
        (0.30, 0.10, True),  # 0.2 lower: the absolute margin exactly (and fewer than half)
        (0.30, 0.11, False),
        (0.04, 0.00, False),  # a champion that fits the line: nothing to gain by the margin
        (0.00, 0.00, False),
    ],
)
def test_both_false_alarm_margins_bind(champion: float, candidate: float, passed: bool) -> None:
    evidence = replace(AFTER_DRIFT, champion_false_alarm_rate=champion, candidate_false_alarm_rate=candidate)
    decision = decide_new_regime(evidence, POLICY)
    assert decision.passed is passed, decision.reason
    if not passed:
        assert "no gain worth replacing the champion for" in decision.reason


def test_margins_can_be_switched_off() -> None:
    equal = replace(AFTER_DRIFT, champion_false_alarm_rate=0.05, candidate_false_alarm_rate=0.05)
    assert not decide_new_regime(equal, POLICY).passed
    neither = NewRegimePolicy(false_alarm_margin=0.0, false_alarm_relative_margin=0.0)
    assert decide_new_regime(equal, neither).passed  # not worse is then enough
    only_relative = NewRegimePolicy(false_alarm_margin=0.0, false_alarm_relative_margin=0.5)
    assert decide_new_regime(replace(equal, candidate_false_alarm_rate=0.025), only_relative).passed


@pytest.mark.parametrize(("candidate", "passed"), [(0.95, True), (0.94, False)])
def test_recall_on_the_history_may_drop_by_the_tolerance_only(candidate: float, passed: bool) -> None:
    decision = decide_new_regime(replace(AFTER_DRIFT, candidate_recall=candidate), POLICY)
    assert decision.passed is passed, decision.reason
    assert ("recall on the 10 labelled bad welds" in decision.reason) and (
        decision.reason.endswith("pass") is passed
    )


def test_a_champion_that_cannot_be_scored_on_the_history_leaves_the_floor() -> None:
    unscored = replace(AFTER_DRIFT, champion_recall=None, champion_history_error="no column retired_signal")
    floor = NewRegimePolicy(recall_floor=0.8)
    assert decide_new_regime(replace(unscored, candidate_recall=0.8), floor).passed
    below = decide_new_regime(replace(unscored, candidate_recall=0.7), floor)
    assert not below.passed and "retired_signal" in below.reason and "floor 0.8" in below.reason


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"candidate_false_alarm_rate": None}, "candidate's false-alarm rate"),
        ({"champion_false_alarm_rate": None}, "champion's false-alarm rate"),
        ({"history_welds": 0, "candidate_recall": None, "champion_recall": None}, "no labelled bad weld"),
        ({"candidate_recall": None}, "candidate's recall"),
    ],
)
def test_what_cannot_be_measured_fails_closed(change: dict[str, object], words: str) -> None:
    decision = decide_new_regime(replace(AFTER_DRIFT, **change), POLICY)  # type: ignore[arg-type]
    assert not decision.passed and words in decision.reason, decision.reason


def test_policy_values_are_checked() -> None:
    for name in ("false_alarm_margin", "false_alarm_relative_margin", "recall_tolerance", "recall_floor"):
        with pytest.raises(ValueError, match=name):
            NewRegimePolicy(**{name: 1.5})  # type: ignore[arg-type]
        with pytest.raises(ValueError, match=name):
            NewRegimePolicy(**{name: -0.1})  # type: ignore[arg-type]


def test_the_labelled_rule_names_itself() -> None:
    assert decide({"roc_auc": 0.7}, None).rule == FIRST_MODEL
    assert decide({"roc_auc": 0.9}, {"roc_auc": 0.9}).rule == LABELLED_HOLDOUT
