"""The checks of JSON Schema's leaf keywords (type, enum/const, numeric bounds, string length and pattern,
object and array sizes), and the `Failure` a check returns; `compiler` assembles them into validators."""

from __future__ import annotations

import json
import operator
import re
from collections.abc import Callable, Mapping, Sized
from typing import Any, cast

from edge_agent.contract.errors import ContractDocumentError

__all__ = [
    "Check",
    "Failure",
    "enum_check",
    "numeric_bounds",
    "numeric_checks",
    "size_check",
    "string_checks",
    "type_check",
]


class Failure:
    """Why a value failed; `tokens` hold the path from the failing value up to the root.

    The path is kept reversed because appending is cheap, and only failures pay for paths."""

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
"""A compiled check: None on success, else the `Failure`."""


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


def type_check(declared: str | list[str]) -> Check:
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


def enum_check(values: list[Any]) -> Check:
    allowed = {_canonical(v) for v in values}
    shown = _describe(values)

    def check(v: Any) -> Failure | None:
        if _canonical(v) in allowed:
            return None
        return Failure(f"must be one of {shown}, got {_describe(v)}")

    return check


def numeric_bounds(s: Mapping[str, Any]) -> list[tuple[str, float, Callable[[Any, Any], bool]]]:
    """(label, bound, comparison) for each numeric bound; a value passes when comparison(value, bound)."""
    keywords = (
        ("minimum", ">=", operator.ge),
        ("exclusiveMinimum", ">", operator.gt),
        ("maximum", "<=", operator.le),
        ("exclusiveMaximum", "<", operator.lt),
    )
    return [(f"{sign} {s[key]}", s[key], compare) for key, sign, compare in keywords if key in s]


def numeric_checks(s: Mapping[str, Any]) -> list[Check]:
    out: list[Check] = []
    for label, bound, compare in numeric_bounds(s):

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


def string_checks(s: Mapping[str, Any]) -> list[Check]:
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


def size_check(lo: int, hi: int | None, kind: type, noun: str) -> Check:
    def check(v: Any) -> Failure | None:
        if type(v) is not kind:
            return None
        size = len(cast(Sized, v))
        if size < lo or (hi is not None and size > hi):
            return Failure(f"must have {lo} to {hi if hi is not None else 'any'} {noun}, got {size}")
        return None

    return check
