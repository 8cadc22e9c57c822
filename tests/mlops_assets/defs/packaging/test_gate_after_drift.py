"""The quality gate after drift, on a real lake, MLflow store and Dagster instance. Each line's champion
is trained on the first material, with labelled bad welds; the next day comes without labels, and the
line is retrained on that day alone (`weld_features.days` = 1), so no labelled bad weld is held out and
the new-regime rule judges. After a real drift (the simulator's drift material) the champion alarms on
most new welds and the candidate does not: promoted. Without drift it gains nothing: the champion stays."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import dagster as dg
import polars as pl
import pytest

from edge_agent.domain import LineAddress
from edge_agent.simulator import SyntheticWeldGenerator
from mlops_assets.lake import LakeStore
from mlops_assets.ml.evaluation.silver_welds import silver_rows, write_silver
from mlops_assets.ml.registry import CHALLENGER, CHAMPION, PREVIOUS_CHAMPION, model_name_for
from mlops_assets.ml.release.gate import package_quality_gate
from mlops_assets.ml.release.gate_decision import FIRST_MODEL, NEW_REGIME
from mlops_assets.ml.release.new_regime_rule import NewRegimePolicy
from mlops_assets.ml.training.labels import WELD_LABELS
from tests.mlops_assets.defs.packaging.support import FAST, platform_key
from tests.mlops_assets.defs.training.chain import (
    START_MS,
    Platform,
    checks,
    metadata,
    simulated_welds,
    start_platform,
    write_line,
)

CELLS = ("cell-01", "cell-02")
DRIFTING, STEADY = "line-drift", "line-steady"
DAY_MS = 86_400_000
RETRAIN_ON_THE_LATEST_DAY = {**FAST, "weld_features": {"config": {"days": 1}}}
POLICY = NewRegimePolicy()  # the defaults edge_model_package records


@pytest.fixture(scope="module")
def first_regime(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    """Both lines with a day of the first material (15 % defective welds, all labelled) and the champion
    trained on it."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        running = start_platform(tmp_path_factory.mktemp("drift"), monkeypatch, [DRIFTING, STEADY])
        for line in (DRIFTING, STEADY):
            write_line(running.store, line, simulated_welds(CELLS, per_cell=40))
            first = running.materialize(line, FAST)
            assert first.success, [e.message for e in first.all_events if e.is_failure]
            assert _gate(first)["rule"] == FIRST_MODEL
        yield running


def _next_day_without_labels(store: LakeStore, line: str, *, drift: bool) -> None:
    """The line's next day: 40 welds per cell, none defective and none labelled, on the drift material
    or the same one."""
    for cell in CELLS:
        generator = SyntheticWeldGenerator(
            cell=cell, seed=11, sample_rate_hz=200.0, start_ms=START_MS + DAY_MS, drift=drift
        )
        welds = [generator.next_weld() for _ in range(40)]
        write_silver(store, silver_rows(welds, cell, LineAddress(line=line)))


def _gate(result: dg.ExecuteInProcessResult) -> dict[str, Any]:
    return {
        k: getattr(v, "value", v) for k, v in checks(result)["package_passes_quality_gate"].metadata.items()
    }


def _labelled_bad(store: LakeStore, line: str) -> int:
    return store.read(WELD_LABELS, line=line).filter(pl.col("is_anomaly")).height


def _retrained_on_the_new_day(platform: Platform, line: str) -> dg.ExecuteInProcessResult:
    result = platform.materialize(line, RETRAIN_ON_THE_LATEST_DAY)
    features = metadata(result, "weld_features")
    assert features["telemetry_days"]["days"] == 1 and features["segments"]["holdout_anomalous_segments"] == 0
    # What used to close the gate: without a labelled bad weld held out there is no ROC-AUC to compare.
    assert "roc_auc" not in metadata(result, "model_evaluation")
    return result


