"""The quality gate's rule when the held-out welds hold no labelled bad weld (a retrain on a new regime,
after drift): fewer false alarms than the champion on those welds by a margin, and no recall lost on
the labelled bad welds of the line's history."""

from __future__ import annotations

from dataclasses import dataclass

from mlops_assets.ml.release.gate_decision import NEW_REGIME, GateDecision

__all__ = ["DEFAULT_HISTORY_WELDS", "NewRegimeEvidence", "NewRegimePolicy", "decide_new_regime"]

# Rates are counts over counts and margins decimals: a rate exactly at its bound (0.3 - 0.2 against 0.1)
# must not fail on the last bit of a float.
_ROUNDING = 1e-9

DEFAULT_HISTORY_WELDS = 1000
"""The latest labelled bad welds of the history the new-regime rule reads (`gate_history_max_welds`)."""


@dataclass(frozen=True)
class NewRegimePolicy:
    """What a candidate must show (`edge_model_package` config `gate_false_alarm_*`, `gate_history_*`)."""

    false_alarm_margin: float = 0.2
    """Absolute: the candidate's false-alarm rate must be at least this much below the champion's."""
    false_alarm_relative_margin: float = 0.5
    """Relative: ... and at most (1 - this) times the champion's. 0 turns either margin off."""
    recall_tolerance: float = 0.05
    """How much lower than the champion's the candidate's recall on the history may be."""
    recall_floor: float = 0.8
    """The recall on the history the candidate must reach when the champion cannot be scored on it."""

    def __post_init__(self) -> None:
        for name in ("false_alarm_margin", "false_alarm_relative_margin", "recall_tolerance", "recall_floor"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be within [0, 1], got {value}")

    def allowed_false_alarm_rate(self, champion: float) -> float:
        """The highest false-alarm rate a candidate may have against a champion with `champion`."""
        return min(champion - self.false_alarm_margin, champion * (1.0 - self.false_alarm_relative_margin))


@dataclass(frozen=True)
class NewRegimeEvidence:
    """Both models on the same welds, at the same `level` (weld, or window when one cannot score welds)."""

    level: str
    holdout_welds: int
    """Held-out welds the false-alarm rates are measured on (on their windows at window level)."""
    candidate_false_alarm_rate: float | None
    champion_false_alarm_rate: float | None
    history_welds: int
    """Labelled bad welds of the line's history found in the telemetry: the recalls' set."""
    candidate_recall: float | None
    champion_recall: float | None
    champion_history_error: str | None
    """Why the champion could not be scored on the history (then the floor applies), else None."""
    labels_version: int | None
    """The `weld_labels` Delta version the history was read at (None: no label table)."""


def _false_alarms(evidence: NewRegimeEvidence, policy: NewRegimePolicy) -> tuple[bool, str]:
    mine, theirs = evidence.candidate_false_alarm_rate, evidence.champion_false_alarm_rate
    if mine is None or theirs is None:
        who = "candidate's" if mine is None else "champion's"
        return False, f"the {who} false-alarm rate on the held-out welds cannot be computed"
    allowed = policy.allowed_false_alarm_rate(theirs)
    passed = mine <= allowed + _ROUNDING
    margins = f"{policy.false_alarm_margin} lower and {policy.false_alarm_relative_margin:.0%} fewer"
    bound = f"<= {allowed:.4f}: {margins}" if allowed >= 0 else f"{margins}: impossible from there"
    verdict = "pass" if passed else "fail: no gain worth replacing the champion for"
    return passed, (
        f"false alarms on the {evidence.holdout_welds} held-out welds ({evidence.level} level) {mine:.4f} "
        f"vs champion {theirs:.4f} ({bound}): {verdict}"
    )


def _history_recall(evidence: NewRegimeEvidence, policy: NewRegimePolicy) -> tuple[bool, str]:
    mine, theirs = evidence.candidate_recall, evidence.champion_recall
    if evidence.history_welds == 0:
        return False, (
            f"no labelled bad weld in the line's history (weld_labels version {evidence.labels_version}): "
            "the candidate's recall cannot be checked (label welds, or decide by hand)"
        )
    where = (
        f"recall on the {evidence.history_welds} labelled bad welds of the history ({evidence.level} level)"
    )
    if mine is None:
        return False, f"the candidate's {where} cannot be computed"
    if theirs is None:
        passed = mine >= policy.recall_floor - _ROUNDING
        return passed, (
            f"{where} {mine:.4f}, champion not scored ({evidence.champion_history_error}): must reach "
            f"the floor {policy.recall_floor}: {'pass' if passed else 'fail'}"
        )
    passed = mine >= theirs - policy.recall_tolerance - _ROUNDING
    return passed, (
        f"{where} {mine:.4f} vs champion {theirs:.4f} (may be lower by at most {policy.recall_tolerance}): "
        f"{'pass' if passed else 'fail'}"
    )


def decide_new_regime(evidence: NewRegimeEvidence, policy: NewRegimePolicy) -> GateDecision:
    """Pass when both hold: (a) the candidate's false-alarm rate on the held-out welds is at most
    min(champion's - `false_alarm_margin`, champion's x (1 - `false_alarm_relative_margin`)); (b) its
    recall on the history's labelled bad welds is at least the champion's - `recall_tolerance`, or at
    least `recall_floor` when the champion cannot be scored on them. Anything that cannot be measured
    fails (closed), with the reason. The decision's metric is the false-alarm rate, its tolerance the
    absolute margin."""
    fewer_alarms, alarms_reason = _false_alarms(evidence, policy)
    keeps_recall, recall_reason = _history_recall(evidence, policy)
    return GateDecision(
        passed=fewer_alarms and keeps_recall,
        metric="false_alarm_rate",
        candidate=evidence.candidate_false_alarm_rate,
        champion=evidence.champion_false_alarm_rate,
        tolerance=policy.false_alarm_margin,
        reason=f"new regime (no labelled bad weld held out): {alarms_reason}; {recall_reason}",
        rule=NEW_REGIME,
    )
