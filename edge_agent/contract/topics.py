"""Compile AsyncAPI channel addresses into MQTT subscription filters and topic matchers.

An address such as `{enterprise}/{site}/{area}/{line}/{cell}/weld/telemetry` compiles once into:
- a subscription filter (`acme/+/+/+/+/weld/telemetry`: a parameter with a single `enum` value becomes
  that literal, any other parameter the single-level wildcard `+`);
- a matcher that maps a concrete topic to the channel and its parameters, checking each parameter's
  `enum` or `x-pattern`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from edge_agent.contract.document import ChannelSpec, ParameterSpec
from edge_agent.contract.errors import ContractDocumentError, ContractError, ErrorKind

__all__ = ["ChannelMatcher", "TopicMatch", "TopicRouter"]

_PARAM = re.compile(r"^\{([A-Za-z_][A-Za-z0-9_]*)\}$")


@dataclass(frozen=True, slots=True)
class TopicMatch:
    channel: ChannelSpec
    parameters: Mapping[str, str]


class _ParameterCheck:
    __slots__ = ("_enum", "_regex", "name", "spec")

    def __init__(self, spec: ParameterSpec) -> None:
        self.name = spec.name
        self.spec = spec
        self._enum = frozenset(spec.enum) if spec.enum is not None else None
        try:
            self._regex = re.compile(spec.pattern) if spec.pattern else None
        except re.error as exc:
            raise ContractDocumentError(
                f"parameter {spec.name}: bad x-pattern {spec.pattern!r}: {exc}"
            ) from None

    def problem(self, value: str) -> str | None:
        if self._enum is not None and value not in self._enum:
            return f"{value!r} is not one of {sorted(self._enum)}"
        if self._regex is not None and not self._regex.fullmatch(value):
            return f"{value!r} does not match {self._regex.pattern}"
        if not value:
            return "is empty"
        return None


class ChannelMatcher:
    """One channel address, compiled."""

    def __init__(self, channel: ChannelSpec) -> None:
        self.channel = channel
        levels = channel.address.split("/")
        self._levels: list[str | _ParameterCheck] = []
        filter_levels = []
        for level in levels:
            found = _PARAM.match(level)
            if found is None:
                if "{" in level or "}" in level or level in ("+", "#"):
                    raise ContractDocumentError(f"channel {channel.id}: bad address level {level!r}")
                self._levels.append(level)
                filter_levels.append(level)
                continue
            name = found.group(1)
            if name not in channel.parameters:
                raise ContractDocumentError(f"channel {channel.id}: address parameter {name} is not declared")
            check = _ParameterCheck(channel.parameters[name])
            self._levels.append(check)
            enum = channel.parameters[name].enum
            filter_levels.append(enum[0] if enum is not None and len(enum) == 1 else "+")
        undeclared = set(channel.parameters) - {
            c.name for c in self._levels if isinstance(c, _ParameterCheck)
        }
        if undeclared:
            raise ContractDocumentError(
                f"channel {channel.id}: parameters {sorted(undeclared)} are not in the address"
            )
        self.subscription_filter = "/".join(filter_levels)
        self.depth = len(levels)

    def bound_filter(self, values: Mapping[str, str]) -> tuple[str | None, str | None]:
        """The subscription filter with each parameter named in `values` bound to its value: (filter,
        None), or (None, why) when a value breaks the parameter's `enum` or `x-pattern` (the filter would
        never match a topic of this channel)."""
        levels = self.subscription_filter.split("/")
        for index, level in enumerate(self._levels):
            if isinstance(level, _ParameterCheck) and level.name in values:
                problem = level.problem(values[level.name])
                if problem is not None:
                    return None, f"{level.name} {problem} (channel {self.channel.id} of the contract)"
                levels[index] = values[level.name]
        return "/".join(levels), None

    def fits(self, levels: list[str]) -> bool:
        """True when the topic has this address's shape (same depth, same literal levels)."""
        if len(levels) != self.depth:
            return False
        return all(not isinstance(e, str) or e == v for e, v in zip(self._levels, levels, strict=True))

    def match(self, levels: list[str]) -> TopicMatch | ContractError:
        """Parameters of a topic that `fits`, or the first parameter that breaks its constraint."""
        params: dict[str, str] = {}
        for expected, value in zip(self._levels, levels, strict=True):
            if isinstance(expected, str):
                continue
            problem = expected.problem(value)
            if problem is not None:
                return ContractError(
                    ErrorKind.BAD_PARAMETER, self.channel.id, f"topic.{expected.name}", problem
                )
            params[expected.name] = value
        return TopicMatch(self.channel, params)


class TopicRouter:
    """Maps concrete MQTT topics to channels. Successful matches are cached (bounded)."""

    def __init__(self, channels: Iterable[ChannelSpec], cache_size: int = 65536) -> None:
        self.matchers = [ChannelMatcher(c) for c in channels]
        self._cache: dict[str, TopicMatch] = {}
        self._cache_size = cache_size

    def subscription_filters(self) -> list[str]:
        return [m.subscription_filter for m in self.matchers]

    def route(self, topic: str) -> TopicMatch | ContractError:
        cached = self._cache.get(topic)
        if cached is not None:
            return cached
        result = self._route(topic)
        if isinstance(result, TopicMatch):
            if len(self._cache) >= self._cache_size:
                self._cache.clear()
            self._cache[topic] = result
        return result

    def _route(self, topic: str) -> TopicMatch | ContractError:
        if not topic or "+" in topic or "#" in topic or "\x00" in topic:
            return ContractError(
                ErrorKind.UNKNOWN_TOPIC, None, "topic", f"{topic!r} is not a valid topic name"
            )
        levels = topic.split("/")
        first_problem: ContractError | None = None
        for matcher in self.matchers:
            if not matcher.fits(levels):
                continue
            result = matcher.match(levels)
            if isinstance(result, TopicMatch):
                return result
            first_problem = first_problem or result
        if first_problem is not None:
            return first_problem
        return ContractError(
            ErrorKind.UNKNOWN_TOPIC, None, "topic", f"{topic!r} matches no channel of the contract"
        )