def test_a_retrain_after_drift_passes_on_false_alarms_and_the_labelled_history(
    first_regime: Platform,
) -> None:
    platform, registry, model = first_regime, first_regime.registry, model_name_for(DRIFTING)
    before = registry.by_alias(model, CHAMPION)
    assert before is not None
    _next_day_without_labels(platform.store, DRIFTING, drift=True)

    result = _retrained_on_the_new_day(platform, DRIFTING)
    assert result.success, [e.message for e in result.all_events if e.is_failure]
    gate = _gate(result)
    assert gate["rule"] == NEW_REGIME and gate["promoted"] is True, gate["reason"]
    # The champion alarms on most welds of the new material; the candidate on few, by both margins.
    theirs, mine = gate["new_regime_champion_false_alarm_rate"], gate["new_regime_candidate_false_alarm_rate"]
    assert theirs > 0.5 and mine <= POLICY.allowed_false_alarm_rate(theirs), gate["reason"]
    assert (gate["metric"], gate["candidate_value"], gate["champion_value"]) == (
        "false_alarm_rate",
        mine,
        theirs,
    )
    # Recall on every labelled bad weld of the first material, labels at the version packaging recorded.
    package = metadata(result, "edge_model_package")
    assert gate["new_regime_history_welds"] == _labelled_bad(platform.store, DRIFTING) > 0
    assert (
        gate["new_regime_labels_version"] == package["labels_version"] == platform.store.version(WELD_LABELS)
    )
    assert (
        gate["new_regime_candidate_recall"] >= gate["new_regime_champion_recall"] - POLICY.recall_tolerance
    ), gate["reason"]
    held_out = metadata(result, "weld_features")["segments"]["holdout_segments"]
    assert gate["new_regime_holdout_welds"] == held_out

    new = str(package["model_version"])
    assert registry.by_alias(model, CHAMPION).version == new  # type: ignore[union-attr]
    assert registry.by_alias(model, PREVIOUS_CHAMPION).version == before.version  # type: ignore[union-attr]
    tags = registry.client.get_model_version(model, new).tags
    assert tags["quality_gate"] == "passed" and tags["quality_gate_rule"] == NEW_REGIME
    assert tags["quality_gate_reason"] == gate["reason"] and gate["reason"].startswith("new regime")


def test_a_retrain_without_drift_does_not_replace_the_champion(first_regime: Platform) -> None:
    platform, registry, model = first_regime, first_regime.registry, model_name_for(STEADY)
    before = registry.by_alias(model, CHAMPION)
    assert before is not None
    _next_day_without_labels(platform.store, STEADY, drift=False)

    result = _retrained_on_the_new_day(platform, STEADY)
    assert not result.success  # the blocking check failed the run: nothing downstream deploys it
    gate = _gate(result)
    assert gate["rule"] == NEW_REGIME and gate["promoted"] is False, gate["reason"]
    # The champion still fits the line: no false-alarm gain by the margin is possible.
    theirs, mine = gate["new_regime_champion_false_alarm_rate"], gate["new_regime_candidate_false_alarm_rate"]
    assert theirs < POLICY.false_alarm_margin and mine > POLICY.allowed_false_alarm_rate(theirs)
    assert "no gain worth replacing the champion for" in gate["reason"]
    assert gate["new_regime_history_welds"] == _labelled_bad(platform.store, STEADY) > 0

    package = metadata(result, "edge_model_package")
    candidate = str(package["model_version"])
    assert registry.by_alias(model, CHAMPION).version == before.version  # type: ignore[union-attr]
    assert registry.by_alias(model, CHALLENGER).version == candidate  # type: ignore[union-attr]
    tags = registry.client.get_model_version(model, candidate).tags
    assert tags["quality_gate"] == "failed" and tags["quality_gate_rule"] == NEW_REGIME
    assert tags["quality_gate_reason"] == gate["reason"]

    # The same candidate judged against the labels as they were before this line had any: no history to
    # check its recall on, so it fails closed, saying so (labels are read at the version it is given).
    assert platform.store.read(WELD_LABELS, line=STEADY, version=0).height == 0
    unlabelled = package_quality_gate(
        registry, platform.store, STEADY, {**package, "labels_version": 0}, platform_key(platform)
    )
    assert unlabelled.decision.rule == NEW_REGIME and not unlabelled.decision.passed
    assert "no labelled bad weld in the line's history (weld_labels version 0)" in unlabelled.decision.reason
    assert unlabelled.new_regime is not None and unlabelled.new_regime.history_welds == 0
    assert registry.by_alias(model, CHAMPION).version == before.version  # type: ignore[union-attr]
