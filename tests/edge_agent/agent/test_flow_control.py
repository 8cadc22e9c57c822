"""Back-pressure, bounded memory, the spool-full policies, and the processor slots after capture."""

from __future__ import annotations

import re
import threading
import urllib.request
import uuid
from functools import partial
from pathlib import Path

import orjson
import paho.mqtt.client as mqtt

from edge_agent.agent import EdgeAgent, Message, ProcessorKind
from edge_agent.agent.messages import classify
from edge_agent.agent.spool.segment_format import record_size
from edge_agent.contract import ContractValidator
from edge_agent.simulator import LineConfig, WeldLine, publish_line
from edge_agent.uns.endpoint import MqttEndpoint, connect_and_wait, new_client
from edge_agent.uns.local_broker import LocalBroker, free_port
from tests.edge_agent.agent.support import (
    START_MS,
    cell_seq_counts,
    local_landing_files,
    make_settings,
    read_tables,
    rows_of,
    running,
    sent_keys,
)
from tests.helpers import Recorder, wait_until

KiB = 1024


def test_queues_stay_bounded_under_a_flood_and_nothing_is_lost(
    broker: LocalBroker, endpoint: MqttEndpoint, tmp_path: Path
) -> None:
    settings = make_settings(
        tmp_path,
        broker.port,
        mqtt={"receive_maximum": 32},
        pipeline={
            "ingress_capacity": 64,
            "capture_capacity": 64,
            "validate_batch": 8,
            "group_commit_max": 16,
        },
    )
    line = WeldLine(LineConfig(seed=51, start_ms=START_MS, seq_start=0))
    with running(EdgeAgent(settings)) as agent:
        qos1 = publish_line(line, endpoint, max_messages=2000, speed=0, qos=1)
        wait_until(lambda: agent.stats.totals()["captured"] == 2000, 60, "QoS 1 captured")
        # Mosquitto 2.0.11 overruns the receive maximum under a steady flow of acks (eclipse-mosquitto#2301),
        # so the bounded queues are what holds memory: when full, the network thread waits.
        assert agent.parts.ingress.high_water <= 64 and agent.parts.capture_queue.high_water <= 64
        qos0 = publish_line(line, endpoint, max_messages=2000, speed=0, qos=0)
        wait_until(lambda: agent.stats.totals()["captured"] == 4000, 60, "QoS 0 captured")
        # QoS 0 has no flow control at all: the same bounded queues push back through TCP.
        assert agent.parts.ingress.high_water <= 64 and agent.parts.capture_queue.high_water <= 64
        waits = agent.parts.ingress.full_waits + agent.parts.capture_queue.full_waits
    tables = read_tables(local_landing_files(Path(settings.landing.url)))
    assert cell_seq_counts(rows_of(tables, "capture")) == sent_keys(qos1, qos0)
    print(f"queue-full waits during the QoS 0 flood: {waits}")


def messages_of(validator: ContractValidator, *, seed: int, count: int) -> list[Message]:
    """The first `count` messages of a line, classified as the agent classifies them."""
    batches = WeldLine(LineConfig(seed=seed, start_ms=START_MS, seq_start=0)).batches()
    out = []
    for mid, (_, topic, batch) in enumerate((next(batches) for _ in range(count)), start=1):
        message = Message(topic, orjson.dumps(batch.payload), 1, False, False, mid, 1, 0.0)
        message.verdict = classify(validator, topic, message.payload)
        out.append(message)
    return out


