"""The local stack's long-running processes, each started as a child and stopped in order: the Dagster
daemon (or `dagster dev`: webserver and daemon), the MLflow UI, and a simulated line publishing."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path

__all__ = ["Child", "dagster_daemon", "dagster_dev", "mlflow_ui", "simulator", "wait_http"]

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


class Child:
    """A child process with its output in a log file; `stop` sends SIGTERM, then SIGKILL after a bound."""

    def __init__(
        self, name: str, argv: Sequence[str], log: Path, env: Mapping[str, str] | None = None
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.log = log
        self.env = {**os.environ, **(env or {})}
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> Child:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as sink:
            # A session of its own: a signal to the group reaches every process it starts (dagster dev).
            self.process = subprocess.Popen(
                self.argv, cwd=REPO, stdout=sink, stderr=sink, env=self.env, start_new_session=True
            )
        return self

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def signal(self, signum: int) -> None:
        if self.alive() and self.process is not None:
            os.killpg(self.process.pid, signum)

    def stop(self, timeout_s: float = 30.0, *, group: bool = True) -> int | None:
        """SIGTERM to the child and everything it started (`group`), or to the child alone, so that
        what it started (a daemon's runs) may finish; SIGKILL to the whole group after `timeout_s`."""
        process = self.process
        if process is None:
            return None
        if process.poll() is None:
            if group:
                os.killpg(process.pid, signal.SIGTERM)
            else:
                process.terminate()
            try:
                process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.kill_group()
                process.wait()
        return process.returncode

    def kill_group(self) -> None:
        """SIGKILL to whatever is left of the child's process group."""
        if self.process is not None:
            with contextlib.suppress(ProcessLookupError):  # nothing left in the group
                os.killpg(self.process.pid, signal.SIGKILL)

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def dagster_daemon(logs: Path, env: Mapping[str, str]) -> Child:
    """The daemon alone: it evaluates the sensors and schedules and launches queued runs."""
    return Child(
        "dagster-daemon",
        [str(BIN / "dagster-daemon"), "run", "-w", "workspace.yaml"],
        logs / "daemon.log",
        env,
    )


def dagster_dev(logs: Path, env: Mapping[str, str], port: int = 3000) -> Child:
    """The UI and the daemon on 127.0.0.1:`port`."""
    argv = [str(BIN / "dagster"), "dev", "-h", "127.0.0.1", "-p", str(port), "-w", "workspace.yaml"]
    return Child("dagster dev", argv, logs / "dagster-dev.log", env)


def mlflow_ui(logs: Path, tracking_uri: str, artifacts: Path, port: int = 5000) -> Child:
    """The MLflow UI on the LOCAL store (the same SQLite file and artefact folder as the platform's)."""
    argv = [str(BIN / "mlflow"), "ui", "--backend-store-uri", tracking_uri,
            "--default-artifact-root", str(artifacts), "-h", "127.0.0.1", "-p", str(port)]  # fmt: skip
    return Child("mlflow ui", argv, logs / "mlflow-ui.log")


def simulator(logs: Path, port: int, *, cells: int, seed: int, anomaly_rate: float, speed: float) -> Child:
    """`python -m edge_agent.simulator`: the line publishing until stopped; SIGUSR1 toggles the drift material."""
    argv = [sys.executable, "-m", "edge_agent.simulator", "--port", str(port), "--cells", str(cells),
            "--seed", str(seed), "--anomaly-rate", str(anomaly_rate), "--speed", str(speed)]  # fmt: skip
    return Child("simulator", argv, logs / "simulator.log")


def wait_http(url: str, timeout_s: float, child: Child) -> bool:
    """Until `url` answers (any HTTP status), the child dies, or time runs out."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and child.alive():
        try:
            with urllib.request.urlopen(url, timeout=2):
                return True
        except urllib.error.HTTPError:
            return True
        except (urllib.error.URLError, OSError):
            time.sleep(0.5)
    return False
