"""Scoring in a real agent process: `kill -9` mid-stream, a restart with the landing zone unreachable
scores at once with the cached model, and every captured batch has its result, a repeated one under
the same id."""

from __future__ import annotations

import signal
from collections import defaultdict
from pathlib import Path

import orjson

from edge_agent.simulator import LineConfig, WeldLine, publish_line
from edge_agent.uns.endpoint import MqttEndpoint, publish_confirmed
from edge_agent.uns.local_broker import LocalBroker
from tests.edge_agent.agent.support import (
    START_MS,
    publish_in_background,
    sent_keys,
    settings_dict,
    write_config,
)
from tests.edge_agent.agent.test_process import start_agent
from tests.helpers import Recorder, wait_until

from .packages import ADDRESS, KEY_ID, PUBLIC_KEY, deploy, make_package

T0 = 1_765_000_000_000
HEARTBEAT = f"{ADDRESS.prefix}/_edge/edge-test/heartbeat"


def latest_heartbeat(recorder: Recorder) -> dict:
    return orjson.loads(recorder.messages[-1].payload) if recorder.messages else {}


def model_serving(recorder: Recorder, version: str) -> bool:
    beat = latest_heartbeat(recorder)
    model = beat.get("model") or {}
    return beat.get("status") != "OFFLINE" and model.get("version") == version and model.get("ready")


def test_kill_9_then_a_restart_without_the_landing_zone_scores_at_once_from_the_cache(
    broker: LocalBroker, endpoint: MqttEndpoint, tmp_path: Path
) -> None:
    settings = settings_dict(
        tmp_path,
        broker.port,
        heartbeat={"interval_s": 0.2},
        model={"public_key": PUBLIC_KEY, "key_id": KEY_ID},
        scoring={"checkpoint_interval_s": 0.5},
    )
    config = write_config(tmp_path / "edge.yaml", settings)
    landing = Path(settings["landing"]["url"])
    deployment = deploy(landing, tmp_path / "v1", make_package(tmp_path / "v1", "1"), published_ms=T0)
    publish_confirmed(
        endpoint,
        [(f"{ADDRESS.prefix}/_model/manifest", orjson.dumps(deployment))],
        client_id="platform",
        retain=True,
    )
    log = tmp_path / "agent.log"
    line = WeldLine(LineConfig(seed=31, start_ms=START_MS, seq_start=0))
    total = 4000
    with (
        Recorder(endpoint, [HEARTBEAT]) as beats,
        Recorder(endpoint, [f"{ADDRESS.prefix}/+/weld/anomaly"]) as results,
    ):
        first = start_agent(config, log)
        try:
            wait_until(lambda: model_serving(beats, "1"), 60, "model 1 serving")
            publisher, outcome = publish_in_background(
                lambda: publish_line(line, endpoint, max_messages=total, speed=0)
            )
            wait_until(lambda: len(results.messages) >= 800, 60, "results flowing")
            first.send_signal(signal.SIGKILL)
            assert first.wait(10) == -signal.SIGKILL
        finally:
            if first.poll() is None:
                first.kill()
        publisher.join(120)
        report = outcome["report"]
        assert report.acknowledged == total
        scored_before = len(results.messages)
        assert scored_before < total  # the kill came mid-stream

        landing.rename(tmp_path / "landing-away")  # the landing zone is gone: a file where it was
        landing.write_text("not a directory")
        second = start_agent(config, log)
        try:
            wait_until(lambda: model_serving(beats, "1"), 120, "model 1 serving again, from the cache")
            assert latest_heartbeat(beats)["status"] == "DEGRADED"  # the landing zone is unreachable
            wait_until(
                lambda: (
                    len({(m.topic, orjson.loads(m.payload).get("seq")) for m in results.messages}) >= total
                ),
                120,
                "a result for every batch",
            )
            landing.unlink()
            (tmp_path / "landing-away").rename(landing)
            second.send_signal(signal.SIGTERM)
            assert second.wait(60) == 0
        finally:
            if second.poll() is None:
                second.kill()
    ids: dict[tuple[str, int], set[str]] = defaultdict(set)
    for message in results.messages:
        result = orjson.loads(message.payload)
        if "seq" in result:
            assert result["model_version"] == "1"
            ids[(message.topic.split("/")[4], result["seq"])].add(result["result_id"])
    assert set(ids) == {(cell, seq) for cell, seq in sent_keys(report)}
    assert all(len(found) == 1 for found in ids.values())  # repeated results carry the same id
    assert "scoring" in log.read_text() and "captured after the last checkpoint" in log.read_text()
