"""Read a payload's JSON Schema (from the AsyncAPI contract) into a plan of columnar checks.

The lake validates whole columns, so it needs the schema in a shape a table has: top-level scalar
fields (integer, number, string, boolean) and objects whose values are arrays of numbers (`signals`:
one array per signal, named freely within `patternProperties`). That is the shape of batched
telemetry. Any keyword or shape the columnar checks could not enforce makes planning fail, so the
lake never silently skips a rule the contract states (the edge's compiler refuses the same way).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from edge_agent.contract.document import Contract

__all__ = [
    "SAME_LENGTH",
    "ArrayMapSpec",
    "Bounds",
    "ColumnarSchemaError",
    "NumberArraySpec",
    "PayloadPlan",
    "ScalarSpec",
    "plan_for_message",
    "plan_payload",
]

SAME_LENGTH = "x-uns-same-length"
ScalarType = Literal["integer", "number", "string", "boolean"]
_EXACT_INTEGER = 2**53  # integers travel through Float64 columns: only bounded ones are exact
_ANNOTATIONS = frozenset({"description", "title", "examples", "default", "$comment", "deprecated"})
_SCALAR_KEYS = frozenset(
    {"type", "enum", "const", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum",
     "minLength", "maxLength", "pattern"}
)  # fmt: skip
_ARRAY_KEYS = frozenset({"type", "items", "minItems", "maxItems"})
_MAP_KEYS = frozenset(
    {
        "type",
        "properties",
        "patternProperties",
        "additionalProperties",
        "minProperties",
        "maxProperties",
        SAME_LENGTH,
    }
)
_OBJECT_KEYS = frozenset({"type", "properties", "required", "additionalProperties"})


class ColumnarSchemaError(ValueError):
    """The schema uses something the columnar checks cannot enforce."""


@dataclass(frozen=True)
class Bounds:
    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: float | None = None
    exclusive_maximum: float | None = None

    @classmethod
    def of(cls, schema: Mapping[str, Any]) -> Bounds:
        return cls(
            schema.get("minimum"),
            schema.get("maximum"),
            schema.get("exclusiveMinimum"),
            schema.get("exclusiveMaximum"),
        )

    @property
    def empty(self) -> bool:
        return all(
            v is None for v in (self.minimum, self.maximum, self.exclusive_minimum, self.exclusive_maximum)
        )


@dataclass(frozen=True)
class ScalarSpec:
    json_type: ScalarType
    bounds: Bounds = Bounds()
    enum: tuple[Any, ...] | None = None
    min_length: int | None = None
    max_length: int | None = None
    pattern: str | None = None


@dataclass(frozen=True)
class NumberArraySpec:
    item_type: Literal["integer", "number"]
    item_bounds: Bounds = Bounds()
    min_items: int = 0
    max_items: int | None = None


@dataclass(frozen=True)
class ArrayMapSpec:
    """An object whose values are arrays of numbers, such as `signals`."""

    declared: Mapping[str, NumberArraySpec]
    patterns: tuple[tuple[str, NumberArraySpec], ...] = ()
    additional: NumberArraySpec | None = None
    """The spec of names neither declared nor matching a pattern; None when such names are refused."""
    min_properties: int = 0
    max_properties: int | None = None
    same_length_as: str | None = None

    def spec_for(self, name: str) -> NumberArraySpec | None:
        """What the values of `name` must satisfy: its declared schema and every matching pattern's
        (all apply, as in JSON Schema), else `additional`; None when the name is not allowed."""
        applicable = [spec for pattern, spec in self.patterns if re.search(pattern, name)]
        if name in self.declared:
            applicable.insert(0, self.declared[name])
        if not applicable:
            return self.additional
        merged = applicable[0]
        for spec in applicable[1:]:
            merged = _stricter(merged, spec)
        return merged


def _tighter(a: float | None, b: float | None, pick: Callable[[float, float], float]) -> float | None:
    return b if a is None else a if b is None else pick(a, b)


def _stricter(a: NumberArraySpec, b: NumberArraySpec) -> NumberArraySpec:
    bounds = Bounds(
        _tighter(a.item_bounds.minimum, b.item_bounds.minimum, max),
        _tighter(a.item_bounds.maximum, b.item_bounds.maximum, min),
        _tighter(a.item_bounds.exclusive_minimum, b.item_bounds.exclusive_minimum, max),
        _tighter(a.item_bounds.exclusive_maximum, b.item_bounds.exclusive_maximum, min),
    )
    max_items = _tighter(a.max_items, b.max_items, min)
    return NumberArraySpec(
        "integer" if "integer" in (a.item_type, b.item_type) else "number",
        bounds,
        max(a.min_items, b.min_items),
        None if max_items is None else int(max_items),
    )


@dataclass(frozen=True)
class PayloadPlan:
    channel: str
    message: str
    scalars: Mapping[str, ScalarSpec]
    maps: Mapping[str, ArrayMapSpec]
    required: frozenset[str]
    additional_allowed: bool = False
    field_order: tuple[str, ...] = field(default=())
    """Property names in document order: the order in which failures are reported."""


def _merge(schema: Mapping[str, Any], where: str) -> dict[str, Any]:
    """Fold `allOf` into one schema: every part must hold, so bounds take the stricter value."""
    merged = {k: v for k, v in schema.items() if k != "allOf" and k not in _ANNOTATIONS}
    for part in schema.get("allOf", []):
        for key, value in _merge(part, where).items():
            if key not in merged:
                merged[key] = value
            elif key == "items":
                merged["items"] = _merge({"allOf": [merged["items"], value]}, f"{where}.items")
            elif key in ("minimum", "exclusiveMinimum", "minItems", "minLength", "minProperties"):
                merged[key] = max(merged[key], value)
            elif key in ("maximum", "exclusiveMaximum", "maxItems", "maxLength", "maxProperties"):
                merged[key] = min(merged[key], value)
            elif merged[key] != value:
                raise ColumnarSchemaError(f"{where}: allOf parts disagree on {key!r}")
    return merged


def _refuse_unknown(schema: Mapping[str, Any], allowed: frozenset[str], where: str) -> None:
    unknown = {k for k in schema if not k.startswith("x-") or k == SAME_LENGTH} - allowed - _ANNOTATIONS
    if unknown:
        raise ColumnarSchemaError(f"{where}: keywords {sorted(unknown)} have no columnar check")


def _scalar(schema: dict[str, Any], where: str) -> ScalarSpec:
    _refuse_unknown(schema, _SCALAR_KEYS, where)
    json_type = schema.get("type")
    if json_type not in ("integer", "number", "string", "boolean"):
        raise ColumnarSchemaError(f"{where}: type {json_type!r} is not a scalar type")
    enum = tuple(schema["enum"]) if "enum" in schema else (schema["const"],) if "const" in schema else None
    bounds = Bounds.of(schema)
    if json_type == "integer":
        lows = [v for v in (bounds.minimum, bounds.exclusive_minimum) if v is not None]
        highs = [v for v in (bounds.maximum, bounds.exclusive_maximum) if v is not None]
        if not (lows and highs and max(lows) >= -_EXACT_INTEGER and min(highs) <= _EXACT_INTEGER):
            raise ColumnarSchemaError(f"{where}: integers need bounds within +-2**53 to be checked exactly")
    if "pattern" in schema:
        re.compile(schema["pattern"])
    return ScalarSpec(
        json_type=json_type,
        bounds=bounds,
        enum=enum,
        min_length=schema.get("minLength"),
        max_length=schema.get("maxLength"),
        pattern=schema.get("pattern"),
    )


def _number_array(schema: dict[str, Any], where: str) -> NumberArraySpec:
    _refuse_unknown(schema, _ARRAY_KEYS, where)
    if schema.get("type") != "array":
        raise ColumnarSchemaError(f"{where}: expected an array of numbers")
    items = _merge(schema.get("items") or {}, f"{where}.items")
    _refuse_unknown(
        items,
        frozenset({"type", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"}),
        f"{where}.items",
    )
    if items.get("type") not in ("number", "integer"):
        raise ColumnarSchemaError(f"{where}.items: only numbers are supported in arrays")
    return NumberArraySpec(
        items["type"], Bounds.of(items), int(schema.get("minItems", 0)), schema.get("maxItems")
    )


def _array_map(schema: dict[str, Any], where: str) -> ArrayMapSpec:
    _refuse_unknown(schema, _MAP_KEYS, where)
    declared = {
        n: _number_array(_merge(s, f"{where}.{n}"), f"{where}.{n}")
        for n, s in (schema.get("properties") or {}).items()
    }
    patterns = tuple(
        (p, _number_array(_merge(s, f"{where}[{p}]"), f"{where}[{p}]"))
        for p, s in (schema.get("patternProperties") or {}).items()
    )
    extra = schema.get("additionalProperties", True)
    if extra is True or extra is False:
        additional = None
        if extra is True:
            raise ColumnarSchemaError(f"{where}: values of undeclared names must have a schema")
    else:
        additional = _number_array(_merge(extra, f"{where}.*"), f"{where}.*")
    return ArrayMapSpec(
        declared=declared,
        patterns=patterns,
        additional=additional,
        min_properties=int(schema.get("minProperties", 0)),
        max_properties=schema.get("maxProperties"),
        same_length_as=schema.get(SAME_LENGTH),
    )


def plan_payload(schema: Mapping[str, Any], *, channel: str, message: str) -> PayloadPlan:
    """The columnar plan of one message's payload schema; raises ColumnarSchemaError if unsupported."""
    where = f"{channel}/{message}"
    top = _merge(schema, where)
    _refuse_unknown(top, _OBJECT_KEYS, where)
    if top.get("type") != "object":
        raise ColumnarSchemaError(f"{where}: the payload must be an object")
    scalars: dict[str, ScalarSpec] = {}
    maps: dict[str, ArrayMapSpec] = {}
    for name, sub in (top.get("properties") or {}).items():
        merged = _merge(sub, f"{where}.{name}")
        if merged.get("type") == "object":
            maps[name] = _array_map(merged, f"{where}.{name}")
        else:
            scalars[name] = _scalar(merged, f"{where}.{name}")
    for name, spec in maps.items():
        length_field = spec.same_length_as
        if length_field is not None and (
            length_field not in scalars or scalars[length_field].json_type != "integer"
        ):
            raise ColumnarSchemaError(f"{where}.{name}: {SAME_LENGTH} must name an integer sibling field")
    additional = top.get("additionalProperties", True)
    if additional not in (True, False):
        raise ColumnarSchemaError(f"{where}: additionalProperties must be true or false")
    return PayloadPlan(
        channel=channel,
        message=message,
        scalars=scalars,
        maps=maps,
        required=frozenset(top.get("required", ())),
        additional_allowed=additional is True,
        field_order=tuple(top.get("properties") or ()),
    )


def plan_for_message(contract: Contract, channel_id: str, message_name: str | None = None) -> PayloadPlan:
    """The plan of a channel's message in a loaded contract (its only message when not named)."""
    channel = contract.channel(channel_id)
    name = message_name or next(iter(channel.messages))
    message = channel.messages[name]
    return plan_payload(message.payload_schema, channel=channel_id, message=name)
