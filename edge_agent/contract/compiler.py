"""Compile a JSON Schema (the draft-07 subset the contract uses) into a fast Python validator.

Why not a general validator: telemetry carries hundreds of numbers per message, and validators that
check array items one by one in Python spend almost all their time there. Here an array of numbers with
a range is checked with C-level builtins over the whole list (the set of element types, `min`, `max`),
and only on failure do we walk the list to name the first offending index. Everything else compiles to
small closures, built once per schema.

Semantics follow JSON Schema draft-07 for the keywords below; any other validation keyword makes
compilation fail, so a contract never relies on a rule that is silently skipped. Annotations
(`description`, `examples`, ...) and extensions (`x-...`) are ignored here.

A check returns None on success, or a `Failure` whose `tokens` hold the path from the failing value up
to the root (reversed: appending is cheap, and only failures pay for paths).
"""

from __future__ import annotations

import json
import operator
import re
from collections.abc import Callable, Mapping, Sized
from typing import Any, cast

from edge_agent.contract.errors import ContractDocumentError

__all__ = ["Check", "Failure", "compile_schema"]


class Failure:
    __slots__ = ("reason", "tokens")

    def __init__(self, reason: str, tokens: list[str | int] | None = None) -> None:
        self.reason = reason
        self.tokens: list[str | int] = tokens if tokens is not None else []

    def at(self, token: str | int) -> Failure:
        self.tokens.append(token)
        return self

    def path(self) -> list[str | int]:
        return self.tokens[::-1]


Check = Callable[[Any], Failure | None]

_ANNOTATIONS = frozenset(
    {
        "$schema",
        "$id",
        "$comment",
        "title",
        "description",
        "examples",
        "default",
        "readOnly",
        "writeOnly",
        "deprecated",
    }
)
_SUPPORTED = frozenset(
    {
        "type", "enum", "const", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum",
        "minLength", "maxLength", "pattern", "required", "properties", "patternProperties",
        "additionalProperties", "minProperties", "maxProperties", "items", "minItems", "maxItems", "allOf",
    }
)  # fmt: skip
_NUMERIC = frozenset({"number", "integer"})


def _is_type(value: Any, name: str) -> bool:
    kind = type(value)
    if name == "number":
        return kind is float or kind is int
    if name == "integer":
        return kind is int or (kind is float and value.is_integer())
    if name == "string":
        return kind is str
    if name == "object":
        return kind is dict
    if name == "array":
        return kind is list
    if name == "boolean":
        return kind is bool
    if name == "null":
        return value is None
    raise ContractDocumentError(f"unknown JSON Schema type {name!r}")


def _describe(value: Any) -> str:
    text = repr(value) if isinstance(value, float) else json.dumps(value, default=str)
    return text if len(text) <= 40 else text[:37] + "..."


def _json_type(value: Any) -> str:
    return {
        bool: "boolean",
        int: "integer",
        float: "number",
        str: "string",
        dict: "object",
        list: "array",
    }.get(type(value), "null")


def _canonical(value: Any) -> tuple[str, Any]:
    """A hashable key with JSON equality: 1 equals 1.0, but True is not 1 (as Python's == would have it)."""
    kind = type(value)
    if kind is int or kind is float:
        return ("number", value)
    if kind is dict or kind is list:
        return ("json", json.dumps(value, sort_keys=True, default=str))
    return (kind.__name__, value)


