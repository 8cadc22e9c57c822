"""The loop's settings from the environment: defaults, values, and a message naming a bad variable."""

from __future__ import annotations

import pytest

from mlops_assets.ml.monitoring.settings import (
    DriftPolicy,
    LoopTimings,
    drift_policy_from_env,
    heartbeat_stale_after_s_from_env,
    loop_timings_from_env,
)

VARIABLES = (
    "MLOPS_DRIFT_SHARE_THRESHOLD", "MLOPS_DRIFT_CONSECUTIVE", "MLOPS_DRIFT_COOLDOWN_S", "MLOPS_DRIFT_MIN_WELDS",
    "MLOPS_HEARTBEAT_STALE_S", "MLOPS_LANDING_SENSOR_INTERVAL_S", "MLOPS_DRIFT_SENSOR_INTERVAL_S",
    "MLOPS_FLEET_SENSOR_INTERVAL_S", "MLOPS_FLEET_STATUS_CRON", "MLOPS_RETRAIN_CRON",
    "MLOPS_ROLLOUT_SENSOR_INTERVAL_S",
)  # fmt: skip


@pytest.fixture(autouse=True)
def clean(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)


def test_defaults_without_variables() -> None:
    assert drift_policy_from_env() == DriftPolicy(0.25, 3, 21600.0, 100)
    assert loop_timings_from_env() == LoopTimings(
        landing_sensor_s=30, drift_sensor_s=30, rollout_sensor_s=30, fleet_sensor_s=60,
        fleet_status_cron="*/5 * * * *", retrain_cron="0 4 * * 1",
    )  # fmt: skip
    assert heartbeat_stale_after_s_from_env() == 120.0


def test_short_demo_periods_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "MLOPS_DRIFT_SHARE_THRESHOLD": "0.3", "MLOPS_DRIFT_CONSECUTIVE": "2", "MLOPS_DRIFT_COOLDOWN_S": "0",
        "MLOPS_DRIFT_MIN_WELDS": "12", "MLOPS_HEARTBEAT_STALE_S": "5", "MLOPS_LANDING_SENSOR_INTERVAL_S": "2",
        "MLOPS_DRIFT_SENSOR_INTERVAL_S": "2", "MLOPS_FLEET_SENSOR_INTERVAL_S": "3",
        "MLOPS_FLEET_STATUS_CRON": "* * * * *", "MLOPS_RETRAIN_CRON": "0 2 * * *",
        "MLOPS_ROLLOUT_SENSOR_INTERVAL_S": "2",
    }.items():  # fmt: skip
        monkeypatch.setenv(name, value)
    assert drift_policy_from_env() == DriftPolicy(0.3, 2, 0.0, 12)
    assert loop_timings_from_env() == LoopTimings(
        landing_sensor_s=2, drift_sensor_s=2, rollout_sensor_s=2, fleet_sensor_s=3,
        fleet_status_cron="* * * * *", retrain_cron="0 2 * * *",
    )  # fmt: skip
    assert heartbeat_stale_after_s_from_env() == 5.0


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("MLOPS_DRIFT_CONSECUTIVE", "three", "MLOPS_DRIFT_CONSECUTIVE='three' is not an integer"),
        ("MLOPS_DRIFT_CONSECUTIVE", "0", "MLOPS_DRIFT_CONSECUTIVE='0' must be at least 1"),
        ("MLOPS_DRIFT_SHARE_THRESHOLD", "half", "MLOPS_DRIFT_SHARE_THRESHOLD='half' is not a number"),
        ("MLOPS_DRIFT_SHARE_THRESHOLD", "1.5", "drift share threshold 1.5 is not in"),
    ],
)
def test_a_bad_value_names_its_variable(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, message: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        drift_policy_from_env()


def test_a_bad_interval_names_its_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLOPS_DRIFT_SENSOR_INTERVAL_S", "0")
    with pytest.raises(ValueError, match="MLOPS_DRIFT_SENSOR_INTERVAL_S='0' must be at least 1"):
        loop_timings_from_env()
