"""The loop's definitions: sensor intervals and crons from the environment (short ones for a demo),
the monitoring sensors running by default, the fleet table's automation running by default in PROD
only, the policy shown as the `edge_monitoring` resource."""

from __future__ import annotations

import datetime as dt
import warnings
from pathlib import Path

import dagster as dg
import pytest

from mlops_assets.definitions import build_definitions
from tests.mlops_assets.test_definitions import PROD_ENV


@pytest.mark.parametrize("environment", ["local", "prod"])
def test_short_periods_come_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, environment: str
) -> None:
    for name, value in {
        **PROD_ENV, "MLOPS_HOME": str(tmp_path), "MLOPS_ENV": environment,
        "MLOPS_LANDING_SENSOR_INTERVAL_S": "2", "MLOPS_DRIFT_SENSOR_INTERVAL_S": "3",
        "MLOPS_FLEET_SENSOR_INTERVAL_S": "4", "MLOPS_FLEET_STATUS_CRON": "* * * * *",
        "MLOPS_DRIFT_CONSECUTIVE": "2", "MLOPS_DRIFT_MIN_WELDS": "12", "MLOPS_HEARTBEAT_STALE_S": "9",
    }.items():  # fmt: skip
        monkeypatch.setenv(name, value)
    defs = build_definitions()
    intervals = {
        name: (
            defs.resolve_sensor_def(name).minimum_interval_seconds,
            defs.resolve_sensor_def(name).default_status,
        )
        for name in ("landing_sensor", "drift_sensor", "edge_fleet_sensor")
    }
    running = dg.DefaultSensorStatus.RUNNING
    assert intervals == {
        "landing_sensor": (2, running),
        "drift_sensor": (3, running),
        "edge_fleet_sensor": (4, running),
    }
    automation = defs.resolve_sensor_def("monitoring_automation_sensor")
    assert automation.default_status == (running if environment == "prod" else dg.DefaultSensorStatus.STOPPED)
    node = defs.resolve_asset_graph().get(dg.AssetKey("edge_fleet_status"))
    assert node.automation_condition is not None and "* * * * *" in str(node.automation_condition)
    monitoring = (defs.resources or {})["edge_monitoring"]
    assert (monitoring.drift_consecutive, monitoring.drift_min_welds, monitoring.heartbeat_stale_after_s) == (
        2,
        12,
        9.0,
    )
    assert {t.job_name for t in defs.resolve_sensor_def("landing_sensor").targets} == {
        "ingestion_job",
        "drift_reports_job",
    }
    assert defs.resolve_sensor_def("drift_sensor").job_name == "model_training_job"


def test_the_fleet_table_is_refreshed_once_per_cron_tick_and_nothing_else_is(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLOPS_HOME", str(tmp_path))
    monkeypatch.setenv("MLOPS_FLEET_STATUS_CRON", "* * * * *")
    defs = build_definitions()
    start = dt.datetime(2026, 1, 1, 12, 0, 30, tzinfo=dt.UTC)
    requested = []
    with dg.instance_for_test() as instance, warnings.catch_warnings():
        # Dagster's own tester selects with a beta parameter (include_sources); nothing else is silenced.
        warnings.simplefilter("ignore", dg.BetaWarning)
        cursor = None
        for seconds in (0, 60, 70, 130):
            result = dg.evaluate_automation_conditions(
                defs=defs,
                instance=instance,
                evaluation_time=start + dt.timedelta(seconds=seconds),
                cursor=cursor,
            )
            cursor = result.cursor
            requested.append(sorted(r.key.to_user_string() for r in result.results if r.true_subset.size))
    assert requested == [[], ["edge_fleet_status"], [], ["edge_fleet_status"]]
