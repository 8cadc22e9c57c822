"""The model registry on the production stack: an MLflow tracking server on PostgreSQL with its
artefacts in S3 (moto). Runs, packages, versions, aliases, promotion and rollback all go through HTTP."""

from __future__ import annotations

from pathlib import Path

from mlops_assets.ml.registry import CHAMPION, PREVIOUS_CHAMPION, ModelRegistry
from tests.mlflow_server import mlflow_server
from tests.postgres import PostgresServer
from tests.s3 import MotoS3


def _package(folder: Path, content: bytes) -> Path:
    folder.mkdir(parents=True)
    (folder / "model.onnx").write_bytes(content)
    (folder / "manifest.json").write_text('{"model_version": "x"}')
    return folder


def test_versions_promotion_and_rollback_through_a_postgres_and_s3_backed_server(
    postgres: PostgresServer, postgres_database: str, s3: MotoS3, tmp_path: Path
) -> None:
    bucket = s3.new_bucket("mlflow")
    with mlflow_server(postgres, postgres_database, s3, bucket) as url:
        registry = ModelRegistry(url)
        versions = []
        for number in (1, 2):
            run = registry.start_run("weld-anomaly/line-9", f"train-{number}", tags={"line": "line-9"})
            registry.log_params(run, {"hidden": "64,16", "window": 32})
            registry.log_metrics(run, {"val_loss": 0.5 / number}, step=1)
            registry.log_artifact(
                run, _package(tmp_path / f"pkg{number}", bytes([number]) * 64), "edge_package/v"
            )
            registry.end_run(run)
            versions.append(registry.register("weld-ae-line-9", run, "edge_package/v", tags={"package": "v"}))
            registry.promote("weld-ae-line-9", versions[-1].version)

        champion = registry.by_alias("weld-ae-line-9", CHAMPION)
        previous = registry.by_alias("weld-ae-line-9", PREVIOUS_CHAMPION)
        assert champion is not None and champion.version == "2"
        assert previous is not None and previous.version == "1"
        assert registry.run_metrics(champion.run_id)["val_loss"] == 0.25

        # The package bytes live in S3, not on the server's disk, and come back intact.
        keys = [o["Key"] for o in s3.client().list_objects_v2(Bucket=bucket)["Contents"]]
        assert sum(key.endswith("model.onnx") for key in keys) == 2
        downloaded = registry.download_version(champion, tmp_path / "download")
        assert (downloaded / "model.onnx").read_bytes() == bytes([2]) * 64

        assert registry.rollback("weld-ae-line-9") == "1"
        assert registry.by_alias("weld-ae-line-9", CHAMPION).version == "1"
        assert registry.by_alias("weld-ae-line-9", PREVIOUS_CHAMPION).version == "2"
