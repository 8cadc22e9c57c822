"""`mlops replay`: a CSV export published on a real broker as contract-valid telemetry."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import orjson
import pytest

from edge_agent.contract import ContractValidator
from edge_agent.uns.endpoint import MqttEndpoint
from edge_agent.uns.local_broker import LocalBroker
from mlops_assets.cli import main
from tests.helpers import Recorder

TOPIC = "acme/plant-9/press-shop/line-7/press-02/weld/telemetry"


def test_csv_is_published_as_valid_telemetry_with_mapped_names(
    tmp_path: Path,
    broker: LocalBroker,
    contract_validator: ContractValidator,
    capsys: pytest.CaptureFixture[str],
) -> None:
    rows = 250
    path = tmp_path / "historian export.csv"
    lines = ["Time Stamp,Motor Current [A],2nd temp,Status,label"]
    for i in range(rows):
        current = "" if i == 10 else f"{100 + i * 0.5:.1f}"
        lines.append(f"2024-05-01 08:00:{i // 10:02d}.{i % 10}00,{current},{20 + (i % 7)},RUN,0")
    path.write_text("\n".join(lines) + "\n")
    endpoint = MqttEndpoint(port=broker.port)
    with Recorder(endpoint, ["acme/#"]) as recorder:
        code = main(
            [
                "replay",
                str(path),
                "--site",
                "plant-9",
                "--area",
                "press-shop",
                "--line",
                "line-7",
                "--cell",
                "press-02",
                "--port",
                str(broker.port),
                "--speed",
                "0",
                "--batch",
                "40",
                "--start-ms",
                "1763740800000",
            ]
        )
        assert code == 0
        messages = recorder.wait_for(7, timeout_s=30)  # ceil(250 / 40)
    printed = capsys.readouterr().out
    assert "'Motor Current [A]' -> motor_current_a" in printed and "'2nd temp' -> s_2nd_temp" in printed
    assert "sample interval 100 ms" in printed
    assert all(m.topic == TOPIC for m in messages)
    received: list[float] = []
    for message in messages:
        verdict = contract_validator.check(message.topic, message.payload)
        assert verdict.ok, verdict.error
        payload = orjson.loads(message.payload)
        assert set(payload["signals"]) == {"motor_current_a", "s_2nd_temp"}
        received += payload["signals"]["motor_current_a"]
    expected = 100 + np.arange(rows) * 0.5
    expected[10] = expected[9]  # a missing value carries the last one forward
    np.testing.assert_allclose(received, expected)


def test_unreadable_input_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "words.csv").write_text("a,b\nx,y\n")
    assert (
        main(
            [
                "replay",
                str(tmp_path / "words.csv"),
                "--site",
                "s",
                "--area",
                "a",
                "--line",
                "l",
                "--cell",
                "c",
            ]
        )
        == 2
    )
    assert "no numeric signal column" in capsys.readouterr().err
