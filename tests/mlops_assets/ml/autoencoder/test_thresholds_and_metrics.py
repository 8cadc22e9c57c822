"""Thresholds from normal scores, detection metrics, quality-gate decisions."""

from __future__ import annotations

import numpy as np
import pytest

from mlops_assets.ml.autoencoder.metrics import detection_metrics
from mlops_assets.ml.autoencoder.thresholds import fit_threshold
from mlops_assets.ml.release.gate_decision import decide


def test_quantile_and_mean_std_thresholds() -> None:
    scores = np.arange(1, 1001, dtype=float)
    assert fit_threshold(scores, "quantile", quantile=0.9).value == pytest.approx(np.quantile(scores, 0.9))
    assert fit_threshold(scores, "mean_std", k=2).value == pytest.approx(scores.mean() + 2 * scores.std())


def test_peaks_over_threshold_extrapolates_the_tail() -> None:
    # Exponential scores: the true 1 - 1e-4 quantile is ln(1e4) = 9.21, beyond most of 20,000 samples.
    scores = np.random.default_rng(1).exponential(1.0, 20_000)
    threshold = fit_threshold(scores, "pot", risk=1e-4, initial_quantile=0.98)
    assert threshold.params["peaks"] == 400
    assert abs(threshold.value - np.log(1e4)) < 1.5


def test_pot_with_too_few_peaks_falls_back_and_says_so(caplog: pytest.LogCaptureFixture) -> None:
    threshold = fit_threshold(np.linspace(0, 1, 50), "pot")
    assert "fallback" in threshold.params and threshold.value > 0
    assert "peaks-over-threshold fit failed" in caplog.text


def test_bad_threshold_requests_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown threshold method"):
        fit_threshold(np.ones(10), "median")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="no finite scores"):
        fit_threshold(np.array([np.nan]), "quantile")


def test_detection_metrics_count_alarms() -> None:
    y = np.array([0, 0, 0, 0, 1, 1, 1, 0])
    s = np.array([0.1, 0.2, 0.9, 0.1, 0.8, 0.7, 0.1, 0.3])
    m = detection_metrics(y, s, threshold=0.5)
    assert (m["tp"], m["fp"], m["fn"], m["tn"]) == (2, 1, 1, 4)
    assert m["precision"] == pytest.approx(2 / 3) and m["recall"] == pytest.approx(2 / 3)
    assert m["false_alarm_rate"] == pytest.approx(1 / 5) and m["missed_alarm_rate"] == pytest.approx(1 / 3)
    # Of the 15 (anomalous, normal) pairs, 0.8 and 0.7 beat 4 normals each, 0.1 ties two (half each).
    assert m["roc_auc"] == pytest.approx(9 / 15)


def test_metrics_without_anomalies_do_not_invent_numbers() -> None:
    m = detection_metrics(np.zeros(5), np.arange(5.0), threshold=2.5)
    assert m["roc_auc"] is None and m["recall"] is None and m["f1"] is None
    assert m["false_alarm_rate"] == pytest.approx(2 / 5)


def test_quality_gate_decisions() -> None:
    assert decide({"roc_auc": 0.7}, None).passed  # the first model
    assert decide({"roc_auc": 0.895}, {"roc_auc": 0.90}, tolerance=0.01).passed
    failed = decide({"roc_auc": 0.85}, {"roc_auc": 0.90}, tolerance=0.01)
    assert not failed.passed and "fail" in failed.reason
    assert not decide({"false_alarm_rate": 0.2}, {"false_alarm_rate": 0.1}, "false_alarm_rate").passed
    assert not decide({"roc_auc": None}, {"roc_auc": 0.9}).passed  # no blind promotion
    unjudged = decide({"roc_auc": 0.51}, {"roc_auc": None})  # nothing to compare with: fail closed
    assert not unjudged.passed and "cannot be computed" in unjudged.reason
    with pytest.raises(ValueError, match="cannot use"):
        decide({}, None, metric="loss")
