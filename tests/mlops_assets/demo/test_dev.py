"""`make dev` as a user starts it: the broker, a real edge agent heartbeating, the simulated line
publishing, the Dagster UI (webserver and daemon) and the MLflow UI answering; Ctrl-C stops them all and
the command exits 0."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from edge_agent.uns.endpoint import MqttEndpoint
from edge_agent.uns.local_broker import free_port
from mlops_assets.demo.edge import Subscription
from mlops_assets.environment import HOME_VAR

READY = "Ctrl-C stops everything."


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def _wait(condition: object, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return
        time.sleep(0.5)
    raise TimeoutError(f"timed out after {timeout_s:.0f} s waiting for {what}")


def test_make_dev_starts_the_stack_and_ctrl_c_stops_it(tmp_path: Path) -> None:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("MLOPS_", "DAGSTER_", "MLFLOW_", "AWS_"))
    }
    env |= {HOME_VAR: str(tmp_path), "DAGSTER_HOME": str(tmp_path / "dagster_home")}
    ui, tracking = free_port(), free_port()
    out = tmp_path / "dev.out"
    with out.open("wb") as sink:
        dev = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "mlops_assets.demo.dev",
                "--ui-port",
                str(ui),
                "--mlflow-port",
                str(tracking),
            ],
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait(lambda: READY in out.read_text() or dev.poll() is not None, 240, "make dev to be up")
        printed = out.read_text()
        assert dev.poll() is None, printed
        assert f"http://127.0.0.1:{ui} (ready)" in printed
        assert _answers(f"http://127.0.0.1:{ui}/server_info")
        _wait(lambda: _answers(f"http://127.0.0.1:{tracking}/health"), 120, "the MLflow UI")
        port = int(re.search(r"mqtt://127\.0\.0\.1:(\d+)", printed).group(1))  # type: ignore[union-attr]
        endpoint = MqttEndpoint(port=port)
        beats = Subscription(endpoint, "acme/+/+/+/_edge/+/heartbeat", "dev-heartbeat")
        telemetry = Subscription(endpoint, "acme/+/+/+/+/weld/telemetry", "dev-telemetry")
        try:
            beats.wait_for(lambda: beats.latest().get("status") in {"ONLINE", "DEGRADED"}, 60, "a heartbeat")
            telemetry.wait_for(lambda: len(telemetry.messages) >= 10, 60, "the simulated line")
        finally:
            beats.close()
            telemetry.close()
    finally:
        dev.send_signal(signal.SIGINT)
        code = dev.wait(180)
    assert code == 0, out.read_text()[-3000:]
    assert not _answers(f"http://127.0.0.1:{ui}/server_info")
    assert not _answers(f"http://127.0.0.1:{tracking}/health")
