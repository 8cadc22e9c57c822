"""The `drift` settings: from the file and the environment, bad values refused naming the field; the
monitor is built only when a model can score and drift is on."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from edge_agent.agent.builder import build_parts
from edge_agent.agent.settings import load_settings
from tests.edge_agent.agent.scoring.packages import KEY_ID, PUBLIC_KEY
from tests.edge_agent.agent.support import make_settings, write_config


def test_drift_settings_come_from_the_file_and_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = write_config(
        tmp_path / "edge.yaml", {"agent_id": "edge-7", "drift": {"period_s": 60, "min_rows": 100}}
    )
    monkeypatch.setenv("EDGE_DRIFT__DRIFT_SHARE", "0.4")
    settings = load_settings(config)
    assert (settings.drift.period_s, settings.drift.min_rows, settings.drift.drift_share) == (60, 100, 0.4)
    assert settings.drift.window_rows == 10_000 and settings.drift.enabled
    assert (settings.drift.method, settings.drift.method_threshold) == ("psi", 0.2)
    assert settings.drift_topic == "acme/plant-1/body-shop/line-1/_edge/edge-7/drift"


def test_the_drift_method_and_its_threshold(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EDGE_DRIFT__METHOD", "wasserstein")
    config = write_config(tmp_path / "edge.yaml", {})
    assert load_settings(config).drift.method_threshold is None  # Evidently's own for the method
    monkeypatch.setenv("EDGE_DRIFT__COLUMN_THRESHOLD", "0.15")
    assert (load_settings(config).drift.method, load_settings(config).drift.method_threshold) == (
        "wasserstein",
        0.15,
    )


@pytest.mark.parametrize(
    ("drift", "field"),
    [
        ({"min_rows": 20_000}, "min_rows must be <= window_rows"),
        ({"drift_share": 1.5}, "drift.drift_share"),
        ({"period_s": 0}, "drift.period_s"),
        ({"every_s": 5}, "drift.every_s"),
        ({"method": "t-test"}, "drift.method"),
        ({"column_threshold": 0}, "drift.column_threshold"),
    ],
)
def test_a_bad_drift_setting_is_refused_naming_it(
    tmp_path: Path, drift: dict[str, object], field: str
) -> None:
    with pytest.raises(ValidationError) as refused:
        load_settings(write_config(tmp_path / "edge.yaml", {"drift": drift}))
    assert field in str(refused.value)


@pytest.mark.parametrize(
    ("model", "drift", "monitor"),
    [({"public_key": PUBLIC_KEY, "key_id": KEY_ID}, {}, True), ({}, {}, False), (
        {"public_key": PUBLIC_KEY, "key_id": KEY_ID}, {"enabled": False}, False)],
)  # fmt: skip
def test_the_monitor_is_built_only_when_a_model_can_score_and_drift_is_on(
    tmp_path: Path, model: dict[str, str], drift: dict[str, bool], monitor: bool
) -> None:
    parts = build_parts(make_settings(tmp_path, 1883, model=model, drift=drift))
    assert (parts.drift is not None) is monitor
    assert any(part.name == "the drift monitor" for part in parts.lifecycle) is monitor
