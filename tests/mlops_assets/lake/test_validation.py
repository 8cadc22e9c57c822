"""The lake's columnar checks, derived from the contract, agree with the edge's per-message validator."""

from __future__ import annotations

import copy
import io
import random
from typing import Any

import orjson
import polars as pl
import pytest

from edge_agent.contract import Contract, ContractValidator
from mlops_assets.lake.validation import ColumnarSchemaError, ColumnarValidator, plan_payload
from tests.edge_agent.contract.mutations import mutations

TOPIC = "acme/plant-1/body-shop/line-1/cell-01/weld/telemetry"


def _example(contract: Contract) -> dict[str, Any]:
    return copy.deepcopy(contract.channel("weldTelemetry").messages["weldTelemetry"].examples[0].payload)


def _edited(payload: dict[str, Any], edit: Any) -> bytes:
    doc = copy.deepcopy(payload)
    edit(doc)
    return orjson.dumps(doc)


def _hand_made_bad_payloads(contract: Contract) -> list[bytes]:
    base = _example(contract)
    return [
        b"", b"null", b"[]", b"3", b'"text"', b"\xff\xfe", b"{bad", b'{"seq": 1', b'{"seq":1,"seq":2}',
        b"\xef\xbb\xbf{}", b'{"seq": NaN}', b" " * 10,
        _edited(base, lambda d: d["signals"].update(current_a=[1.0, None, 2.0, 3.0])),
        _edited(base, lambda d: d["signals"].update(Bad_Name=[1.0, 2.0, 3.0, 4.0])),
        _edited(base, lambda d: d["signals"].update(current_a=[1.0, 2.0])),
        _edited(base, lambda d: d["signals"].update(current_a={"x": 1})),
        _edited(base, lambda d: d["signals"].update(current_a=[1.0, "2", 3.0, 4.0])),
        _edited(base, lambda d: d["signals"].update(current_a=[1e9, 2.0, 3.0, 4.0])),
        _edited(base, lambda d: d.update(seq=1.5)),
        _edited(base, lambda d: d.update(seq=True)),
        _edited(base, lambda d: d.update(seq="1024")),
        _edited(base, lambda d: d.update(weld_id=None)),
        _edited(base, lambda d: d.update(weld_id=42)),
        _edited(base, lambda d: d.update(recipe=["x"])),
        _edited(base, lambda d: d.update(signals={})),
        _edited(base, lambda d: d.update(signals=[1, 2])),
        _edited(base, lambda d: d.update(signals={f"s{i}": [1.0] * 4 for i in range(33)})),
        _edited(base, lambda d: d.update(n_samples=5)),
        _edited(base, lambda d: d.update(quality="good")),
        _edited(base, lambda d: d.update(timestamp_ms=12)),
        b'{\n  "seq": 1024,\n  "timestamp_ms": 1763740800000\n}',
    ]  # fmt: skip


def test_every_mutation_and_bad_payload_gets_the_edge_verdict(
    contract: Contract, contract_validator: ContractValidator
) -> None:
    message = contract.channel("weldTelemetry").messages["weldTelemetry"]
    payloads: list[bytes] = []
    expected_paths: list[str | None] = []
    for example in message.examples:
        payloads.append(orjson.dumps(example.payload))
        expected_paths.append(None)
        for mutation in mutations(dict(message.payload_schema), example.payload):
            payloads.append(orjson.dumps(mutation.payload))
            expected_paths.append(mutation.path)
    mutated = len(payloads) - len(message.examples)
    extra = _hand_made_bad_payloads(contract)
    payloads += extra
    expected_paths += [""] * len(extra)
    random.Random(4).shuffle(indexes := list(range(len(payloads))))
    shuffled = [payloads[i] for i in indexes]  # verdicts must not depend on neighbours

    checked, _ = ColumnarValidator(contract, "weldTelemetry").validate(pl.Series(shuffled, dtype=pl.Binary))

    assert checked.height == len(payloads) and mutated > 20
    for row, index in zip(
        checked.select("error_kind", "error_path", "error_reason").iter_rows(), indexes, strict=True
    ):
        edge = contract_validator.check(TOPIC, payloads[index])
        assert (row[0] is None) == edge.ok, (payloads[index], row, edge.error)
        if edge.error is not None:
            assert row[0] == edge.error.kind.value and row[2], (payloads[index], row, edge.error)
        if expected_paths[index]:  # a mutation names the one value it broke
            assert row[1] == expected_paths[index], (payloads[index], row)


