"""Per-message payload validators, compiled once from the contract's JSON Schemas, with the contract's
extension `x-uns-same-length` checked after the schema."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from edge_agent.contract.compiler import compile_schema
from edge_agent.contract.errors import ContractDocumentError, ContractError, ErrorKind

__all__ = ["PayloadValidator", "json_path"]

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
SAME_LENGTH = "x-uns-same-length"


def json_path(tokens: Sequence[str | int]) -> str:
    """`("signals", "current_a", 3)` -> `$.signals.current_a[3]`."""
    out = ["$"]
    for token in tokens:
        if isinstance(token, int):
            out.append(f"[{token}]")
        elif _IDENTIFIER.match(token):
            out.append(f".{token}")
        else:
            out.append("[" + repr(token) + "]")
    return "".join(out)


def _extension_sites(schema: Any, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], str]]:
    """Where `x-uns-same-length` applies, as (property path, sibling length field)."""
    if not isinstance(schema, dict):
        return []
    sites: list[tuple[tuple[str, ...], str]] = []
    field = schema.get(SAME_LENGTH)
    if field is not None:
        if not isinstance(field, str) or not path:
            raise ContractDocumentError(f"{SAME_LENGTH} at {json_path(path)} must name a sibling field")
        sites.append((path, field))
    for name, sub in (schema.get("properties") or {}).items():
        sites.extend(_extension_sites(sub, (*path, name)))
    return sites


def _json_integer(value: Any) -> int | None:
    """A JSON Schema integer as an int (`4` and `4.0` give 4; `True` is a boolean, not 1), else None."""
    if type(value) is int:
        return value
    if type(value) is float and value.is_integer():
        return int(value)
    return None


class PayloadValidator:
    """Validates decoded payloads of one message of one channel.

    The first failure becomes a `ContractError` whose path names the offending value: for a missing
    required field or a forbidden extra field, the path is the field itself, not its parent object."""

    def __init__(self, schema: Mapping[str, Any], *, channel_id: str, message_name: str) -> None:
        self.channel_id = channel_id
        self.message_name = message_name
        self.schema = schema
        try:
            self._check = compile_schema(schema)
        except ContractDocumentError as exc:
            raise ContractDocumentError(f"{channel_id}/{message_name}: {exc}") from None
        self._same_length = _extension_sites(dict(schema))

    def validate(self, data: Any) -> ContractError | None:
        """None when `data` conforms, else the first error found."""
        failure = self._check(data)
        if failure is not None:
            path = json_path(failure.path())
            return ContractError(ErrorKind.SCHEMA, self.channel_id, path, failure.reason)
        for path_tokens, field in self._same_length:
            problem = self._check_same_length(data, path_tokens, field)
            if problem is not None:
                return problem
        return None

    def _check_same_length(self, data: Any, path: tuple[str, ...], field: str) -> ContractError | None:
        """`x-uns-same-length: <field>` on an object whose values are arrays: every array holds exactly as
        many items as the sibling integer `<field>` says (JSON Schema cannot express it)."""
        parent = data
        for token in path[:-1]:
            parent = parent.get(token) if isinstance(parent, dict) else None
        if not isinstance(parent, dict):
            return None
        arrays, expected = parent.get(path[-1]), _json_integer(parent.get(field))
        if not isinstance(arrays, dict) or expected is None:
            return None
        for name, values in arrays.items():
            if isinstance(values, list) and len(values) != expected:
                return ContractError(
                    ErrorKind.SCHEMA,
                    self.channel_id,
                    json_path([*path, name]),
                    f"has {len(values)} values but {field} is {expected}",
                )
        return None