def test_capture_spool_full_stops_acknowledging_and_loses_nothing(
    broker: LocalBroker, endpoint: MqttEndpoint, contract_validator: ContractValidator, tmp_path: Path
) -> None:
    """The spool fills while neither sealing nor uploads work, then while uploads alone do not: the
    writer stops acknowledging within the bound it guarantees, and once there is room everything lands."""
    landing = tmp_path / "landing"
    landing.write_text("unreachable")
    limit, group = 400 * KiB, 32
    settings = make_settings(
        tmp_path,
        broker.port,
        landing={"url": str(landing)},
        spool={"max_bytes": limit, "segment_max_bytes": 100 * KiB},
        pipeline={"group_commit_max": group},
    )
    # Sealing fails while a file stands where the sealed files' site folder goes (the seal stage retries):
    # the spool is its segments alone, and no sealing changes the usage while we measure it.
    unsealable = settings.spool.dir / "sealed" / "plant-1"
    unsealable.parent.mkdir(parents=True)
    unsealable.write_text("not a folder")
    line = WeldLine(LineConfig(seed=53, start_ms=START_MS, seq_start=0))
    largest_record = max(map(record_size, messages_of(contract_validator, seed=53, count=1500)))
    with running(EdgeAgent(settings)):  # the agent's persistent session exists from here on
        pass
    # Queued at the broker before the agent comes back: it arrives as a flood, so the writer's groups are
    # full (however slowly the machine runs) and the last room before the bound takes part of one.
    report = publish_line(line, endpoint, max_messages=1500, speed=0)
    with running(EdgeAgent(settings)) as agent:
        wait_until(lambda: agent.parts.writer.blocked_on == "capture", 60, "the capture spool to fill")
        assert agent.status() == "DEGRADED" and agent.stats.events["capture_spool_full"] >= 1
        assert agent.stats.events["seal_failures"] >= 1 and not agent.parts.spool.backlog.pending()
        captured = agent.stats.totals()["captured"]
        assert captured < 1500
        # What the writer guarantees (README, "When the spool fills"): the bound is checked for each message
        # before it is written, so once full the spool is past it by at most the first record written
        # into the last room, plus the header of the segment opened after the last write (the writer
        # rotates the active segment when it stops; that one holds no record, so its size is its
        # header). A segment being sealed would add its sealed file: none can be, here. Whatever the
        # moment this is read (before or after that rotation), the sum holds. A writer that checked the
        # whole group instead would pass the bound by up to a group (32 records, ~120 KiB).
        used = agent.parts.spool.usage.used("capture")
        header = agent.parts.spool.spools["capture"].active_path.stat().st_size  # type: ignore[union-attr]
        assert limit <= used <= limit + largest_record + header, (used - limit, largest_record, header)
        assert agent.stats.events["group_commits_split"] >= 1  # the last room took part of a group
        # Sealing works again, uploads still do not: the sealed files replace the segments, and the
        # writer goes on filling the room sealing frees and stopping again, acknowledging nothing more.
        unsealable.unlink()
        wait_until(lambda: agent.stats.events["sealed_files"] >= 1, 60, "sealing once the folder can be made")
        assert agent.stats.totals()["uploaded"] == 0
        landing.unlink()
        wait_until(lambda: agent.stats.totals()["uploaded"] == 1500, 120, "everything, once there is room")
        assert agent.parts.writer.blocked_on is None
    tables = read_tables(local_landing_files(landing))
    assert cell_seq_counts(rows_of(tables, "capture")) == sent_keys(report)


def scrape(port: int) -> dict[str, float]:
    """`edge_queue_full_waits_total` by queue, from the agent's Prometheus endpoint."""
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
    found = re.findall(r'^edge_queue_full_waits_total\{queue="(\w+)"\} (\S+)$', text, re.MULTILINE)
    return {queue: float(value) for queue, value in found}


def ingress_full_waits(heartbeats: Recorder) -> int:
    """The most ingress waits a heartbeat published while we listened reported."""
    live = [orjson.loads(m.payload) for m in list(heartbeats.messages) if not m.retain]
    return max((h.get("queue_full_waits", {}).get("ingress", 0) for h in live), default=0)


def live_statuses(heartbeats: Recorder) -> list[str]:
    """Statuses published while we listened (not a retained copy delivered on subscribing)."""
    return [orjson.loads(m.payload)["status"] for m in heartbeats.messages if not m.retain]


