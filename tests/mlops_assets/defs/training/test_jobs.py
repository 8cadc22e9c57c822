"""The training job and its schedule are part of the definitions and cover the whole per-line chain."""

import datetime as dt

import dagster as dg
import pytest

from mlops_assets.definitions import build_definitions


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
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("line", ["line-1", "line-2"])
        when = dt.datetime(2026, 11, 23, 4, 0, tzinfo=dt.UTC)
        context = dg.build_schedule_context(
            instance=instance, scheduled_execution_time=when, repository_def=defs.get_repository_def()
        )
        requests = schedule.evaluate_tick(context).run_requests or []
    assert sorted(r.partition_key for r in requests) == ["line-1", "line-2"]
    assert {r.run_key for r in requests} == {"2026-W48|line-1", "2026-W48|line-2"}
