"""Things break while the agent runs: the broker restarts, the landing zone goes away, a worker dies."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import orjson

from edge_agent.agent import EdgeAgent
from edge_agent.simulator import LineConfig, WeldLine, publish_line
from edge_agent.uns.endpoint import MqttEndpoint
from edge_agent.uns.local_broker import LocalBroker
from tests.edge_agent.agent.support import (
    START_MS,
    capture_seq_unique,
    cell_seq_counts,
    local_landing_files,
    make_settings,
    publish_in_background,
    read_tables,
    rows_of,
    running,
    s3_landing_files,
    sent_keys,
)
from tests.helpers import wait_until
from tests.s3 import MotoS3


def test_broker_restart_mid_stream_loses_nothing(
    broker: LocalBroker, endpoint: MqttEndpoint, tmp_path: Path
) -> None:
    total = 10_000
    settings = make_settings(tmp_path, broker.port)
    line = WeldLine(LineConfig(seed=31, start_ms=START_MS, seq_start=0))
    with running(EdgeAgent(settings)) as agent:
        publisher, outcome = publish_in_background(
            lambda: publish_line(
                line, endpoint, max_messages=total, speed=0, ride_out_disconnects=True, drain_timeout_s=120
            )
        )
        wait_until(lambda: agent.stats.totals()["captured"] >= 1000, 60, "capture under way")
        captured_before = agent.stats.totals()["captured"]
        assert publisher.is_alive()  # the restart comes while the stream is still being published
        broker.restart()  # orderly: Mosquitto saves the agent's session and its queued QoS 1 messages
        publisher.join(180)
        assert "error" not in outcome, outcome.get("error")
        report = outcome["report"]
        assert report.acknowledged == total
        wait_until(lambda: agent.stats.totals()["uploaded"] >= total, 120, "every message uploaded")
        assert captured_before < total  # the restart really came mid-stream
        assert agent.stats.events["disconnects"] >= 1 and agent.stats.events["connects"] >= 2
        assert agent.session.session_present  # the broker kept our session over the restart
    tables = read_tables(local_landing_files(Path(settings.landing.url)))
    landed = cell_seq_counts(rows_of(tables, "capture"))
    assert set(landed) == set(sent_keys(report))  # 0 lost
    # A publisher that lost its PUBACKs in the restart sends those messages again: for the broker they are
    # new publications (QoS 1 is at least once), so the agent keeps them; the lake deduplicates on (cell, seq).
    extra = sum(landed.values()) - total
    print(f"broker restart: {extra} publisher-side duplicates kept, {agent.stats.dropped} dropped")
    assert extra == agent.stats.totals()["captured"] - total >= 0
    assert capture_seq_unique(tables)


def test_s3_unreachable_capture_goes_on_and_uploads_resume(
    broker: LocalBroker, endpoint: MqttEndpoint, s3: MotoS3, tmp_path: Path
) -> None:
    bucket = s3.new_bucket("landing")
    settings = make_settings(tmp_path, broker.port, landing={"url": f"s3://{bucket}/uns", "timeout_s": 2})
    line = WeldLine(LineConfig(seed=41, start_ms=START_MS, seq_start=0, anomaly_rate=0.1))
    with running(EdgeAgent(settings)) as agent:
        first = publish_line(line, endpoint, max_messages=1000, speed=0)
        wait_until(lambda: agent.stats.totals()["uploaded"] >= 1000, 60, "first uploads")
        s3.stop()
        second = publish_line(line, endpoint, max_messages=1500, speed=0)
        wait_until(lambda: agent.stats.totals()["captured"] >= 2500, 60, "capture while S3 is down")
        wait_until(lambda: agent.stats.events["upload_failures"] >= 2, 60, "failed upload attempts")
        assert agent.status() == "DEGRADED"
        assert agent.stats.totals()["uploaded"] < 2500 and len(agent.parts.spool.backlog.pending()) > 0
        s3.start()
        wait_until(lambda: agent.stats.totals()["uploaded"] >= 2500, 60, "uploads resumed")
        assert agent.status() == "ONLINE"
    tables = read_tables(s3_landing_files(s3, bucket, "uns/"))
    assert cell_seq_counts(rows_of(tables, "capture")) == sent_keys(first, second)
    assert all(rel.startswith("plant-1/line-1/edge-test/") for rel in tables)


def test_local_landing_unreachable_capture_goes_on_and_uploads_resume(
    broker: LocalBroker, endpoint: MqttEndpoint, tmp_path: Path
) -> None:
    landing = tmp_path / "mnt" / "landing"
    landing.parent.mkdir()
    landing.write_text(
        "not a directory: the share is not mounted"
    )  # root ignores permissions; a file does not
    settings = make_settings(tmp_path, broker.port, landing={"url": str(landing)})
    line = WeldLine(LineConfig(seed=43, start_ms=START_MS, seq_start=0))
    with running(EdgeAgent(settings)) as agent:
        report = publish_line(line, endpoint, max_messages=1500, speed=0)
        wait_until(lambda: agent.stats.totals()["captured"] == 1500, 60, "capture")
        wait_until(lambda: agent.stats.events["upload_failures"] >= 2, 60, "failed upload attempts")
        assert agent.stats.totals()["uploaded"] == 0 and not agent.parts.spool.uploader.available
        landing.unlink()
        landing.mkdir()
        wait_until(lambda: agent.stats.totals()["uploaded"] == 1500, 60, "uploads resumed")
    tables = read_tables(local_landing_files(landing))
    assert cell_seq_counts(rows_of(tables, "capture")) == sent_keys(report)


def test_a_dead_validation_worker_is_restarted_and_nothing_is_lost(
    broker: LocalBroker, endpoint: MqttEndpoint, tmp_path: Path
) -> None:
    settings = make_settings(tmp_path, broker.port)
    line = WeldLine(LineConfig(seed=47, start_ms=START_MS, seq_start=0))
    with running(EdgeAgent(settings)) as agent:
        publisher, outcome = publish_in_background(
            lambda: publish_line(line, endpoint, max_messages=4000, speed=0)
        )
        wait_until(lambda: agent.stats.totals()["received"] >= 500, 60, "validation under way")
        pid = agent.parts.validate.workers[0].pid
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        publisher.join(120)
        report = outcome["report"]
        wait_until(lambda: agent.stats.totals()["uploaded"] >= 4000, 60, "every message uploaded")
        assert agent.stats.events["validate_worker_restarts"] >= 1
        assert agent.parts.validate.workers[0].pid != pid
    tables = read_tables(local_landing_files(Path(settings.landing.url)))
    assert cell_seq_counts(rows_of(tables, "capture")) == sent_keys(report)


def test_heartbeat_reports_upload_backlog_and_error_while_landing_is_down(
    broker: LocalBroker, endpoint: MqttEndpoint, tmp_path: Path
) -> None:
    landing = tmp_path / "landing-file"
    landing.write_text("x")
    settings = make_settings(tmp_path, broker.port, landing={"url": str(landing)})
    with running(EdgeAgent(settings)) as agent:
        publish_line(
            WeldLine(LineConfig(seed=5, start_ms=START_MS, seq_start=0)), endpoint, max_messages=300, speed=0
        )
        wait_until(
            lambda: (
                agent.stats.events["upload_failures"] >= 1 and len(agent.parts.spool.backlog.pending()) >= 1
            ),
            30,
            "backlog",
        )
        state = agent.heartbeat_state()
        assert state["status"] == "DEGRADED"
        assert state["upload_backlog_files"] >= 1 and state["spool_bytes"] > 0
        assert "upload of capture-edge-test-" in state["last_error"]
        assert orjson.dumps(state)  # serialisable as is
        landing.unlink()
        wait_until(lambda: agent.stats.totals()["uploaded"] == 300, 30, "uploads after the outage")