def test_a_long_stall_pauses_the_connection_cleanly_instead_of_letting_the_will_fire(
    broker: LocalBroker, endpoint: MqttEndpoint, contract_validator: ContractValidator, tmp_path: Path
) -> None:
    """Spool full for longer than keepalive / 4: the network thread must not wait (no PINGREQ or PUBACK
    would leave and the broker would publish the Will while the agent is alive). The agent announces
    DEGRADED, disconnects cleanly, and reconnects once there is room; the broker redelivers the rest.
    The waits for room in the full ingress queue are in the heartbeat and the Prometheus metrics."""
    landing = tmp_path / "landing"
    landing.write_text("unreachable")
    settings = make_settings(
        tmp_path,
        broker.port,
        mqtt={"keepalive_s": 5},  # a stall is 1.25 s
        landing={"url": str(landing)},
        metrics={"port": free_port()},
        spool={"max_bytes": 200 * KiB, "segment_max_bytes": 50 * KiB},
        # The broker may have 1,000 messages in flight with us (receive maximum), while ~300 of these
        # 3.5 kB batches fill each queue by bytes: the ingress fills for certain and on_message waits.
        pipeline={"queue_max_bytes": 1024 * KiB, "group_commit_max": 16},
    )
    line = WeldLine(LineConfig(seed=57, start_ms=START_MS, seq_start=0))
    with Recorder(endpoint, [settings.heartbeat_topic]) as heartbeats, running(EdgeAgent(settings)) as agent:
        report = publish_line(line, endpoint, max_messages=1500, speed=0)  # the broker takes all of it
        wait_until(agent.session.paused.is_set, 60, "the session to pause")
        assert agent.stats.events["capture_pauses"] >= 1 and agent.stats.events["ingress_stalls"] >= 1
        wait_until(lambda: not agent.session.connected.is_set(), 10, "the clean disconnect")
        wait_until(lambda: "DEGRADED" in live_statuses(heartbeats), 10, "the DEGRADED announcement")
        # the back-pressure that led to the pause is exported: in the heartbeat (the DEGRADED announcement
        # after the stall has it) and in Prometheus
        wait_until(lambda: ingress_full_waits(heartbeats) > 0, 10, "a heartbeat with the ingress waits")
        announced = ingress_full_waits(heartbeats)
        scraped = scrape(settings.metrics.port)
        assert scraped["ingress"] >= announced > 0 and "capture" in scraped
        assert all(contract_validator.check(m.topic, m.payload).ok for m in heartbeats.messages)
        landing.unlink()
        wait_until(lambda: agent.stats.totals()["uploaded"] == 1500, 120, "everything, once there is room")
        assert not agent.session.paused.is_set() and agent.session.connected.is_set()
        statuses_while_running = live_statuses(heartbeats)
    # the Will (OFFLINE) never fired while the agent was alive: the pause was a clean disconnect
    assert "OFFLINE" not in statuses_while_running
    tables = read_tables(local_landing_files(landing))
    assert cell_seq_counts(rows_of(tables, "capture")) == sent_keys(report)


def quarantined_at_least(agent: EdgeAgent, count: int) -> bool:
    return agent.stats.totals()["quarantined"] >= count


