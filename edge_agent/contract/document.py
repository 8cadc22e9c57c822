"""Load an AsyncAPI 3.0 document, resolve its references and expose channels, messages and operations.

References (`$ref`) are resolved eagerly into self-contained schemas, so validators never follow
references at run time. Local (`#/components/...`) and relative file references
(`common.yaml#/components/schemas/x`) are supported, so the contract can be split into files. Keywords
beside a `$ref` are merged over the referenced schema (as JSON Schema 2019-09 and later read them).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from edge_agent.contract.errors import ContractDocumentError

__all__ = [
    "ChannelSpec",
    "Contract",
    "MessageExample",
    "MessageSpec",
    "OperationSpec",
    "ParameterSpec",
    "default_contract_path",
    "load_contract",
]

_SUPPORTED_MAJOR = "3."


def default_contract_path() -> Path:
    """The contract shipped with the project (`asyncapi/uns.asyncapi.yaml` at the repository root)."""
    return Path(__file__).resolve().parents[2] / "asyncapi" / "uns.asyncapi.yaml"


@dataclass(frozen=True)
class ParameterSpec:
    name: str
    description: str = ""
    enum: tuple[str, ...] | None = None
    pattern: str | None = None
    default: str | None = None


@dataclass(frozen=True)
class MessageExample:
    name: str
    payload: Any


@dataclass(frozen=True)
class MessageSpec:
    name: str
    title: str
    content_type: str
    payload_schema: Mapping[str, Any]
    examples: tuple[MessageExample, ...]


@dataclass(frozen=True)
class ChannelSpec:
    id: str
    address: str
    description: str
    parameters: Mapping[str, ParameterSpec]
    messages: Mapping[str, MessageSpec]


@dataclass(frozen=True)
class OperationSpec:
    id: str
    action: str
    channel_id: str


@dataclass(frozen=True)
class Contract:
    """A loaded, fully resolved contract."""

    title: str
    version: str
    source: Path
    channels: Mapping[str, ChannelSpec]
    operations: Mapping[str, OperationSpec] = field(default_factory=dict)

    def channels_for(self, action: str) -> list[ChannelSpec]:
        """The channels this application `receive`s or `send`s, in document order."""
        ids = [op.channel_id for op in self.operations.values() if op.action == action]
        return [self.channels[i] for i in dict.fromkeys(ids)]

    def channel(self, channel_id: str) -> ChannelSpec:
        try:
            return self.channels[channel_id]
        except KeyError:
            raise KeyError(f"no channel {channel_id!r} in contract {self.title} {self.version}") from None


class _Resolver:
    """Inlines `$ref`s across one or more YAML files, detecting cycles."""

    def __init__(self, root: Path) -> None:
        self._root = root
        self._documents: dict[Path, Any] = {}

    def document(self, path: Path) -> Any:
        path = path.resolve()
        if path not in self._documents:
            try:
                self._documents[path] = yaml.safe_load(path.read_text(encoding="utf-8"))
            except FileNotFoundError:
                raise ContractDocumentError(f"contract file not found: {path}") from None
            except yaml.YAMLError as exc:
                raise ContractDocumentError(f"contract file {path} is not valid YAML: {exc}") from None
        return self._documents[path]

    def resolve(self, node: Any, base: Path, stack: tuple[str, ...] = ()) -> Any:
        if isinstance(node, list):
            return [self.resolve(item, base, stack) for item in node]
        if not isinstance(node, dict):
            return node
        if "$ref" in node:
            target, target_base, key = self._follow(node["$ref"], base)
            if key in stack:
                raise ContractDocumentError(f"circular $ref: {' -> '.join((*stack, key))}")
            resolved = self.resolve(copy.deepcopy(target), target_base, (*stack, key))
            siblings = {k: self.resolve(v, base, stack) for k, v in node.items() if k != "$ref"}
            if not siblings:
                return resolved
            if not isinstance(resolved, dict):
                raise ContractDocumentError(f"$ref {node['$ref']} with sibling keys must point to an object")
            return {**resolved, **siblings}
        return {k: self.resolve(v, base, stack) for k, v in node.items()}

    def _follow(self, ref: str, base: Path) -> tuple[Any, Path, str]:
        if not isinstance(ref, str):
            raise ContractDocumentError(f"$ref must be a string, got {ref!r}")
        file_part, _, pointer = ref.partition("#")
        path = (base.parent / file_part).resolve() if file_part else base.resolve()
        node = self.document(path)
        for token in [t for t in pointer.split("/") if t]:
            token = token.replace("~1", "/").replace("~0", "~")
            if not isinstance(node, dict) or token not in node:
                raise ContractDocumentError(f"unresolvable $ref {ref!r} (from {base.name})")
            node = node[token]
        return node, path, f"{path.name}#{pointer}"


def _ref_name(node: Any, section: str, where: str) -> str:
    ref = node.get("$ref") if isinstance(node, dict) else None
    prefix = f"#/{section}/"
    if not isinstance(ref, str) or not ref.startswith(prefix):
        raise ContractDocumentError(f"{where} must be a $ref to {prefix}<id>")
    return ref[len(prefix) :]


def _parameter(name: str, raw: Any, channel_id: str) -> ParameterSpec:
    if not isinstance(raw, dict):
        raise ContractDocumentError(f"channel {channel_id}: parameter {name} must be an object")
    enum = raw.get("enum")
    if enum is not None and (not isinstance(enum, list) or not all(isinstance(v, str) for v in enum)):
        raise ContractDocumentError(f"channel {channel_id}: parameter {name}: enum must be a list of strings")
    return ParameterSpec(
        name=name,
        description=str(raw.get("description", "")),
        enum=tuple(enum) if enum is not None else None,
        pattern=raw.get("x-pattern"),
        default=raw.get("default"),
    )


def _message(name: str, raw: Any, channel_id: str) -> MessageSpec:
    if not isinstance(raw, dict) or not isinstance(raw.get("payload"), dict):
        raise ContractDocumentError(f"channel {channel_id}: message {name} needs a payload schema")
    examples = tuple(
        MessageExample(name=str(ex.get("name", f"example{i}")), payload=ex["payload"])
        for i, ex in enumerate(raw.get("examples", []))
        if isinstance(ex, dict) and "payload" in ex
    )
    return MessageSpec(
        name=str(raw.get("name", name)),
        title=str(raw.get("title", name)),
        content_type=str(raw.get("contentType", "application/json")),
        payload_schema=raw["payload"],
        examples=examples,
    )


def load_contract(path: Path | str | None = None) -> Contract:
    """Load and resolve an AsyncAPI 3.x document (the project's own contract when `path` is None)."""
    source = Path(path) if path is not None else default_contract_path()
    resolver = _Resolver(source)
    raw = resolver.document(source)
    if not isinstance(raw, dict):
        raise ContractDocumentError(f"{source} is not an AsyncAPI document (top level is not a mapping)")
    spec_version = str(raw.get("asyncapi", ""))
    if not spec_version.startswith(_SUPPORTED_MAJOR):
        raise ContractDocumentError(f"{source}: asyncapi version {spec_version!r} is not 3.x")
    info = raw.get("info") or {}
    channels: dict[str, ChannelSpec] = {}
    for channel_id, raw_channel in (raw.get("channels") or {}).items():
        channel = resolver.resolve(raw_channel, source)
        if not isinstance(channel, dict) or not isinstance(channel.get("address"), str):
            raise ContractDocumentError(f"channel {channel_id} needs a string address")
        params = {
            name: _parameter(name, spec, channel_id)
            for name, spec in (channel.get("parameters") or {}).items()
        }
        messages = {
            name: _message(name, msg, channel_id) for name, msg in (channel.get("messages") or {}).items()
        }
        if not messages:
            raise ContractDocumentError(f"channel {channel_id} declares no messages")
        channels[channel_id] = ChannelSpec(
            id=channel_id,
            address=channel["address"],
            description=str(channel.get("description", "")),
            parameters=params,
            messages=messages,
        )
    operations: dict[str, OperationSpec] = {}
    for op_id, raw_op in (raw.get("operations") or {}).items():
        action = raw_op.get("action") if isinstance(raw_op, dict) else None
        if action not in ("send", "receive"):
            raise ContractDocumentError(f"operation {op_id}: action must be send or receive")
        channel_id = _ref_name(raw_op.get("channel"), "channels", f"operation {op_id}: channel")
        if channel_id not in channels:
            raise ContractDocumentError(f"operation {op_id} names unknown channel {channel_id}")
        operations[op_id] = OperationSpec(id=op_id, action=action, channel_id=channel_id)
    return Contract(
        title=str(info.get("title", source.stem)),
        version=str(info.get("version", "0")),
        source=source,
        channels=channels,
        operations=operations,
    )
