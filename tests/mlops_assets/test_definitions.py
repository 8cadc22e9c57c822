"""The code location loads under LOCAL and PROD, its catalogue is complete, and Dagster's own
validator accepts it."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from mlops_assets.definitions import build_definitions
from mlops_assets.resources import LakehouseResource, LandingResource, S3LakehouseResource, S3LandingResource

ROOT = Path(__file__).resolve().parents[2]
LAKE_ASSETS = {"raw_uns_captures", "validated_telemetry", "quarantined_messages", "payload_compliance"}
# What only the model's steps use, seconds to import: loading the location (every run process, the code
# server and the webserver) must not import them.
MODEL_LIBRARIES = ("torch", "sklearn", "scipy", "matplotlib", "mlflow", "onnxruntime")
PROD_ENV = {
    "MLOPS_ENV": "prod",
    "MLOPS_LAKE_ROOT": "s3://acme-lake/lake",
    "MLOPS_LANDING_ROOT": "s3://acme-landing/landing",
    "AWS_REGION": "eu-central-1",
    "AWS_ACCESS_KEY_ID": "key-id",
    "AWS_SECRET_ACCESS_KEY": "secret",
}


def test_local_binds_folders_under_mlops_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MLOPS_ENV", raising=False)
    monkeypatch.setenv("MLOPS_HOME", str(tmp_path))
    resources = build_definitions().resources or {}
    assert type(resources["lakehouse"]) is LakehouseResource and type(resources["landing"]) is LandingResource
    assert resources["lakehouse"].root == str(tmp_path / "lake")
    assert resources["landing"].root == str(tmp_path / "landing")


def test_prod_binds_s3_with_secrets_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in PROD_ENV.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    resources = build_definitions().resources or {}
    lakehouse, landing = resources["lakehouse"], resources["landing"]
    assert isinstance(lakehouse, S3LakehouseResource) and isinstance(landing, S3LandingResource)
    # Secrets stay EnvVars until a run resolves them: the UI never shows them.
    assert lakehouse.aws_secret_access_key == dg.EnvVar("AWS_SECRET_ACCESS_KEY")
    assert lakehouse.root == dg.EnvVar("MLOPS_LAKE_ROOT")


def test_the_environment_is_read_when_definitions_load_not_at_import(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLOPS_ENV", "staging")
    importlib.reload(importlib.import_module("mlops_assets.definitions"))  # importing reads nothing
    with pytest.raises(ValueError, match="MLOPS_ENV='staging'"):
        build_definitions()


def test_every_lake_asset_is_catalogued(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLOPS_HOME", str(tmp_path))
    graph = build_definitions().resolve_asset_graph()
    for key in (dg.AssetKey(name) for name in LAKE_ASSETS):
        node = graph.get(key)
        assert node.description and len(node.description) > 80, key
        assert node.owners == ["team:data-platform"], key
        assert node.group_name == "ingestion", key
        assert {"deltalake", "polars"} <= set(node.kinds), key
        schema = node.metadata["dagster/column_schema"]
        assert isinstance(schema, dg.TableSchema) and len(schema.columns) >= 10, key
    jobs = {job.name for job in build_definitions().resolve_all_job_defs()}
    assert {"ingestion_job", "lake_maintenance_job", "freshness_check_job"} <= jobs


def test_every_asset_has_a_description_and_an_owner_and_every_table_its_columns(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLOPS_HOME", str(tmp_path))
    graph = build_definitions().resolve_asset_graph()
    keys = list(graph.get_all_asset_keys())
    assert dg.AssetKey("edge_model_package") in keys and dg.AssetKey("weld_labels") in keys
    for key in keys:
        node = graph.get(key)
        assert node.description and len(node.description) > 60, key
        assert node.owners and all(o.startswith("team:") for o in node.owners), key
        if {"delta", "deltalake"} & set(node.kinds):  # a Delta table: its columns and its name
            schema = node.metadata.get("dagster/column_schema")
            assert isinstance(schema, dg.TableSchema) and len(schema.columns) >= 5, key
            assert all(column.description for column in schema.columns), key
            assert node.metadata.get("dagster/table_name"), key


def test_loading_the_code_location_imports_no_model_library(tmp_path: Path) -> None:
    """A fresh interpreter builds the definitions and resolves every job, schedule and sensor, as the code
    server does; torch, sklearn, scipy, matplotlib, MLflow and ONNX Runtime are still not imported."""
    probe = (
        "import sys\n"
        "from mlops_assets.definitions import build_definitions\n"
        "repository = build_definitions().get_repository_def()\n"
        "assert repository.get_all_jobs() and repository.schedule_defs and repository.sensor_defs\n"
        f"loaded = [m for m in {MODEL_LIBRARIES!r} if m in sys.modules]\n"
        "assert not loaded, loaded\n"
    )
    env = {**os.environ, "MLOPS_HOME": str(tmp_path), "DAGSTER_HOME": str(tmp_path)}
    env.pop("MLOPS_ENV", None)
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("environment", ["local", "prod"])
def test_dagster_definitions_validate_passes(environment: str, tmp_path: Path) -> None:
    env = {
        **os.environ,
        "DAGSTER_HOME": str(tmp_path),
        "MLOPS_HOME": str(tmp_path),
        "DAGSTER_DISABLE_TELEMETRY": "1",
    }
    env.pop("MLOPS_ENV", None)
    if environment == "prod":
        env |= PROD_ENV
    dagster = Path(sys.executable).with_name("dagster")
    done = subprocess.run(
        [str(dagster), "definitions", "validate", "-w", str(ROOT / "workspace.yaml")],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Validation successful" in done.stdout + done.stderr
