"""The agent as a real process: kill -9 mid-stream and restart, the Will, SIGTERM, bad configuration."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import orjson
import pyarrow.parquet as pq
import pytest

from edge_agent.contract import ContractValidator
from edge_agent.files.landing_format import parse_landing_key
from edge_agent.simulator import LineConfig, WeldLine, publish_line
from edge_agent.uns.endpoint import MqttEndpoint
from edge_agent.uns.local_broker import LocalBroker
from tests.edge_agent.agent.support import (
    START_MS,
    capture_seq_unique,
    cell_seq_counts,
    local_landing_files,
    publish_in_background,
    read_tables,
    rows_of,
    sent_keys,
    settings_dict,
    write_config,
)
from tests.helpers import Recorder, wait_until

REPO = Path(__file__).resolve().parents[3]


def start_agent(config: Path, log: Path, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    with log.open("ab") as sink:
        return subprocess.Popen(
            [sys.executable, "-m", "edge_agent", "run", "--config", str(config)],
            cwd=REPO,
            stdout=sink,
            stderr=sink,
            env={**os.environ, **(env or {})},
        )


def _edge_agent(
    command: str, config: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`edge-agent <command> --config CONFIG` to completion, with extra environment variables."""
    return subprocess.run(
        [sys.executable, "-m", "edge_agent", command, "--config", str(config)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
    )


def children_of(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def heartbeats(recorder: Recorder) -> list[dict]:
    return [orjson.loads(m.payload) for m in list(recorder.messages)]


def captured_so_far(recorder: Recorder) -> int:
    states = [h for h in heartbeats(recorder) if h["status"] != "OFFLINE"]
    return sum(c["captured"] for c in states[-1]["counters"].values()) if states else 0


def landed_capture_rows(root: Path) -> int:
    return sum(
        pq.read_metadata(p).num_rows
        for rel, p in local_landing_files(root).items()
        if parse_landing_key(rel).kind == "capture"
    )


def test_kill_9_mid_stream_then_restart_lands_every_acknowledged_message_exactly_once(
    broker: LocalBroker, endpoint: MqttEndpoint, contract_validator: ContractValidator, tmp_path: Path
) -> None:
    settings = settings_dict(tmp_path, broker.port, heartbeat={"interval_s": 0.2})
    config = write_config(tmp_path / "edge.yaml", settings)
    landing = Path(settings["landing"]["url"])
    log = tmp_path / "agent.log"
    topic = "acme/plant-1/body-shop/line-1/_edge/edge-test/heartbeat"
    line = WeldLine(LineConfig(seed=21, start_ms=START_MS, seq_start=0, anomaly_rate=0.05))
    total = 8000
    with Recorder(endpoint, [topic]) as states:
        first = start_agent(config, log)
        try:
            wait_until(
                lambda: any(h["status"] == "ONLINE" for h in heartbeats(states)), 30, "the agent online"
            )
            publisher, outcome = publish_in_background(
                lambda: publish_line(line, endpoint, max_messages=total, speed=0)
            )
            wait_until(lambda: captured_so_far(states) >= 1500, 60, "some messages captured")
            workers = children_of(first.pid)
            assert len(workers) == 2  # one validation worker, one seal worker
            first.send_signal(signal.SIGKILL)
            assert first.wait(10) == -signal.SIGKILL
            # the workers see their stdin close and leave: none outlives its agent
            wait_until(lambda: not any(alive(pid) for pid in workers), 10, "the workers to exit")
        finally:
            if first.poll() is None:
                first.kill()
        # the broker publishes the Will: the death certificate, valid against the contract
        wait_until(lambda: heartbeats(states)[-1]["status"] == "OFFLINE", 10, "the Will")
        will = states.messages[-1]
        assert contract_validator.check(will.topic, will.payload).ok
        assert orjson.loads(will.payload)["last_error"] == "connection lost without a clean disconnect"
        publisher.join(120)
        report = outcome["report"]  # every message acknowledged by the broker, queued for the agent
        assert report.acknowledged == total
        assert landed_capture_rows(landing) < total  # the kill really came mid-stream

        second = start_agent(config, log)
        try:
            wait_until(
                lambda: landed_capture_rows(landing) >= total, 120, "every message in the landing zone"
            )
            second.send_signal(signal.SIGTERM)
            assert second.wait(60) == 0
        finally:
            if second.poll() is None:
                second.kill()
        final = heartbeats(states)[-1]
    tables = read_tables(local_landing_files(landing))
    assert cell_seq_counts(rows_of(tables, "capture")) == sent_keys(report)  # each exactly once
    assert capture_seq_unique(tables)
    text = log.read_text()
    assert "recovered the capture spool" in text
    # the clean stop left an OFFLINE heartbeat with the second run's counters, and a drained spool
    assert final["status"] == "OFFLINE" and final["last_error"] is None
    assert final["upload_backlog_files"] == 0
    assert not any(p.stat().st_size > 10_000_000 for p in (tmp_path / "spool" / "segments").iterdir())


def test_sigterm_drains_seals_uploads_and_leaves_an_offline_heartbeat(
    broker: LocalBroker, endpoint: MqttEndpoint, tmp_path: Path
) -> None:
    # a long seal age: only the orderly shutdown can seal what was captured
    settings = settings_dict(tmp_path, broker.port, spool={"seal_max_age_s": 3600}, log={"format": "json"})
    config = write_config(tmp_path / "edge.yaml", settings)
    topic = "acme/plant-1/body-shop/line-1/_edge/edge-test/heartbeat"
    with Recorder(endpoint, [topic]) as states:
        agent = start_agent(config, tmp_path / "agent.log", env={"EDGE_MQTT__PASSWORD": "pw-never-logged"})
        try:
            wait_until(lambda: any(h["status"] == "ONLINE" for h in heartbeats(states)), 30, "online")
            report = publish_line(
                WeldLine(LineConfig(seed=2, start_ms=START_MS, seq_start=0)),
                endpoint,
                max_messages=500,
                speed=0,
            )
            wait_until(lambda: captured_so_far(states) == 500, 30, "capture")
            assert local_landing_files(Path(settings["landing"]["url"])) == {}
            agent.send_signal(signal.SIGTERM)
            assert agent.wait(60) == 0
        finally:
            if agent.poll() is None:
                agent.kill()
        wait_until(lambda: heartbeats(states)[-1]["status"] == "OFFLINE", 10, "OFFLINE")
    final = heartbeats(states)[-1]
    assert final["last_error"] is None  # a clean stop: this is not the Will
    text = (tmp_path / "agent.log").read_text()
    logged = [orjson.loads(line) for line in text.splitlines() if line.startswith("{")]
    assert {"ts", "level", "logger", "msg"} <= set(logged[0])
    assert any(entry["msg"].startswith("stopped (clean)") for entry in logged)
    assert "pw-never-logged" not in text and "'password': '**********'" in text
    assert sum(c["uploaded"] for c in final["counters"].values()) == 500
    tables = read_tables(local_landing_files(Path(settings["landing"]["url"])))
    assert cell_seq_counts(rows_of(tables, "capture")) == sent_keys(report)


@pytest.mark.parametrize(
    ("yaml_text", "env", "field"),
    [
        ("mqtt:\n  port: 70000\n", {}, "mqtt.port"),
        ("mqtt:\n  hots: broker\n", {}, "mqtt.hots"),
        ("agent_id: Edge_1\n", {}, "agent_id"),
        ("spool:\n  max_bytes: lots\n", {}, "spool.max_bytes"),
        ("", {"EDGE_PIPELINE__VALIDATE_WORKERS": "0"}, "pipeline.validate_workers"),
        ("landing:\n  url: ftp://somewhere\n", {}, "landing.url"),
        ("mqtt:\n  receive_maximum: 5000\n", {}, "pipeline.ingress_capacity"),
    ],
)
def test_a_bad_setting_stops_the_start_naming_the_field(
    tmp_path: Path, yaml_text: str, env: dict[str, str], field: str
) -> None:
    config = tmp_path / "edge.yaml"
    config.write_text(yaml_text, encoding="utf-8")
    result = _edge_agent("run", config, env)
    assert result.returncode == 2
    assert field in result.stderr, result.stderr
    assert "invalid configuration" in result.stderr


@pytest.mark.parametrize(
    ("yaml_text", "env", "expected"),
    [
        (
            "",
            {"EDGE_MQTT__TLS": "true", "EDGE_MQTT__CA_FILE": "/nonexistent/ca.pem"},
            "mqtt.ca_file: /nonexistent/ca.pem does not exist",
        ),
        ("mqtt:\n  tls: true\n  cert_file: {tmp}\n", {}, "mqtt.cert_file: {tmp} is a directory, not a file"),
        ("contract_path: /nonexistent/uns.yaml\n", {}, "contract_path: /nonexistent/uns.yaml does not exist"),
    ],
)
def test_a_file_setting_that_cannot_be_read_stops_the_start_naming_the_field_the_path_and_why(
    tmp_path: Path, yaml_text: str, env: dict[str, str], expected: str
) -> None:
    config = tmp_path / "edge.yaml"
    config.write_text(yaml_text.format(tmp=tmp_path), encoding="utf-8")
    result = _edge_agent("run", config, env)
    assert result.returncode == 2
    assert "invalid configuration" in result.stderr and expected.format(tmp=tmp_path) in result.stderr, (
        result.stderr
    )


def test_a_tls_file_that_holds_no_certificate_stops_the_start_naming_it(tmp_path: Path) -> None:
    """Readable, so the settings take it; the TLS setup refuses it, and says which file."""
    garbage = tmp_path / "ca.pem"
    garbage.write_text("not a certificate\n", encoding="utf-8")
    config = write_config(
        tmp_path / "edge.yaml",
        settings_dict(tmp_path, 1883, mqtt={"tls": True, "ca_file": str(garbage)}),
    )
    result = _edge_agent("run", config)
    assert result.returncode == 2
    assert f"cannot start: TLS setup failed (ca_file {garbage})" in result.stderr, result.stderr
    assert not (tmp_path / "spool").exists()  # refused before touching anything


def test_check_config_shows_env_overrides_and_never_the_password(tmp_path: Path) -> None:
    config = write_config(tmp_path / "edge.yaml", {"mqtt": {"host": "uns.plant", "port": 8883, "tls": True}})
    result = _edge_agent(
        "check-config", config, {"EDGE_MQTT__PORT": "8884", "EDGE_MQTT__PASSWORD": "hunter2-secret"}
    )
    assert result.returncode == 0, result.stderr
    shown = orjson.loads(result.stdout)
    assert (
        shown["mqtt"]["host"] == "uns.plant"
        and shown["mqtt"]["port"] == 8884
        and shown["mqtt"]["tls"] is True
    )
    assert shown["mqtt"]["password"] == "**********"
    assert "hunter2-secret" not in result.stdout + result.stderr


def test_the_agent_imports_no_platform_package_and_does_no_work_at_import() -> None:
    probe = (
        "import sys, threading\n"
        "import edge_agent.cli, edge_agent.agent, edge_agent.agent.app, edge_agent.agent.pipeline.validate_worker\n"
        "import edge_agent.agent.spool.seal_worker, edge_agent.agent.upload.targets, edge_agent.agent.metrics\n"
        "heavy = [m for m in ('dagster', 'torch', 'mlflow', 'polars', 'evidently', 'boto3') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
        "assert threading.active_count() == 1, threading.enumerate()\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
