"""Whole messages as received: bytes that are not JSON, oversized payloads, random garbage."""

from __future__ import annotations

import random

import orjson
import pytest

from edge_agent.contract import ContractValidator, ErrorKind, PayloadValidator, load_contract

TOPIC = "acme/plant-1/body-shop/line-1/cell-01/weld/telemetry"
EXAMPLE = load_contract().channel("weldTelemetry").messages["weldTelemetry"].examples[0].payload


def test_valid_message_yields_channel_parameters_and_data(contract_validator: ContractValidator) -> None:
    verdict = contract_validator.check(TOPIC, orjson.dumps(EXAMPLE))
    assert verdict.ok
    assert verdict.channel == "weldTelemetry"
    assert verdict.message == "weldTelemetry"
    assert verdict.parameters["cell"] == "cell-01"
    assert verdict.data == EXAMPLE


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"", "not JSON"),
        (b"{", "not JSON"),
        (b"\xff\xfe", "not JSON"),
        (b"NaN", "not JSON"),
        (b'{"a":1}x', "not JSON"),
    ],
)
def test_undecodable_payload(contract_validator: ContractValidator, payload: bytes, reason: str) -> None:
    verdict = contract_validator.check(TOPIC, payload)
    assert verdict.error is not None
    assert verdict.error.kind == ErrorKind.NOT_JSON
    assert verdict.error.path == "$"
    assert reason in verdict.error.reason


def test_json_that_is_not_an_object(contract_validator: ContractValidator) -> None:
    verdict = contract_validator.check(TOPIC, b"[1, 2, 3]")
    assert verdict.error is not None and verdict.error.kind == ErrorKind.SCHEMA
    assert verdict.error.path == "$"
    assert "object" in verdict.error.reason


def test_oversized_payload_is_refused_before_parsing(contract) -> None:
    small = ContractValidator(contract, max_payload_bytes=256)
    verdict = small.check(TOPIC, b"{" + b" " * 300 + b"}")
    assert verdict.error is not None and verdict.error.kind == ErrorKind.TOO_LARGE
    assert "300" not in verdict.error.reason or "302" in verdict.error.reason


def test_signal_arrays_must_match_n_samples(contract_validator: ContractValidator) -> None:
    payload = orjson.loads(orjson.dumps(EXAMPLE))
    payload["signals"]["gas_flow_l_min"].append(15.0)
    verdict = contract_validator.check(TOPIC, orjson.dumps(payload))
    assert verdict.error is not None
    assert verdict.error.path == "$.signals.gas_flow_l_min"
    assert "5 values but n_samples is 4" in verdict.error.reason


def test_an_integral_float_n_samples_still_fixes_the_signal_lengths(
    contract_validator: ContractValidator,
) -> None:
    payload = orjson.loads(orjson.dumps(EXAMPLE))
    payload["n_samples"] = 4.0  # a JSON Schema integer
    assert contract_validator.check(TOPIC, orjson.dumps(payload)).ok
    payload["signals"] = {"current_a": [1.0]}
    verdict = contract_validator.check(TOPIC, orjson.dumps(payload))
    assert verdict.error is not None and verdict.error.kind == ErrorKind.SCHEMA
    assert verdict.error.path == "$.signals.current_a"
    assert verdict.error.reason == "has 1 values but n_samples is 4"


def test_a_boolean_is_no_length_for_same_length() -> None:
    schema = {"type": "object", "properties": {"n": {}, "arrays": {"x-uns-same-length": "n"}}}
    validator = PayloadValidator(schema, channel_id="c", message_name="m")
    assert validator.validate({"n": 2.0, "arrays": {"a": [1.0]}}) is not None
    assert validator.validate({"n": True, "arrays": {"a": [1.0, 2.0]}}) is None  # left to the schema
    assert validator.validate({"n": 1.5, "arrays": {"a": [1.0, 2.0]}}) is None


def test_a_list_mutated_in_place_is_checked_again(contract_validator: ContractValidator) -> None:
    payload = orjson.loads(orjson.dumps(EXAMPLE))
    payload["signals"] = {"current_a": payload["signals"]["current_a"]}
    assert contract_validator.check_data("weldTelemetry", payload) == ("weldTelemetry", None)
    payload["signals"]["current_a"][0] = 1e9
    message, error = contract_validator.check_data("weldTelemetry", payload)
    assert message is None and error is not None
    assert error.path == "$.signals.current_a[0]"
    assert error.reason == "must be <= 10000, got 1000000000.0"


def test_unknown_signal_names_are_accepted_but_must_be_snake_case(
    contract_validator: ContractValidator,
) -> None:
    payload = orjson.loads(orjson.dumps(EXAMPLE))
    payload["signals"]["torch_temperature_c"] = [80.0, 81.0, 82.0, 83.0]
    assert contract_validator.check(TOPIC, orjson.dumps(payload)).ok
    payload["signals"]["Torch-Temp"] = [80.0, 81.0, 82.0, 83.0]
    verdict = contract_validator.check(TOPIC, orjson.dumps(payload))
    assert verdict.error is not None and verdict.error.path == "$.signals['Torch-Temp']"


def test_random_bytes_never_raise(contract_validator: ContractValidator) -> None:
    rng = random.Random(7)
    topics = [TOPIC, "acme/plant-1/body-shop/line-1/_model/manifest", "no/such/topic", "acme//x"]
    kinds = set()
    for _ in range(2000):
        raw = bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 64)))
        verdict = contract_validator.check(rng.choice(topics), raw)
        assert not verdict.ok
        kinds.add(verdict.error.kind)
    assert {ErrorKind.NOT_JSON, ErrorKind.UNKNOWN_TOPIC} <= kinds
