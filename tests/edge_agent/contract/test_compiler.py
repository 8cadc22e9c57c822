"""The schema compiler agrees with the reference validator (jsonschema) on every verdict."""

from __future__ import annotations

import copy
import random
import threading
from typing import Any

import jsonschema
import pytest

from edge_agent.contract import ContractDocumentError, load_contract
from edge_agent.contract.compiler import compile_schema
from tests.edge_agent.contract.mutations import replaced

CONTRACT = load_contract()
MESSAGES = [
    (channel.id, message) for channel in CONTRACT.channels.values() for message in channel.messages.values()
]
ODD_VALUES: list[Any] = [
    None, True, False, 0, 1, -1, 1.0, 1.5, -1e308, 1e308, "", "x", "UPPER", "a" * 300, [], [1], [1.0, "2"],
    {}, {"k": 1}, 9007199254740993, 946684800000, 4102444800001, "GOOD", [True, 1.0],
]  # fmt: skip


def _paths(node: Any, prefix: tuple = ()) -> list[tuple]:
    out = [prefix]
    if isinstance(node, dict):
        for key, value in node.items():
            out += _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            out += _paths(value, (*prefix, index))
    return out


@pytest.mark.parametrize(("channel_id", "message"), MESSAGES, ids=[m[0] for m in MESSAGES])
def test_random_corruptions_get_the_same_verdict_as_jsonschema(channel_id: str, message) -> None:
    ours = compile_schema(message.payload_schema)
    reference = jsonschema.Draft7Validator(message.payload_schema)
    rng = random.Random(channel_id)
    examples = [e.payload for e in message.examples]
    checked = rejected = 0
    for _ in range(1500):
        example = rng.choice(examples)
        doc = example
        for _ in range(rng.randint(1, 2)):
            path = rng.choice(_paths(doc))
            doc = replaced(doc, path, copy.deepcopy(rng.choice(ODD_VALUES)))
        failure = ours(doc)
        expected_valid = reference.is_valid(doc)
        assert (failure is None) == expected_valid, (doc, failure and failure.reason)
        if failure is not None:
            # The path we report points at a value the reference also finds wrong, or at a missing or extra key.
            errors = list(reference.iter_errors(doc))
            reported = failure.path()
            assert any(
                list(e.absolute_path) == reported or list(e.absolute_path) == reported[:-1] for e in errors
            ), (
                reported,
                [list(e.absolute_path) for e in errors],
            )
            rejected += 1
        checked += 1
    assert rejected > 300 and checked - rejected > 20


def test_numbers_follow_json_semantics() -> None:
    check = compile_schema({"type": "array", "items": {"type": "number", "minimum": 0, "maximum": 10}})
    assert check([0, 10, 5.5]) is None
    assert check([1, True]).path() == [1]  # a boolean is not a number
    assert check([1, 11]).path() == [1]
    assert check([-0.1, 1]).path() == [0]
    integers = compile_schema({"type": "array", "items": {"type": "integer", "exclusiveMinimum": 0}})
    assert integers([1, 2.0]) is None  # 2.0 is an integer in JSON Schema
    assert integers([1, 2.5]).reason.startswith("must be integer")
    assert integers([0]).reason == "must be > 0, got 0"
    assert compile_schema({"enum": [1]})(1.0) is None
    assert compile_schema({"enum": [1]})(True) is not None


@pytest.mark.parametrize(
    "values",
    [
        [300.0, 250.5, 410.25],  # the fast path: floats away from [0, 1]
        [-5.0, -300, -2.5],  # negative, ints and floats mixed
        [300.0, True, 400.0],  # a bool sorts first (it equals 1) and must still be refused
        [300.0, False, 1.0],
        [True, False],
        [0.5, 0.25],  # inside [0, 1]: the exact type scan
        ["a", "b"],  # strings sort among themselves
        [[1.0], [2.0]],
        [None, None],
        [{"a": 1}, {"b": 2}],
        [5.0, "5", 6.0],
        [2.0],
        [1e308, -1e308],
        [5000.0, 20000.0],  # out of range on the high side
        [-600.0, 20.0],
    ],
)
def test_whole_list_number_checks_agree_with_jsonschema_on_awkward_lists(values: list[Any]) -> None:
    schema = {"type": "array", "items": {"type": "number", "minimum": -500, "maximum": 10000}}
    ours = compile_schema(schema)(values)
    theirs = sorted(jsonschema.Draft202012Validator(schema).iter_errors(values), key=lambda e: e.path)
    assert (ours is None) == (not theirs), (values, ours, theirs)
    if theirs:
        assert ours is not None and ours.path() == list(theirs[0].absolute_path)


def test_a_list_mutated_between_two_checks_is_measured_again() -> None:
    check = compile_schema({"type": "array", "items": {"type": "number", "minimum": 0, "maximum": 10}})
    values = [1.0, 2.0, 3.0]
    assert check(values) is None
    values[0] = 1e9
    assert check(values).path() == [0]
    values[0] = "1"
    assert check(values).reason == "must be number, got string"
    values[0] = 1.0
    assert check(values) is None


def test_threads_checking_their_own_lists_see_their_own_mutations() -> None:
    check = compile_schema({"type": "array", "items": {"type": "number", "minimum": 0, "maximum": 10}})
    wrong: list[str] = []

    def run(worker: int) -> None:
        values = [float(worker)] * 8
        for _ in range(3000):
            if check(values) is not None:
                wrong.append(f"worker {worker}: valid list refused")
            values[worker] = 1e9
            failure = check(values)
            if failure is None or failure.path() != [worker]:
                wrong.append(f"worker {worker}: 1e9 at [{worker}] not reported")
            values[worker] = float(worker)

    threads = [threading.Thread(target=run, args=(worker,)) for worker in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert wrong == []


@pytest.mark.parametrize(
    "schema",
    [
        {"type": "string", "format": "date-time"},
        {"oneOf": [{"type": "string"}]},
        {"type": "decimal"},
        {"items": [{}]},
    ],
    ids=["format", "oneOf", "unknown-type", "tuple-items"],
)
def test_unsupported_keywords_are_refused_at_compile_time(schema) -> None:
    with pytest.raises(ContractDocumentError):
        compile_schema(schema)


def test_annotations_and_extensions_are_ignored() -> None:
    check = compile_schema({"type": "string", "description": "d", "examples": ["a"], "x-anything": 1})
    assert check("a") is None and check(1) is not None
