"""The training job and its schedule are part of the definitions and cover the whole per-line chain."""

import datetime as dt

import dagster as dg
import pytest

from mlops_assets.definitions import build_definitions
from tests.mlops_assets.test_definitions import PROD_ENV


@pytest.fixture
def defs(tmp_path, monkeypatch) -> dg.Definitions:
    monkeypatch.setenv("MLOPS_HOME", str(tmp_path))
    return build_definitions()


def test_training_job_selects_the_per_line_chain(defs: dg.Definitions) -> None:
    job = defs.resolve_job_def("model_training_job")
    nodes = {node.name for node in job.nodes}
    assert {
        "weld_features",
        "anomaly_autoencoder",
        "anomaly_threshold",
        "model_evaluation",
        "edge_model_package",
    } <= nodes
    assert job.partitions_def is not None and job.partitions_def.name == "line"


def test_weekly_schedule_requests_one_run_per_known_line(defs: dg.Definitions) -> None:
    schedule = defs.resolve_schedule_def("model_training_schedule")
    assert schedule.cron_schedule == "0 4 * * 1"
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("line", ["line-1", "line-2"])
        when = dt.datetime(2026, 11, 23, 4, 0, tzinfo=dt.UTC)
        context = dg.build_schedule_context(
            instance=instance, scheduled_execution_time=when, repository_def=defs.get_repository_def()
        )
        requests = schedule.evaluate_tick(context).run_requests or []
    assert sorted(r.partition_key for r in requests) == ["line-1", "line-2"]
    assert {r.run_key for r in requests} == {"2026-11-23T04:00|line-1", "2026-11-23T04:00|line-2"}
    assert {r.tags["mlops/trigger"] for r in requests} == {"schedule"}


@pytest.mark.parametrize(
    ("environment", "status"),
    [("local", dg.DefaultScheduleStatus.STOPPED), ("prod", dg.DefaultScheduleStatus.RUNNING)],
)
def test_the_retraining_cron_is_configurable_and_runs_by_default_in_prod_only(
    tmp_path, monkeypatch: pytest.MonkeyPatch, environment: str, status: dg.DefaultScheduleStatus
) -> None:
    for name, value in {**PROD_ENV, "MLOPS_HOME": str(tmp_path), "MLOPS_ENV": environment}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("MLOPS_RETRAIN_CRON", "30 2 * * *")
    schedule = build_definitions().resolve_schedule_def("model_training_schedule")
    assert schedule.cron_schedule == "30 2 * * *" and schedule.default_status == status
    monkeypatch.setenv("MLOPS_RETRAIN_CRON", "every monday")
    with pytest.raises(Exception) as raised:  # Dagster wraps it in the error of the defs folder's load
        build_definitions()
    causes, error = [], raised.value
    while error is not None:
        causes.append(str(error))
        error = error.__cause__ or error.__context__
    assert any("MLOPS_RETRAIN_CRON='every monday' is not a cron expression" in c for c in causes)


def test_no_training_asset_materialises_on_a_silver_commit(defs: dg.Definitions) -> None:
    """Retraining starts from the schedule, drift_sensor or a person, never from new telemetry."""
    graph = defs.resolve_asset_graph()
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        if node.group_name in ("training", "packaging"):
            assert node.automation_condition is None, key
