"""The simulator against a real Mosquitto: every message arrives, validates, and shows its defects."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import orjson
import pytest

from edge_agent.contract import ContractValidator
from edge_agent.domain import flash_butt_records, iter_flash_butt
from edge_agent.simulator import AnomalyKind, LineConfig, WeldLine, publish_line
from edge_agent.simulator.cli import main as simulator_main
from edge_agent.uns.endpoint import MqttEndpoint
from edge_agent.uns.local_broker import LocalBroker
from tests.edge_agent.clock import START_MS
from tests.helpers import Recorder

FILTER = "acme/+/+/+/+/weld/telemetry"


def _by_cell_seq(recorder: Recorder, validator: ContractValidator) -> dict[tuple[str, int], dict]:
    received: dict[tuple[str, int], dict] = {}
    for message in recorder.messages:
        verdict = validator.check(message.topic, message.payload)
        assert verdict.ok, str(verdict.error)
        key = (verdict.parameters["cell"], verdict.data["seq"])
        assert key not in received, f"duplicate {key}"
        received[key] = verdict.data
    return received


@pytest.mark.parametrize("protocol", ["5", "3.1.1"])
def test_every_published_message_arrives_and_validates(
    broker: LocalBroker, contract_validator: ContractValidator, protocol: str
) -> None:
    endpoint = MqttEndpoint(port=broker.port, protocol=protocol)
    line = WeldLine(LineConfig(seed=5, start_ms=START_MS, seq_start=0, anomaly_rate=0.2))
    with Recorder(endpoint, [FILTER]) as recorder:
        report = publish_line(line, endpoint, max_messages=1500, speed=0)
        recorder.wait_for(report.messages, timeout_s=60)
    received = _by_cell_seq(recorder, contract_validator)
    assert report.acknowledged == report.messages == len(received) == 1500
    assert {(s.cell, s.seq) for s in report.sent} == set(received)
    assert sum(report.per_topic.values()) == 1500 and len(report.per_topic) == 3


def test_injected_defects_and_drift_are_visible_in_received_data(
    broker: LocalBroker, endpoint: MqttEndpoint, contract_validator: ContractValidator
) -> None:
    line = WeldLine(LineConfig(cells=("cell-01", "cell-02"), seed=9, start_ms=START_MS, seq_start=0))
    line.inject("cell-01", AnomalyKind.WIRE_STICK)
    line.inject("cell-02", AnomalyKind.GAS_LOSS)
    with Recorder(endpoint, [FILTER]) as recorder:
        first = publish_line(line, endpoint, max_messages=400, speed=0)
        line.set_drift(True)  # switched while the line runs: from each cell's next weld on
        second = publish_line(line, endpoint, max_messages=400, speed=0)
        recorder.wait_for(800, timeout_s=60)
    received = _by_cell_seq(recorder, contract_validator)
    truth = {(s.cell, s.seq): s for s in first.sent + second.sent}
    assert set(truth) == set(received)

    def samples(predicate, signal: str) -> np.ndarray:
        return np.concatenate([received[k]["signals"][signal] for k, s in truth.items() if predicate(s)])

    stick = samples(lambda s: s.label == "wire_stick", "voltage_v")
    assert stick.min() < 3.0
    gas = samples(lambda s: s.label == "gas_loss", "gas_flow_l_min")
    assert gas.min() < 3.0
    assert samples(lambda s: s.label is None, "gas_flow_l_min").min() > 13.0
    normal_current = np.median(samples(lambda s: s.label is None and not s.drifted, "current_a"))
    drifted_current = np.median(samples(lambda s: s.label is None and s.drifted, "current_a"))
    assert drifted_current > 1.12 * normal_current
    recipes = {received[k].get("recipe") for k, s in truth.items() if s.drifted}
    assert recipes == {"steel-s355-1.2mm"}


def test_flash_butt_replay_runs_through_the_broker(
    broker: LocalBroker, endpoint: MqttEndpoint, contract_validator: ContractValidator, flash_butt_dir: Path
) -> None:
    records = [r for r in flash_butt_records(flash_butt_dir) if not r.good][:2]
    line = WeldLine(
        LineConfig(cells=(), batch_size=10, start_ms=START_MS, seq_start=0),
        replay={"cell-fb": iter_flash_butt(records, START_MS)},
    )
    with Recorder(endpoint, [FILTER]) as recorder:
        report = publish_line(line, endpoint, stop=threading.Event(), speed=0)
        recorder.wait_for(report.messages, timeout_s=30)
    received = _by_cell_seq(recorder, contract_validator)
    voltage = np.concatenate(
        [received[("cell-fb", seq)]["signals"]["voltage_v"] for seq in range(report.messages)]
    )
    raw = np.concatenate([np.loadtxt(r.path, delimiter="|")[:, 1] for r in records])
    np.testing.assert_allclose(voltage, raw)


def test_cli_publishes_a_seeded_line(broker: LocalBroker, endpoint: MqttEndpoint, capsys) -> None:
    with Recorder(endpoint, [FILTER]) as recorder:
        code = simulator_main(
            [
                "--port",
                str(broker.port),
                "--cells",
                "2",
                "--speed",
                "0",
                "--max-messages",
                "120",
                "--seq-start",
                "0",
            ]
        )
        recorder.wait_for(120, timeout_s=30)
    assert code == 0
    out = capsys.readouterr().out
    assert "120 messages" in out and "acme/plant-1/body-shop/line-1/cell-02/weld/telemetry" in out


def test_embedded_broker_serves_mqtt_311(tmp_path: Path, contract_validator: ContractValidator) -> None:
    with LocalBroker(tmp_path, kind="amqtt") as embedded:
        assert embedded.protocols == ("3.1.1",)
        endpoint = MqttEndpoint(port=embedded.port, protocol="3.1.1")
        line = WeldLine(LineConfig(seed=1, start_ms=START_MS, seq_start=0))
        with Recorder(endpoint, [FILTER]) as recorder:
            report = publish_line(line, endpoint, max_messages=200, speed=0)
            recorder.wait_for(200, timeout_s=30)
    assert len(_by_cell_seq(recorder, contract_validator)) == report.messages == 200
    assert orjson.loads(recorder.messages[0].payload)["n_samples"] == 100
