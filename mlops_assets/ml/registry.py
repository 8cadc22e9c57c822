"""MLflow behind a small interface: an experiment per line, runs, a registered model per line
(`weld-ae-<line>`) with the aliases `challenger`, `champion` and `previous-champion`. `MlflowClient`
only, never the fluent global run, so concurrent Dagster steps cannot mix up each other's runs. mlflow
is imported when a registry is first used, not with this module (the code location and every run load
it: its import costs about 2 s)."""

from __future__ import annotations

import logging
import math
import os
import tempfile
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:  # mlflow costs ~2 s to import: only the methods that talk to it import it
    from mlflow.exceptions import MlflowException

__all__ = [
    "CHALLENGER",
    "CHAMPION",
    "PACKAGE_ARTIFACTS",
    "PREVIOUS_CHAMPION",
    "ModelRegistry",
    "RegisteredVersion",
    "local_tracking_uri",
    "model_name_for",
]

log = logging.getLogger(__name__)

T = TypeVar("T")

PACKAGE_ARTIFACTS = "edge_package"
"""Run artefact folder of the edge packages (one sub-folder per registered version)."""
CHAMPION = "champion"
CHALLENGER = "challenger"
PREVIOUS_CHAMPION = "previous-champion"


def model_name_for(line: str) -> str:
    return f"weld-ae-{line}"


_SQLITE = "sqlite:///"


def local_tracking_uri(folder: Path) -> str:
    """A SQLite tracking and registry store in `folder` (`mlflow.db`; the folder is made on first use)."""
    return f"{_SQLITE}{(folder / 'mlflow.db').resolve()}"


@dataclass(frozen=True)
class RegisteredVersion:
    name: str
    version: str
    run_id: str
    source: str
    tags: Mapping[str, str]


def _absent(exc: MlflowException, alias: str) -> bool:
    """Whether MLflow said the model or the alias does not exist. A missing model is
    RESOURCE_DOES_NOT_EXIST; a missing alias is INVALID_PARAMETER_VALUE with "Registered model alias
    <alias> not found." (SQL and file stores of MLflow 3.x). INVALID_PARAMETER_VALUE also answers many
    bad requests, so only that message counts: anything else read as "no champion" would promote a
    first model and lose the one to roll back to."""
    if exc.error_code == "RESOURCE_DOES_NOT_EXIST":
        return True
    return exc.error_code == "INVALID_PARAMETER_VALUE" and f"Registered model alias {alias} not found" in str(
        exc.message
    )


def _clean(value: float) -> float | None:
    return float(value) if value is not None and math.isfinite(float(value)) else None


