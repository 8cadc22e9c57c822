"""Derive invalid payloads from a valid example by walking its schema.

Each mutation breaks one rule at one place and names the JSON path the validator must report.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from edge_agent.contract import json_path

Path = tuple[str | int, ...]


@dataclass(frozen=True)
class Mutation:
    kind: str  # missing_required | wrong_type | out_of_range | extra_field
    path: str
    payload: Any

    def __str__(self) -> str:
        return f"{self.kind}@{self.path}"


def _merged(schema: dict[str, Any]) -> dict[str, Any]:
    """Fold `allOf` parts into one view of the keywords that constrain a value."""
    merged = {k: v for k, v in schema.items() if k != "allOf"}
    for part in schema.get("allOf", []):
        for key, value in _merged(part).items():
            if key == "items" and "items" in merged:
                merged["items"] = {**value, **merged["items"]}
            else:
                merged.setdefault(key, value)
    return merged


def replaced(doc: Any, path: Path, value: Any) -> Any:
    """A deep copy of `doc` with the value at `path` replaced (`value` itself for the empty path)."""
    if not path:
        return value
    doc = copy.deepcopy(doc)
    node = doc
    for token in path[:-1]:
        node = node[token]
    node[path[-1]] = value
    return doc


def _delete(doc: Any, path: Path) -> Any:
    doc = copy.deepcopy(doc)
    node = doc
    for token in path[:-1]:
        node = node[token]
    del node[path[-1]]
    return doc


def _wrong_value(schema: dict[str, Any]) -> Any:
    declared = schema.get("type")
    types = set(declared if isinstance(declared, list) else [declared] if declared else [])
    if "enum" in schema and not types:
        types = {type(schema["enum"][0]).__name__}
    for candidate, names in (
        ("not-a-number", {"number", "integer", "int", "float"}),
        (12345, {"string", "str"}),
    ):
        if types & names and not (
            types & ({"string", "str"} if isinstance(candidate, str) else {"number", "integer"})
        ):
            return candidate
    if types & {"boolean", "bool"}:
        return "yes"
    if types & {"object", "array"}:
        return "a string"
    return None


def _out_of_range(schema: dict[str, Any]) -> Any:
    if "enum" in schema and all(isinstance(v, str) for v in schema["enum"]):
        return "NOT_IN_ENUM"
    if "minimum" in schema:
        return schema["minimum"] - 1
    if "exclusiveMinimum" in schema:
        return schema["exclusiveMinimum"]
    if "maximum" in schema:
        return schema["maximum"] + 1
    return None


def mutations(schema: dict[str, Any], example: Any, path: Path = ()) -> Iterator[Mutation]:
    """Every mutation of `example` that breaks `schema` exactly at one value."""
    schema = _merged(schema)
    if path:
        wrong = _wrong_value(schema)
        if wrong is not None:
            yield Mutation("wrong_type", json_path(path), replaced(example, path, wrong))
        bad = _out_of_range(schema)
        if bad is not None:
            yield Mutation("out_of_range", json_path(path), replaced(example, path, bad))
    value = _at(example, path)
    if isinstance(value, dict):
        for name in schema.get("required", []):
            if name in value:
                yield Mutation("missing_required", json_path((*path, name)), _delete(example, (*path, name)))
        if schema.get("additionalProperties") is False:
            yield Mutation(
                "extra_field", json_path((*path, "Not-Allowed")), replaced(example, (*path, "Not-Allowed"), 1)
            )
        for name, sub in schema.get("properties", {}).items():
            if name in value:
                yield from mutations(sub, example, (*path, name))
        extra_schema = schema.get("additionalProperties")
        if isinstance(extra_schema, dict):
            for name in value:
                if name not in schema.get("properties", {}):
                    yield from mutations(extra_schema, example, (*path, name))
    elif isinstance(value, list) and isinstance(schema.get("items"), dict) and value:
        yield from mutations(schema["items"], example, (*path, 0))


def _at(doc: Any, path: Path) -> Any:
    for token in path:
        doc = doc[token]
    return doc
