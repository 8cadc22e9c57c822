"""The PROD instance configuration (`deploy/dagster/dagster.yaml`): valid as a whole, and its
PostgreSQL storage really holds the runs and events of an ingestion run (local PostgreSQL,
a database of this test's own)."""

from __future__ import annotations

import shutil
from pathlib import Path

import dagster as dg
import psycopg2
import pytest
import yaml
from dagster._core.instance.config import dagster_instance_config

from mlops_assets.environment import LOCAL_INSTANCE_YAML
from tests.mlops_assets.conftest import LocalLake, day_of
from tests.mlops_assets.defs.ingestion.runs import run_ingestion
from tests.postgres import PostgresServer
from tests.synthetic_landing import TopicPayload

DEPLOYED = Path(__file__).resolve().parents[2] / "deploy" / "dagster" / "dagster.yaml"
HELM_VALUES = DEPLOYED.with_name("values.yaml")


def _prod_env(monkeypatch: pytest.MonkeyPatch, database: str, user: str = "postgres") -> None:
    for key, value in {
        "DAGSTER_PG_HOST": "127.0.0.1", "DAGSTER_PG_USER": user, "DAGSTER_PG_PASSWORD": "",
        "DAGSTER_PG_DB": database, "DAGSTER_K8S_NAMESPACE": "mlops", "MLOPS_LOGS_BUCKET": "logs", "AWS_REGION": "eu-central-1",
    }.items():  # fmt: skip
        monkeypatch.setenv(key, value)


def test_the_deployed_instance_config_is_valid(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _prod_env(monkeypatch, "dagster")
    shutil.copy(DEPLOYED, tmp_path / "dagster.yaml")
    config, _ = dagster_instance_config(str(tmp_path))
    assert config["run_launcher"]["class"] == "K8sRunLauncher"
    assert config["storage"]["postgres"]["postgres_db"]["db_name"] == {"env": "DAGSTER_PG_DB"}


def test_runs_and_events_live_in_postgresql(
    lake: LocalLake,
    line_messages: list[TopicPayload],
    postgres: PostgresServer,
    postgres_database: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _prod_env(monkeypatch, postgres_database, postgres.user)
    deployed = yaml.safe_load(DEPLOYED.read_text())
    # Kubernetes and S3 are not here: keep the deployed storage, drop the launcher and log manager;
    # the test's server listens on a port of its own.
    local = {key: deployed[key] for key in ("storage", "run_retries", "telemetry")}
    local["storage"]["postgres"]["postgres_db"]["port"] = postgres.port
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text(yaml.safe_dump(local))
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    day = day_of(lake.land(line_messages[:20], per_file=10))

    with dg.DagsterInstance.get() as instance:
        result = run_ingestion(instance, day, "line-1")
        assert result.success
        run = instance.get_run_by_id(result.run_id)
        assert run is not None and run.tags["dagster/partition"] == f"{day.isoformat()}|line-1"

    with (
        psycopg2.connect(dbname=postgres_database, **postgres.connection) as connection,
        connection.cursor() as cursor,
    ):
        cursor.execute("SELECT status FROM runs WHERE run_id = %s", (result.run_id,))
        assert cursor.fetchone() == ("SUCCESS",)
        cursor.execute(
            "SELECT count(*) FROM event_logs WHERE run_id = %s AND dagster_event_type = 'ASSET_MATERIALIZATION'",
            (result.run_id,),
        )
        assert cursor.fetchone() == (4,)
        cursor.execute("SELECT partition FROM dynamic_partitions WHERE partitions_def_name = 'line'")
        assert cursor.fetchall() == [("line-1",)]


def test_helm_the_plain_install_and_the_local_instance_queue_runs_alike() -> None:
    """One set of run queue limits (what they do: tests/mlops_assets/defs/maintenance/test_run_queue.py)."""
    limits = yaml.safe_load(DEPLOYED.read_text())["run_coordinator"]["config"]["tag_concurrency_limits"]
    helm = yaml.safe_load(HELM_VALUES.read_text())["dagsterDaemon"]["runCoordinator"]["config"]
    assert helm["queuedRunCoordinator"]["tagConcurrencyLimits"] == limits
    assert yaml.safe_load(LOCAL_INSTANCE_YAML.read_text())["run_queue"]["tag_concurrency_limits"] == limits
