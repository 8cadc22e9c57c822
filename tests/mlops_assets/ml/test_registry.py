"""The model registry on a local MLflow store (SQLite and a folder of artefacts): aliases, promotion and
rollback without any training, and which MLflow errors mean "no such alias"."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from mlflow.exceptions import MlflowException

from mlops_assets.ml.registry import (
    CHALLENGER,
    CHAMPION,
    PREVIOUS_CHAMPION,
    ModelRegistry,
    local_tracking_uri,
)

NAME = "weld-ae-line-7"


@pytest.fixture
def registry(tmp_path: Path) -> ModelRegistry:
    home = tmp_path / "mlflow"
    return ModelRegistry(local_tracking_uri(home), str(home / "artifacts"))


def _package_version(registry: ModelRegistry, number: int) -> str:
    run = registry.start_run("weld-anomaly/line-7", f"train-{number}")

    def write(version: str, package_uri: str, folder: Path) -> str:
        folder.mkdir(parents=True)
        (folder / "manifest.json").write_text(json.dumps({"model_version": version, "uri": package_uri}))
        return version

    version, written = registry.register_package(NAME, run, write)
    registry.end_run(run)
    assert written == version.version
    return version.version


def _alias(registry: ModelRegistry, alias: str) -> str | None:
    found = registry.by_alias(NAME, alias)
    return None if found is None else found.version


def test_promotion_keeps_the_previous_champion_and_rollback_restores_it(
    registry: ModelRegistry, tmp_path: Path
) -> None:
    assert registry.by_alias(NAME, CHAMPION) is None  # no model yet: absent, not an error
    first = _package_version(registry, 1)
    assert _alias(registry, CHALLENGER) == first and _alias(registry, CHAMPION) is None
    assert registry.promote(NAME, first) is None  # nothing replaced
    assert _alias(registry, CHAMPION) == first and _alias(registry, PREVIOUS_CHAMPION) is None
    with pytest.raises(LookupError, match="no previous champion"):
        registry.rollback(NAME)

    second = _package_version(registry, 2)
    assert _alias(registry, CHALLENGER) == second and _alias(registry, CHAMPION) == first
    replaced = registry.promote(NAME, second)
    assert replaced is not None and replaced.version == first
    assert (_alias(registry, CHAMPION), _alias(registry, PREVIOUS_CHAMPION)) == (second, first)
    # Promoting the champion again changes nothing: it never becomes its own previous champion.
    registry.promote(NAME, second)
    assert (_alias(registry, CHAMPION), _alias(registry, PREVIOUS_CHAMPION)) == (second, first)

    assert registry.rollback(NAME) == first
    assert (_alias(registry, CHAMPION), _alias(registry, PREVIOUS_CHAMPION)) == (first, second)
    # The package each alias names is the one registered for that version.
    champion = registry.package_of(NAME, first)
    manifest = json.loads(
        (registry.download_version(champion, tmp_path / "dl") / "manifest.json").read_text()
    )
    assert manifest["model_version"] == first


class _Answer(BaseHTTPRequestHandler):
    status = 403
    error_code = "PERMISSION_DENIED"
    message = "answered by the test server"
    posted = 0

    def do_GET(self) -> None:
        body = json.dumps({"error_code": self.error_code, "message": self.message}).encode()
        self.send_response(self.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:  # alias and tag writes: counted, so a test can say none was attempted
        type(self).posted += 1
        self.do_GET()

    def log_message(self, format: str, *args: object) -> None:  # no access log on stderr
        return


@pytest.fixture
def answering_server() -> Iterator[tuple[str, type[_Answer]]]:
    """An HTTP server on loopback that answers every MLflow request with one error (set per test)."""

    class Handler(_Answer):
        pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", Handler
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_only_an_absent_model_or_alias_is_none_other_errors_raise(
    answering_server: tuple[str, type[_Answer]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    url, handler = answering_server
    registry = ModelRegistry(url)
    handler.status, handler.error_code = 404, "RESOURCE_DOES_NOT_EXIST"
    assert registry.by_alias(NAME, CHAMPION) is None
    # MLflow's words for an alias that is not set (SQL store, 3.x): absent.
    handler.status, handler.error_code = 400, "INVALID_PARAMETER_VALUE"
    handler.message = f"Registered model alias {CHAMPION} not found."
    assert registry.by_alias(NAME, CHAMPION) is None
    # The same code for any other bad request is no answer about the alias.
    handler.message = "Invalid value 'weld ae' for parameter 'name' supplied."
    with pytest.raises(MlflowException, match="Invalid value"):
        registry.by_alias(NAME, CHAMPION)
    # Another alias's absence is not this one's.
    handler.message = f"Registered model alias {PREVIOUS_CHAMPION} not found."
    with pytest.raises(MlflowException):
        registry.by_alias(NAME, CHAMPION)
    with pytest.raises(MlflowException):  # never promoted as "first model", rollback target kept
        registry.promote(NAME, "3")
    assert handler.posted == 0
    handler.message = "answered by the test server"
    # Anything else is no answer: "no champion" would promote blindly, so it raises.
    handler.status, handler.error_code = 403, "PERMISSION_DENIED"
    with pytest.raises(MlflowException) as denied:
        registry.by_alias(NAME, CHAMPION)
    assert denied.value.error_code == "PERMISSION_DENIED"
    with pytest.raises(MlflowException):
        registry.promote(NAME, "3")


def test_a_tracking_server_that_is_down_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    with socket.socket() as probe:  # a loopback port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    registry = ModelRegistry(f"http://127.0.0.1:{port}")
    with pytest.raises(MlflowException, match="API request"):
        registry.by_alias(NAME, CHAMPION)