class ModelRegistry:
    """Tracking and registry on one MLflow store. `artifact_root`: where new experiments keep artefacts."""

    def __init__(
        self, tracking_uri: str, artifact_root: str | None = None, registry_uri: str | None = None
    ) -> None:
        self.tracking_uri = tracking_uri
        self.artifact_root = artifact_root
        for uri in (tracking_uri, registry_uri):
            if uri and uri.startswith(_SQLITE):  # SQLite makes the file, not its folder
                Path(uri.removeprefix(_SQLITE)).parent.mkdir(parents=True, exist_ok=True)
        from mlflow.tracking import MlflowClient

        self.client = MlflowClient(tracking_uri=tracking_uri, registry_uri=registry_uri or tracking_uri)

    # -- runs --------------------------------------------------------------------------------------
    def experiment_id(self, name: str) -> str:
        from mlflow.exceptions import MlflowException

        found = self.client.get_experiment_by_name(name)
        if found is not None:
            return str(found.experiment_id)
        location = None
        if self.artifact_root:
            location = f"{self.artifact_root.rstrip('/')}/{name}"
            if "://" not in location:
                location = Path(location).resolve().as_uri()
        try:
            return str(self.client.create_experiment(name, artifact_location=location))
        except MlflowException:
            # Created meanwhile by a concurrent step: use that one.
            again = self.client.get_experiment_by_name(name)
            if again is None:
                raise
            return str(again.experiment_id)

    def start_run(self, experiment: str, run_name: str, tags: Mapping[str, str] | None = None) -> str:
        run = self.client.create_run(self.experiment_id(experiment), run_name=run_name, tags=dict(tags or {}))
        return str(run.info.run_id)

    def log_params(self, run_id: str, params: Mapping[str, Any]) -> None:
        from mlflow.entities import Param

        items = [Param(str(k), str(v)[:6000]) for k, v in params.items()]
        for start in range(0, len(items), 100):
            self.client.log_batch(run_id, params=items[start : start + 100])

    def log_metrics(self, run_id: str, metrics: Mapping[str, float | int | None], step: int = 0) -> None:
        from mlflow.entities import Metric

        now = _now_ms()
        items = [Metric(str(k), v, now, step) for k, raw in metrics.items() if (v := _clean(raw)) is not None]  # type: ignore[arg-type]
        for start in range(0, len(items), 500):
            self.client.log_batch(run_id, metrics=items[start : start + 500])

    def set_tags(self, run_id: str, tags: Mapping[str, str]) -> None:
        from mlflow.entities import RunTag

        self.client.log_batch(run_id, tags=[RunTag(k, str(v)) for k, v in tags.items()])

    def log_artifact(self, run_id: str, path: Path, artifact_path: str | None = None) -> None:
        if path.is_dir():
            self.client.log_artifacts(run_id, os.fspath(path), artifact_path)
        else:
            self.client.log_artifact(run_id, os.fspath(path), artifact_path)

    def download(self, run_id: str, artifact_path: str, destination: Path) -> Path:
        destination.mkdir(parents=True, exist_ok=True)
        return Path(self.client.download_artifacts(run_id, artifact_path, os.fspath(destination)))

    def end_run(self, run_id: str, status: str = "FINISHED") -> None:
        self.client.set_terminated(run_id, status)

    def run_metrics(self, run_id: str) -> dict[str, float]:
        return dict(self.client.get_run(run_id).data.metrics)

    def artifact_uri(self, run_id: str) -> str:
        return str(self.client.get_run(run_id).info.artifact_uri)

    # -- registry ----------------------------------------------------------------------------------
    def register(
        self, name: str, run_id: str, artifact_path: str, tags: Mapping[str, str] | None = None
    ) -> RegisteredVersion:
        """A new version of `name` whose source is the run's `artifact_path` folder."""
        from mlflow.exceptions import MlflowException

        try:
            self.client.get_registered_model(name)
        except MlflowException:
            try:
                self.client.create_registered_model(name, description="Weld anomaly autoencoder of one line.")
            except MlflowException:
                self.client.get_registered_model(name)  # created meanwhile; re-raise if really absent
        source = f"{self.artifact_uri(run_id).rstrip('/')}/{artifact_path}"
        created = self.client.create_model_version(name, source, run_id=run_id, tags=dict(tags or {}))
        return RegisteredVersion(name, str(created.version), run_id, source, dict(created.tags or {}))

    def register_package(
        self,
        name: str,
        run_id: str,
        write: Callable[[str, str, Path], T],
        tags: Mapping[str, str] | None = None,
    ) -> tuple[RegisteredVersion, T]:
        """A new version of `name` holding an edge package, alias `challenger`; returns it and what
        `write` returned.

        The version's source is a fresh folder of the run's artefacts (`edge_package/<id>`), so
        `models:/<name>@<alias>` downloads the package itself. `write(version, package_uri, folder)`
        fills a local folder (the version number goes into the signed manifest, so the version exists
        first), which is uploaded there; then the version gets the tags `package_uri` (the package is
        complete) and `quality_gate=pending`. Any failure deletes the version: no half-made package
        stays registered."""
        artifact_path = f"{PACKAGE_ARTIFACTS}/{uuid.uuid4().hex[:16]}"
        version = self.register(name, run_id, artifact_path, tags)
        try:
            with tempfile.TemporaryDirectory() as tmp:
                folder = Path(tmp) / "package"
                written = write(version.version, version.source, folder)
                self.log_artifact(run_id, folder, artifact_path)
            self.set_version_tags(
                name, version.version, {"package_uri": version.source, "quality_gate": "pending"}
            )
            self.set_alias(name, CHALLENGER, version.version)
        except Exception:
            self.delete_version(name, version.version)
            raise
        return version, written

    def package_of(self, name: str, version: str) -> RegisteredVersion:
        """The version with `source` = its package folder; raises when its package was never completed."""
        found = self.client.get_model_version(name, version)
        uri = (found.tags or {}).get("package_uri")
        if not uri:
            raise LookupError(f"{name} v{version} has no package_uri tag: its package was never completed")
        return RegisteredVersion(name, str(found.version), str(found.run_id), uri, dict(found.tags or {}))

    def delete_version(self, name: str, version: str) -> None:
        self.client.delete_model_version(name, version)

    def set_version_tags(self, name: str, version: str, tags: Mapping[str, str]) -> None:
        for key, value in tags.items():
            self.client.set_model_version_tag(name, version, key, str(value))

    def by_alias(self, name: str, alias: str) -> RegisteredVersion | None:
        """The version `alias` points at; None only when the model or the alias does not exist. Any other
        failure (server down, permissions) raises: "no champion" must never be a guess."""
        from mlflow.exceptions import MlflowException

        try:
            found = self.client.get_model_version_by_alias(name, alias)
        except MlflowException as exc:
            if _absent(exc, alias):
                return None
            raise
        return RegisteredVersion(
            name, str(found.version), str(found.run_id), str(found.source), dict(found.tags or {})
        )

    def set_alias(self, name: str, alias: str, version: str) -> None:
        self.client.set_registered_model_alias(name, alias, version)

    def promote(self, name: str, version: str) -> RegisteredVersion | None:
        """Make `version` the champion; the champion it replaces becomes `previous-champion`."""
        previous = self.by_alias(name, CHAMPION)
        if previous is not None and previous.version != version:
            self.set_alias(name, PREVIOUS_CHAMPION, previous.version)
        self.set_alias(name, CHAMPION, version)
        return previous

    def rollback(self, name: str) -> str:
        """Move `champion` back to `previous-champion`; returns the version now serving."""
        previous = self.by_alias(name, PREVIOUS_CHAMPION)
        if previous is None:
            raise LookupError(f"{name} has no previous champion to roll back to")
        current = self.by_alias(name, CHAMPION)
        self.set_alias(name, CHAMPION, previous.version)
        if current is not None:
            self.set_alias(name, PREVIOUS_CHAMPION, current.version)
        return previous.version

    def download_version(self, version: RegisteredVersion, destination: Path) -> Path:
        """The version's package folder, downloaded into `destination`."""
        import mlflow.artifacts

        destination.mkdir(parents=True, exist_ok=True)
        return Path(
            mlflow.artifacts.download_artifacts(
                artifact_uri=version.source, dst_path=os.fspath(destination), tracking_uri=self.tracking_uri
            )
        )


def _now_ms() -> int:
    import time

    return int(time.time() * 1000)