def test_quarantine_spool_full_drops_the_oldest_and_counts_them(
    broker: LocalBroker, endpoint: MqttEndpoint, tmp_path: Path
) -> None:
    landing = tmp_path / "landing"
    landing.write_text("unreachable")
    settings = make_settings(
        tmp_path,
        broker.port,
        landing={"url": str(landing)},
        spool={"quarantine_max_bytes": 64 * KiB, "segment_max_bytes": 16 * KiB, "seal_max_age_s": 0.1},
    )
    bad = [
        (
            f"acme/plant-1/body-shop/line-1/cell-{i % 3 + 1:02d}/weld/telemetry",
            b"not json " * 100 + str(i).encode(),
        )
        for i in range(600)
    ]
    with running(EdgeAgent(settings)) as agent:
        client = new_client(endpoint, f"bad-{uuid.uuid4().hex[:6]}")
        acked = threading.Semaphore(0)
        client.on_publish = lambda *args: acked.release()
        connect_and_wait(client, endpoint)
        for index, (topic, payload) in enumerate(bad):
            assert client.publish(topic, payload, qos=1).rc == mqtt.MQTT_ERR_SUCCESS
            if index % 100 == 99:  # in waves, so that sealed files exist to be dropped
                wait_until(partial(quarantined_at_least, agent, index + 1), 30, "quarantine")
        assert all(acked.acquire(timeout=30) for _ in bad)
        client.disconnect()
        client.loop_stop()
        good = publish_line(
            WeldLine(LineConfig(seed=55, start_ms=START_MS, seq_start=0)), endpoint, max_messages=200, speed=0
        )
        wait_until(lambda: agent.stats.totals()["captured"] == 200, 30, "good data still captured")
        dropped = agent.stats.dropped["quarantine_spool_full"]
        assert dropped > 0
        landing.unlink()
        wait_until(
            lambda: agent.stats.totals()["uploaded"] + agent.stats.dropped["quarantine_spool_full"] == 800,
            60,
            "every message uploaded or counted as dropped",
        )
    tables = read_tables(local_landing_files(landing))
    landed_bad = rows_of(tables, "quarantine")
    assert len(landed_bad) + agent.stats.dropped["quarantine_spool_full"] == len(bad)
    assert {(r["topic"], r["payload"]) for r in landed_bad} <= set(bad)
    assert cell_seq_counts(rows_of(tables, "capture")) == sent_keys(good)


class SlowCounter:
    """A stand-in for the scoring processor: counts what it sees, can be held up."""

    kind: ProcessorKind = "score"

    def __init__(self) -> None:
        self.release = threading.Event()
        self.seen: list[Message] = []

    def process(self, messages: list[Message]) -> None:
        self.release.wait(30)
        self.seen.extend(messages)


def test_processor_slot_sees_captured_messages_and_never_slows_capture(
    broker: LocalBroker, endpoint: MqttEndpoint, tmp_path: Path
) -> None:
    settings = make_settings(tmp_path, broker.port, pipeline={"score_workers": 1, "downstream_capacity": 100})
    scorer = SlowCounter()
    with running(EdgeAgent(settings, processors=[scorer])) as agent:
        report = publish_line(
            WeldLine(LineConfig(seed=57, start_ms=START_MS, seq_start=0)),
            endpoint,
            max_messages=1000,
            speed=0,
        )
        wait_until(lambda: agent.stats.totals()["captured"] == 1000, 30, "capture, while the scorer is stuck")
        refused = agent.stats.dropped["score_queue_full"]
        assert refused > 0
        scorer.release.set()
        wait_until(lambda: len(scorer.seen) + refused == 1000, 30, "the scorer catching up")
    assert all(
        m.verdict is not None and m.verdict.channel == "weldTelemetry" and m.seq > 0 for m in scorer.seen
    )
    assert len({(m.topic, m.payload) for m in scorer.seen}) == len(scorer.seen)
    tables = read_tables(local_landing_files(Path(settings.landing.url)))
    assert cell_seq_counts(rows_of(tables, "capture")) == sent_keys(report)


def test_the_pause_ends_only_when_the_ingress_has_room_by_count_and_by_bytes(tmp_path: Path) -> None:
    """Large payloads fill the ingress by bytes long before by count: resuming then would only stall
    again at once (a DEGRADED heartbeat and a reconnect each time)."""
    settings = make_settings(tmp_path, 1883, pipeline={"queue_max_bytes": 1024 * KiB})
    agent = EdgeAgent(settings)  # not started: only its queues are used
    topic = "acme/plant-1/body-shop/line-1/cell-01/weld/telemetry"
    assert agent.parts.state.pipeline_has_room()
    big = [Message(topic, b"x" * (100 * KiB), 1, False, False, i, 0, 0.0) for i in range(6)]
    for message in big:
        assert agent.parts.ingress.put(message, timeout_s=0)
    assert len(agent.parts.ingress) <= agent.parts.ingress.capacity // 2  # half empty by count...
    assert not agent.parts.state.pipeline_has_room()  # ...but over half full by bytes
    agent.parts.ingress.get_batch(2, timeout_s=0)
    assert agent.parts.state.pipeline_has_room()
