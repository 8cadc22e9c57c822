"""The deployed run queue (`deploy/dagster/dagster.yaml`, loaded by a Dagster instance) holds lake
maintenance to one run at a time and ingestion to one run per partition, on the tags the jobs carry."""

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
from mlops_assets.partitions import day_line_key

DEPLOYED = Path(__file__).resolve().parents[4] / "deploy" / "dagster" / "dagster.yaml"


def _deployed_limits() -> list[dict[str, Any]]:
    coordinator = yaml.safe_load(DEPLOYED.read_text())["run_coordinator"]
    with dg.instance_for_test(overrides={"run_coordinator": coordinator}) as instance:
        assert isinstance(instance.run_coordinator, QueuedRunCoordinator)
        return list(instance.run_coordinator.get_run_queue_config().tag_concurrency_limits)


def test_one_maintenance_run_and_one_run_per_partition_at_a_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    limits = _deployed_limits()
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
    assert not queue.is_blocked(run("ingestion_job", day_line_key(day, "line-2")))
