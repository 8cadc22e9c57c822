"""The quality gate's decision, the names of its rules, and the rule for held-out welds with labelled bad
welds: a candidate may not be worse than the champion by more than a tolerance.

Both models are scored on the same evaluation set (the champion from its own package, with its own
feature spec and threshold), so a changed evaluation set cannot make a worse model look better.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal, get_args

__all__ = [
    "ALREADY_CHAMPION",
    "FIRST_MODEL",
    "GATE_METRICS",
    "LABELLED_HOLDOUT",
    "NEW_REGIME",
    "NOT_JUDGED",
    "GateDecision",
    "GateMetric",
    "decide",
]

GateMetric = Literal[
    "roc_auc", "f1", "average_precision", "precision", "recall", "false_alarm_rate", "missed_alarm_rate"
]
GATE_METRICS: tuple[str, ...] = get_args(GateMetric)

# The rule a decision applied (metadata `rule`, MLflow tag `quality_gate_rule`).
FIRST_MODEL = "first_model"
"""No champion yet: the first model is promoted."""
ALREADY_CHAMPION = "already_champion"
"""The candidate is the champion (its gate run again): nothing to compare."""
LABELLED_HOLDOUT = "labelled_holdout"
"""The held-out welds hold labelled bad welds: `gate_metric`, candidate vs champion (`decide`)."""
NEW_REGIME = "new_regime"
"""No labelled bad weld held out: false alarms on them and recall on the history (`new_regime_rule`)."""
NOT_JUDGED = "not_judged"
"""Refused before a rule could apply (parity, verification, unreadable held-out welds)."""

# Which way is better, per metric the gate can use.
_HIGHER_IS_BETTER = {
    "roc_auc": True,
    "f1": True,
    "average_precision": True,
    "precision": True,
    "recall": True,
    "false_alarm_rate": False,
    "missed_alarm_rate": False,
}


@dataclass(frozen=True)
class GateDecision:
    """`metric`, `candidate`, `champion`: the figure compared (`new_regime`: the false-alarm rate on the
    held-out welds); `tolerance`: how much worse the candidate's may be (`new_regime`: the absolute
    margin by which it must be better); `rule`: which rule decided."""

    passed: bool
    metric: str
    candidate: float | None
    champion: float | None
    tolerance: float
    reason: str
    rule: str = LABELLED_HOLDOUT


def decide(
    candidate: Mapping[str, float | int | None],
    champion: Mapping[str, float | int | None] | None,
    metric: str = "roc_auc",
    tolerance: float = 0.0,
) -> GateDecision:
    """Pass when there is no champion yet, or candidate >= champion - tolerance (<= + tolerance for rates).

    A candidate whose metric cannot be computed (for example no anomalous example in the evaluation set
    for ROC-AUC) fails when a champion exists: promoting blind is exactly what the gate is there to stop.
    So does a candidate measured against a champion whose metric cannot be computed on the same data:
    the gate fails closed.
    """
    if metric not in _HIGHER_IS_BETTER:
        raise ValueError(f"the gate cannot use {metric!r}; choose one of {sorted(_HIGHER_IS_BETTER)}")
    if tolerance < 0:
        raise ValueError("tolerance must be >= 0")
    mine = candidate.get(metric)
    mine_f = None if mine is None else float(mine)
    if champion is None:
        return GateDecision(
            True, metric, mine_f, None, tolerance, "no champion yet: the first model is promoted", FIRST_MODEL
        )
    theirs = champion.get(metric)
    theirs_f = None if theirs is None else float(theirs)
    if mine_f is None:
        return GateDecision(
            False, metric, None, theirs_f, tolerance, f"the candidate's {metric} cannot be computed"
        )
    if theirs_f is None:
        return GateDecision(
            False,
            metric,
            mine_f,
            None,
            tolerance,
            f"the champion's {metric} cannot be computed on the same welds: nothing to compare with, "
            "so nothing is promoted (decide by hand)",
        )
    if _HIGHER_IS_BETTER[metric]:
        passed = mine_f >= theirs_f - tolerance
        comparison = f"{mine_f:.4f} vs champion {theirs_f:.4f} (may be lower by at most {tolerance})"
    else:
        passed = mine_f <= theirs_f + tolerance
        comparison = f"{mine_f:.4f} vs champion {theirs_f:.4f} (may be higher by at most {tolerance})"
    return GateDecision(
        passed, metric, mine_f, theirs_f, tolerance, f"{metric} {comparison}: {'pass' if passed else 'fail'}"
    )