def test_reasons_name_the_value_and_where_it_is(contract: Contract) -> None:
    base = _example(contract)
    bad = _edited(base, lambda d: d["signals"]["current_a"].__setitem__(2, 20000.0))
    checked, _ = ColumnarValidator(contract, "weldTelemetry").validate(pl.Series([bad], dtype=pl.Binary))
    assert checked.select("error_kind", "error_path", "error_reason").row(0) == (
        "schema", "$.signals.current_a[2]", "must be <= 10000, got 20000.0",
    )  # fmt: skip


def test_new_snake_case_signals_are_decoded_not_refused(contract: Contract) -> None:
    replay = contract.channel("weldTelemetry").messages["weldTelemetry"].examples[1].payload
    checked, names = ColumnarValidator(contract, "weldTelemetry").validate(
        pl.Series([orjson.dumps(replay)], dtype=pl.Binary)
    )
    assert checked["error_kind"][0] is None
    assert {"electrode_position_mm", "process_phase"} <= set(names["signals"])
    assert checked["signals"].struct.field("process_phase").to_list() == [[1.0, 1.0]]


def test_a_rule_the_columns_cannot_check_stops_planning() -> None:
    schema = {"type": "object", "properties": {"x": {"type": "string", "format": "date-time"}}}
    with pytest.raises(ColumnarSchemaError, match="format"):
        plan_payload(schema, channel="c", message="m")
    unbounded = {"type": "object", "properties": {"n": {"type": "integer"}}}
    with pytest.raises(ColumnarSchemaError, match="2\\*\\*53"):
        plan_payload(unbounded, channel="c", message="m")


def test_polars_json_behaviour_the_decoder_relies_on() -> None:
    """Pins what polars 2.1 does, measured: if an upgrade changes it, this fails first."""
    values = ["3", '"3"', "2.5", "true", '{"a": 1}', "[1, 2]", "null"]
    lines = "\n".join(f'{{"v": {v}}}' for v in values).encode()

    def decoded(dtype: pl.DataType) -> list[Any]:
        return pl.read_ndjson(io.BytesIO(lines), schema={"v": dtype}, ignore_errors=True)["v"].to_list()

    assert decoded(pl.Float64()) == [3.0, None, 2.5, None, None, None, None]
    assert decoded(pl.Binary()) == [None, b"3", None, None, None, None, None]
    assert decoded(pl.List(pl.Float64())) == [None, None, None, None, None, [1.0, 2.0], None]
    # json_decode coerces instead (why the lake does not use it to validate) ...
    coerced = pl.Series(['{"v": 2.5}']).str.json_decode(pl.Struct({"v": pl.Int64()}))
    assert coerced.struct.field("v").to_list() == [2]
    # ... and one wrong type fails the whole batch.
    with pytest.raises(pl.exceptions.ComputeError):
        pl.Series(['{"v": 1}', '{"v": "x"}']).str.json_decode(pl.Struct({"v": pl.Int64()}))
    # A syntax error fails read_ndjson; json_path_match is null exactly there.
    assert pl.Series(['{"a": 1}', '{"a": 1,}', "nope"]).str.json_path_match("$").to_list() == [
        '{"a":1}',
        None,
        None,
    ]
    with pytest.raises(pl.exceptions.ComputeError):
        pl.read_ndjson(io.BytesIO(b'{"a": 1,}'), schema={"a": pl.Float64()}, ignore_errors=True)
