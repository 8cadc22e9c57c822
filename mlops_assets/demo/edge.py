"""The demo's plant floor: a local broker, a real edge agent process, a simulated line publishing, and
the agent's state read from the UNS like any operator would (its retained heartbeat, its results)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import yaml

from edge_agent.domain import LineAddress
from edge_agent.uns.endpoint import MqttEndpoint, connect_and_wait, new_client

__all__ = ["AgentProcess", "Subscription"]

REPO = Path(__file__).resolve().parents[2]


class Subscription:
    """A live subscriber that keeps what arrives; `wait_for` blocks (bounded) on a condition over it."""

    def __init__(self, endpoint: MqttEndpoint, topic_filter: str, name: str) -> None:
        self.messages: list[tuple[str, dict[str, Any]]] = []
        self._changed = threading.Condition()
        self._client = new_client(endpoint, f"demo-{name}-{os.getpid()}")
        self._client.on_message = self._on_message
        connect_and_wait(self._client, endpoint)
        self._client.subscribe(topic_filter, qos=1)

    def _on_message(self, client: Any, userdata: Any, message: Any) -> None:
        with self._changed:
            self.messages.append((message.topic, orjson.loads(message.payload)))
            self._changed.notify_all()

    def latest(self) -> dict[str, Any]:
        with self._changed:
            return self.messages[-1][1] if self.messages else {}

    def wait_for(self, condition: Callable[[], bool], timeout_s: float, what: str) -> None:
        with self._changed:
            if not self._changed.wait_for(condition, timeout_s):
                raise TimeoutError(f"timed out after {timeout_s:.0f} s waiting for {what}")

    def close(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()


class AgentProcess:
    """`python -m edge_agent run --config <home>/edge/edge.yaml`, configured for the demo's broker, folders
    and the platform's (development) public key; stopped with SIGTERM like systemd does."""

    def __init__(
        self,
        home: Path,
        endpoint: MqttEndpoint,
        address: LineAddress,
        public_key: str,
        key_id: str,
        extra: dict[str, Any] | None = None,
    ) -> None:
        self.home = home / "edge"
        self.address = address
        self.agent_id = "edge-demo"
        self.config = {
            "agent_id": self.agent_id,
            "line": address.line,
            "mqtt": {"host": endpoint.host, "port": endpoint.port, "protocol": endpoint.protocol},
            "spool": {"dir": str(self.home / "spool"), "seal_max_age_s": 2},
            "landing": {"url": str(home / "landing"), "scan_interval_s": 0.5},
            "heartbeat": {"interval_s": 1},
            "log": {"level": "WARNING", "format": "text"},
            "model": {"public_key": public_key, "key_id": key_id},
            **(extra or {}),
        }
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def heartbeat_topic(self) -> str:
        return f"{self.address.prefix}/_edge/{self.agent_id}/heartbeat"

    @property
    def log_path(self) -> Path:
        return self.home / "agent.log"

    def start(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        path = self.home / "edge.yaml"
        path.write_text(yaml.safe_dump(self.config), encoding="utf-8")
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "edge_agent", "run", "--config", str(path)],
                cwd=REPO,
                stdout=log,
                stderr=log,
            )

    def stop(self, timeout_s: float = 60.0) -> int:
        process = self.process
        if process is None:
            return 0
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        return int(process.returncode)

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def tail_log(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def counters_total(heartbeat: dict[str, Any], field: str, suffix: str = "") -> int:
    return sum(c[field] for topic, c in (heartbeat.get("counters") or {}).items() if topic.endswith(suffix))


def wait_started(agent: AgentProcess, beats: Subscription, timeout_s: float = 60.0) -> None:
    def online() -> bool:
        return beats.latest().get("status") in ("ONLINE", "DEGRADED") or not agent.alive()

    beats.wait_for(online, timeout_s, "the edge agent's first heartbeat")
    if not agent.alive():
        raise RuntimeError(f"the edge agent exited at start:\n{agent.tail_log()}")


def wait_for_uploads(beats: Subscription, expected: int, timeout_s: float = 120.0) -> None:
    """Until the agent received `expected` messages and every one is in the landing zone."""
    deadline = time.monotonic() + timeout_s

    def done() -> bool:
        latest = beats.latest()
        return counters_total(latest, "received") >= expected and counters_total(
            latest, "uploaded"
        ) >= counters_total(latest, "received")

    beats.wait_for(done, max(1.0, deadline - time.monotonic()), f"{expected} messages in the landing zone")
