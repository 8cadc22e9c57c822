"""Detection metrics for labelled evaluation data (1 = anomalous)."""

from __future__ import annotations

import numpy as np

__all__ = ["HEADLINE_METRICS", "detection_metrics"]

# What reports show of `detection_metrics`, in this order (the counts tp/fp/fn/tn stay in the data).
HEADLINE_METRICS = (
    "n",
    "n_anomalous",
    "precision",
    "recall",
    "f1",
    "false_alarm_rate",
    "missed_alarm_rate",
    "roc_auc",
    "average_precision",
)


def detection_metrics(
    y_true: np.ndarray, scores: np.ndarray, threshold: float
) -> dict[str, float | int | None]:
    """Precision, recall, F1, false- and missed-alarm rates at `threshold`, plus ROC-AUC and average precision.

    A score above the threshold is an alarm. Rates with an empty denominator are None, as are ROC-AUC and
    average precision when only one class is present: a number there would be made up.
    """
    from sklearn.metrics import average_precision_score, roc_auc_score  # slow to import: only when used

    y = np.asarray(y_true).astype(bool)
    s = np.asarray(scores, dtype=np.float64)
    if y.shape != s.shape:
        raise ValueError(f"labels {y.shape} and scores {s.shape} differ in shape")
    alarm = s > threshold
    tp = int(np.sum(alarm & y))
    fp = int(np.sum(alarm & ~y))
    fn = int(np.sum(~alarm & y))
    tn = int(np.sum(~alarm & ~y))

    def ratio(a: int, b: int) -> float | None:
        return a / b if b else None

    precision, recall = ratio(tp, tp + fp), ratio(tp, tp + fn)
    f1 = (
        2 * precision * recall / (precision + recall)
        if precision is not None and recall is not None and precision + recall > 0
        else (0.0 if tp + fn > 0 else None)
    )
    both = 0 < y.sum() < len(y)
    finite = np.nan_to_num(s, nan=0.0, posinf=np.finfo(np.float64).max)
    return {
        "n": len(y),
        "n_anomalous": int(y.sum()),
        "tp": tp,
        "fp": fp,
        "fn": fn,
        "tn": tn,
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "false_alarm_rate": ratio(fp, fp + tn),
        "missed_alarm_rate": ratio(fn, fn + tp),
        "roc_auc": float(roc_auc_score(y, finite)) if both else None,
        "average_precision": float(average_precision_score(y, finite)) if both else None,
        "threshold": float(threshold),
    }
