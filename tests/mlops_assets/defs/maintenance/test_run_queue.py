"""The run queues of the deployed instance (`deploy/dagster/dagster.yaml`) and of the local one
(`mlops_assets/local_instance.yaml`), each loaded by a Dagster instance, hold lake maintenance to one
run at a time, ingestion to one run per line (whatever the day: silver's redelivery check must see
what the line's previous run committed) and training to one run per line, on the tags the jobs carry."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
import yaml
from dagster._core.run_coordinator import QueuedRunCoordinator
from dagster._core.storage.dagster_run import DagsterRun
from dagster._utils.tags import TagConcurrencyLimitsCounter

from mlops_assets.definitions import build_definitions
from mlops_assets.environment import LOCAL_INSTANCE_YAML, prepare_local_instance
from mlops_assets.partitions import day_line_key

DEPLOYED = Path(__file__).resolve().parents[4] / "deploy" / "dagster" / "dagster.yaml"


def _deployed_overrides() -> dict[str, Any]:
    return {"run_coordinator": yaml.safe_load(DEPLOYED.read_text())["run_coordinator"]}


def _local_overrides() -> dict[str, Any]:
    return dict(yaml.safe_load(LOCAL_INSTANCE_YAML.read_text()))


@pytest.fixture(params=["deployed", "local"])
def limits(request: pytest.FixtureRequest) -> list[dict[str, Any]]:
    overrides = _deployed_overrides() if request.param == "deployed" else _local_overrides()
    with dg.instance_for_test(overrides=overrides) as instance:
        assert isinstance(instance.run_coordinator, QueuedRunCoordinator)
        return list(instance.get_concurrency_config().run_queue_config.tag_concurrency_limits)


def test_one_maintenance_run_and_one_run_per_line_at_a_time(
    limits: list[dict[str, Any]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLOPS_HOME", str(tmp_path))
    defs = build_definitions()

    def run(job_name: str, partition_key: str | None = None) -> DagsterRun:
        job = defs.resolve_job_def(job_name)
        tags = dict(job.tags)
        if partition_key is not None:
            assert job.partitions_def is not None
            tags |= job.partitions_def.get_tags_for_partition_key(partition_key)
        return DagsterRun(job_name=job_name, tags=tags)

    day = dt.date(2025, 11, 21)
    maintenance, ingestion = run("lake_maintenance_job"), run("ingestion_job", day_line_key(day, "line-1"))

    assert not TagConcurrencyLimitsCounter(limits, [ingestion]).is_blocked(maintenance)
    queue = TagConcurrencyLimitsCounter(limits, [maintenance, ingestion])
    assert queue.is_blocked(run("lake_maintenance_job"))
    assert queue.is_blocked(run("ingestion_job", day_line_key(day, "line-1")))
    assert queue.is_blocked(run("ingestion_job", day_line_key(day + dt.timedelta(days=1), "line-1")))
    assert not queue.is_blocked(run("ingestion_job", day_line_key(day, "line-2")))

    training = run("model_training_job", "line-1")
    assert not queue.is_blocked(training)  # training reads a committed Delta version: no race
    assert TagConcurrencyLimitsCounter(limits, [training]).is_blocked(run("model_training_job", "line-1"))
    assert not TagConcurrencyLimitsCounter(limits, [training]).is_blocked(run("model_training_job", "line-2"))


def test_the_local_instance_is_written_once_and_never_over_a_users_own(tmp_path: Path) -> None:
    home = tmp_path / "dagster_home"
    settings = prepare_local_instance(home)
    assert settings.read_text() == LOCAL_INSTANCE_YAML.read_text()
    settings.write_text("telemetry:\n  enabled: true\n")
    prepare_local_instance(home)
    assert settings.read_text() == "telemetry:\n  enabled: true\n"
    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert instance.get_settings("telemetry") == {"enabled": True}
