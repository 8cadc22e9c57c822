"""Compile a JSON Schema (the draft-07 subset the contract uses) into a fast Python validator.

`compile_schema` walks a schema once into closures (the leaf keywords' checks are in `keywords`); arrays
of numbers with a range are checked over the whole list at once (`_list_stats`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from edge_agent.contract.errors import ContractDocumentError
from edge_agent.contract.keywords import (
    Check,
    Failure,
    enum_check,
    numeric_bounds,
    numeric_checks,
    size_check,
    string_checks,
    type_check,
)

__all__ = ["Check", "Failure", "compile_schema"]

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
        """Draft-07 semantics for `_SUPPORTED`. Any other validation keyword fails the compilation, so a
        contract never relies on a rule that is silently skipped; annotations and `x-...` are ignored."""
        unknown = {k for k in s if k not in _SUPPORTED and k not in _ANNOTATIONS and not k.startswith("x-")}
        if unknown:
            raise ContractDocumentError(f"unsupported JSON Schema keywords {sorted(unknown)}")
        out: list[Check] = []
        if "type" in s:
            out.append(type_check(s["type"]))
        if "enum" in s or "const" in s:
            out.append(enum_check(s["enum"] if "enum" in s else [s["const"]]))
        out.extend(numeric_checks(s))
        out.extend(string_checks(s))
        if any(k in s for k in ("required", "properties", "patternProperties", "additionalProperties")):
            out.append(self._object(s))
        if "minProperties" in s or "maxProperties" in s:
            out.append(size_check(s.get("minProperties", 0), s.get("maxProperties"), dict, "properties"))
        if "minItems" in s or "maxItems" in s:
            out.append(size_check(s.get("minItems", 0), s.get("maxItems"), list, "items"))
        if "items" in s:
            out.append(self._items(s["items"]))
        for part in s.get("allOf", []):
            out.extend(self.checks(part))
        return tuple(dict.fromkeys(out))  # the same shared check twice adds nothing

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
        """Whole-list check for `items: {type: number|integer, minimum..., maximum...}`.

        Telemetry carries hundreds of numbers per message, and checking array items one by one in Python
        is where general validators spend almost all their time. Here the whole list is checked with
        C-level builtins (`_list_stats`), and only a failing list is walked to name the first bad index."""
        if not isinstance(items, Mapping) or items.get("type") not in _NUMERIC:
            return None
        if set(items) - {"type", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"} - _ANNOTATIONS:
            return None
        allowed_types = _INT_ONLY if items["type"] == "integer" else _NUMBER_TYPES
        slow = self.checks(items)
        # A list passes when its smallest and largest values pass every bound (all the bounds are monotone).
        bounds = [(bound, compare) for _, bound, compare in numeric_bounds(items)]

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