class _Compiler:
    def __init__(self) -> None:
        self._memo: dict[str, tuple[Check, ...]] = {}

    def checks(self, schema: Any) -> tuple[Check, ...]:
        """The conjunction of checks a schema stands for (allOf flattened, identical schemas shared)."""
        if schema is True or schema == {}:
            return ()
        if schema is False:
            return (lambda v: Failure("no value is allowed here"),)
        if not isinstance(schema, Mapping):
            raise ContractDocumentError(f"a schema must be an object or a boolean, got {schema!r}")
        key = json.dumps(schema, sort_keys=True, default=str)
        if key not in self._memo:
            self._memo[key] = self._build(schema)
        return self._memo[key]

    def _build(self, s: Mapping[str, Any]) -> tuple[Check, ...]:
        unknown = {k for k in s if k not in _SUPPORTED and k not in _ANNOTATIONS and not k.startswith("x-")}
        if unknown:
            raise ContractDocumentError(f"unsupported JSON Schema keywords {sorted(unknown)}")
        out: list[Check] = []
        if "type" in s:
            out.append(self._type(s["type"]))
        if "enum" in s or "const" in s:
            out.append(self._enum(s["enum"] if "enum" in s else [s["const"]]))
        out.extend(self._numeric(s))
        out.extend(self._string(s))
        if any(k in s for k in ("required", "properties", "patternProperties", "additionalProperties")):
            out.append(self._object(s))
        if "minProperties" in s or "maxProperties" in s:
            out.append(self._size(s.get("minProperties", 0), s.get("maxProperties"), dict, "properties"))
        if "minItems" in s or "maxItems" in s:
            out.append(self._size(s.get("minItems", 0), s.get("maxItems"), list, "items"))
        if "items" in s:
            out.append(self._items(s["items"]))
        for part in s.get("allOf", []):
            out.extend(self.checks(part))
        return tuple(dict.fromkeys(out))  # the same shared check twice adds nothing

    @staticmethod
    def _type(declared: str | list[str]) -> Check:
        names = [declared] if isinstance(declared, str) else list(declared)
        for name in names:
            _is_type(None, name)  # refuses unknown type names at compile time
        label = " or ".join(names)

        def check(v: Any) -> Failure | None:
            for name in names:
                if _is_type(v, name):
                    return None
            return Failure(f"must be {label}, got {_json_type(v)}")

        return check

    @staticmethod
    def _enum(values: list[Any]) -> Check:
        allowed = {_canonical(v) for v in values}
        shown = _describe(values)

        def check(v: Any) -> Failure | None:
            if _canonical(v) in allowed:
                return None
            return Failure(f"must be one of {shown}, got {_describe(v)}")

        return check

    @staticmethod
    def _bounds(s: Mapping[str, Any]) -> list[tuple[str, float, Callable[[Any, Any], bool]]]:
        """(label, bound, comparison) for each numeric bound; a value passes when comparison(value, bound)."""
        keywords = (
            ("minimum", ">=", operator.ge),
            ("exclusiveMinimum", ">", operator.gt),
            ("maximum", "<=", operator.le),
            ("exclusiveMaximum", "<", operator.lt),
        )
        return [(f"{sign} {s[key]}", s[key], compare) for key, sign, compare in keywords if key in s]

    def _numeric(self, s: Mapping[str, Any]) -> list[Check]:
        out: list[Check] = []
        for label, bound, compare in self._bounds(s):

            def check(
                v: Any,
                label: str = label,
                bound: float = bound,
                compare: Callable[[Any, Any], bool] = compare,
            ) -> Failure | None:
                if (type(v) is int or type(v) is float) and not compare(v, bound):
                    return Failure(f"must be {label}, got {_describe(v)}")
                return None

            out.append(check)
        return out

    @staticmethod
    def _string(s: Mapping[str, Any]) -> list[Check]:
        out: list[Check] = []
        lo, hi = s.get("minLength", 0), s.get("maxLength")
        if lo or hi is not None:

            def length(v: Any) -> Failure | None:
                if type(v) is str and (len(v) < lo or (hi is not None and len(v) > hi)):
                    return Failure(
                        f"must be {lo} to {hi if hi is not None else 'any'} characters long, got {len(v)}"
                    )
                return None

            out.append(length)
        if "pattern" in s:
            try:
                regex = re.compile(s["pattern"])
            except re.error as exc:
                raise ContractDocumentError(f"bad pattern {s['pattern']!r}: {exc}") from None

            def pattern(v: Any) -> Failure | None:
                if type(v) is str and regex.search(v) is None:
                    return Failure(f"must match {regex.pattern}, got {_describe(v)}")
                return None

            out.append(pattern)
        return out

    @staticmethod
    def _size(lo: int, hi: int | None, kind: type, noun: str) -> Check:
        def check(v: Any) -> Failure | None:
            if type(v) is not kind:
                return None
            size = len(cast(Sized, v))
            if size < lo or (hi is not None and size > hi):
                return Failure(f"must have {lo} to {hi if hi is not None else 'any'} {noun}, got {size}")
            return None

        return check

    def _object(self, s: Mapping[str, Any]) -> Check:
        required = list(s.get("required", []))
        props = {name: self.checks(sub) for name, sub in (s.get("properties") or {}).items()}
        try:
            patterns = [
                (re.compile(p), self.checks(sub)) for p, sub in (s.get("patternProperties") or {}).items()
            ]
        except re.error as exc:
            raise ContractDocumentError(f"bad patternProperties: {exc}") from None
        extra = s.get("additionalProperties", True)
        extra_checks = self.checks(extra) if isinstance(extra, Mapping) else ()
        forbid_extra = extra is False
        # Per key, the checks that apply: from properties and from every matching pattern.
        cache: dict[str, tuple[Check, ...] | None] = {}

        def checks_for(key: str) -> tuple[Check, ...] | None:
            found = cache.get(key)
            if found is not None or key in cache:
                return found
            applicable = list(props.get(key, ()))
            matched = key in props
            for regex, sub in patterns:
                if regex.search(key):
                    applicable.extend(sub)
                    matched = True
            result: tuple[Check, ...] | None = tuple(dict.fromkeys(applicable))
            if not matched:
                result = None if forbid_extra else extra_checks
            if len(cache) < 4096:
                cache[key] = result
            return result

        def check(v: Any) -> Failure | None:
            if type(v) is not dict:
                return None
            for name in required:
                if name not in v:
                    return Failure(f"required field {name!r} is missing", [name])
            for key, value in v.items():
                applicable = checks_for(key)
                if applicable is None:
                    return Failure(f"field {key!r} is not allowed here", [key])
                for sub in applicable:
                    failure = sub(value)
                    if failure is not None:
                        return failure.at(key)
            return None

        return check

    def _items(self, items: Any) -> Check:
        if isinstance(items, list):
            raise ContractDocumentError("tuple-form `items` is not supported")
        fast = self._number_array(items)
        if fast is not None:
            return fast
        subs = self.checks(items)

        def check(v: Any) -> Failure | None:
            if type(v) is not list:
                return None
            for index, element in enumerate(v):
                for sub in subs:
                    failure = sub(element)
                    if failure is not None:
                        return failure.at(index)
            return None

        return check

    def _number_array(self, items: Any) -> Check | None:
        """Whole-list check for `items: {type: number|integer, minimum..., maximum...}`."""
        if not isinstance(items, Mapping) or items.get("type") not in _NUMERIC:
            return None
        if set(items) - {"type", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"} - _ANNOTATIONS:
            return None
        allowed_types = _INT_ONLY if items["type"] == "integer" else _NUMBER_TYPES
        slow = self.checks(items)
        # A list passes when its smallest and largest values pass every bound (all the bounds are monotone).
        bounds = [(bound, compare) for _, bound, compare in self._bounds(items)]

        def first_failure(v: list[Any]) -> Failure | None:
            for index, element in enumerate(v):
                for sub in slow:
                    failure = sub(element)
                    if failure is not None:
                        return failure.at(index)
            return None

        def check(v: Any) -> Failure | None:
            if type(v) is not list or not v:
                return None
            types, smallest, largest = _list_stats(v)
            if not types <= allowed_types:
                return first_failure(v)  # wrong element types (or integral floats for integer)
            for bound, compare in bounds:
                if not (compare(smallest, bound) and compare(largest, bound)):
                    return first_failure(v)
            return None

        return check


_NUMBER_TYPES = frozenset({int, float})
_INT_ONLY = frozenset({int})
_NO_STATS: tuple[Any, tuple[frozenset[type], Any, Any]] = (None, (frozenset(), None, None))
_last_stats = _NO_STATS


def _list_stats(v: list[Any]) -> tuple[frozenset[type], Any, Any]:
    """Element types, min and max of a list, remembered for the last list seen in the current validation.

    A known signal is checked by two schemas (its own range and the generic signal pattern); this
    computes the whole-list figures once for both. The memo is one immutable tuple, replaced
    atomically, compared by identity: safe when several threads validate at once. Every validation
    starts with it empty (`compile_schema`), so a list the caller mutated in place since the last
    validation is measured again; within one validation nothing mutates the lists.

    Fast path: one `sorted` (a C loop that CPython specialises when every element has the same type)
    yields min and max and, for free, proves that every element is a number or a bool: str, None, list
    and dict elements do not compare with numbers (TypeError; a sort's comparisons connect every
    element). A bool (0 or 1) would lie within [min, max], so a range that excludes [0, 1] holds none
    and the per-element type scan is skipped; the types are then reported as "int or float"
    (`_NUMBER_TYPES`), which is all a `number` array needs (an `integer` array takes the exact path).
    """
    global _last_stats
    seen, stats = _last_stats
    if seen is v:
        return stats
    if not v:
        return (frozenset(), None, None)
    try:
        ordered = sorted(v)
    except TypeError:
        ordered = None
    if ordered is None:
        stats = (frozenset(map(type, v)), None, None)
    else:
        smallest, largest = ordered[0], ordered[-1]
        if (
            type(smallest) in _NUMBER_TYPES
            and type(largest) in _NUMBER_TYPES
            and (smallest > 1 or largest < 0)
        ):
            stats = (_NUMBER_TYPES, smallest, largest)
        else:
            types = frozenset(map(type, v))
            stats = (types, smallest, largest) if types <= _NUMBER_TYPES else (types, None, None)
    _last_stats = (v, stats)
    return stats


def compile_schema(schema: Mapping[str, Any]) -> Check:
    """One callable checking a value against `schema`; each call starts with an empty `_list_stats` memo."""
    checks = _Compiler().checks(schema)
    if len(checks) == 1:
        only = checks[0]

        def check_one(v: Any) -> Failure | None:
            global _last_stats
            _last_stats = _NO_STATS
            return only(v)

        return check_one

    def check(v: Any) -> Failure | None:
        global _last_stats
        _last_stats = _NO_STATS
        for sub in checks:
            failure = sub(v)
            if failure is not None:
                return failure
        return None

    return check
