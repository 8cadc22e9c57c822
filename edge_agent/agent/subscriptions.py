"""The agent's subscription filters: the contract's receive channels, bound to the agent's own place.

The contract's router makes one filter per channel (`acme/+/+/+/+/weld/telemetry`: a parameter with a
single `enum` value is that literal, any other `+`). Two agents of different lines on one broker would
both capture everything with those. `subscribe_scope` binds the parameters `enterprise`, `site`, `area`,
`line` down to the chosen level to the agent's own values (checked against the parameter's `enum` or
`x-pattern`), so with the default `line` the filter is `acme/plant-1/body-shop/line-1/+/weld/telemetry`.
A channel without one of these parameters keeps its filter for that level.

The broker keeps a persistent session's subscriptions across restarts, so filters of the other scopes
(an agent upgraded from the unbound filters, or whose scope changed) would go on delivering: they are
`stale_filters`, unsubscribed when a session is resumed. That narrows what the agent receives, so it is
never silent: `mqtt_session` logs a WARNING naming the filters the broker removed and the setting to
change, counts them (`stale_subscriptions_removed`) and reports it as the heartbeat's `last_error`. An
agent that used to capture a whole site (a configuration from before `subscribe_scope`, upgraded) needs
`subscribe_scope: site` (or `enterprise`) to go on doing so.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence

from edge_agent.agent.settings import SCOPE_LEVELS, EdgeSettings
from edge_agent.contract import ChannelMatcher, ChannelSpec, ParameterSpec

__all__ = ["bound_filters", "scoped_filters", "stale_filters"]

_PARAM = re.compile(r"^\{([A-Za-z_][A-Za-z0-9_]*)\}$")


def _problem(spec: ParameterSpec, value: str) -> str | None:
    if spec.enum is not None and value not in spec.enum:
        return f"is not one of {sorted(spec.enum)}"
    if spec.pattern and not re.fullmatch(spec.pattern, value):
        return f"does not match {spec.pattern}"
    return None


def _bind(channel: ChannelSpec, bindings: Mapping[str, str]) -> tuple[str | None, str | None]:
    """(filter, None) for the channel with each parameter in `bindings` replaced by its value, or (None,
    why) when a value breaks the parameter's constraint (the filter would never match)."""
    levels = ChannelMatcher(channel).subscription_filter.split("/")
    address = channel.address.split("/")
    if len(levels) != len(address):  # the router's filter has one level per address level
        raise ValueError(f"channel {channel.id}: filter {'/'.join(levels)!r} does not follow its address")
    for index, level in enumerate(address):
        found = _PARAM.match(level)
        name = found.group(1) if found else None
        if name is None or name not in bindings:
            continue
        problem = _problem(channel.parameters[name], bindings[name])
        if problem is not None:
            return None, f"{name} {bindings[name]!r} {problem} (channel {channel.id} of the contract)"
        levels[index] = bindings[name]
    return "/".join(levels), None


def bound_filters(channels: Iterable[ChannelSpec], bindings: Mapping[str, str]) -> list[str]:
    """One filter per channel: the contract's own, with each parameter in `bindings` replaced by its
    value. Raises ValueError when a value breaks the parameter's constraint (it would never match)."""
    filters: list[str] = []
    for channel in channels:
        found, problem = _bind(channel, bindings)
        if found is None:
            raise ValueError(f"{problem}: the agent would receive nothing")
        filters.append(found)
    return list(dict.fromkeys(filters))


def scoped_filters(settings: EdgeSettings, channels: Sequence[ChannelSpec]) -> list[str]:
    """The filters for the agent's `subscribe_scope`."""
    return bound_filters(channels, settings.scope_bindings)


def stale_filters(settings: EdgeSettings, channels: Sequence[ChannelSpec]) -> list[str]:
    """Filters this agent would hold under another scope (or none bound), minus its current ones.

    Tolerant where `scoped_filters` is not: a level the agent's own scope does not bind may hold a value
    a channel's constraint refuses (a `site` agent whose `line` a channel's `enum` leaves out, say). No run of this
    agent could have subscribed that channel at that depth, so it contributes no stale filter; it is no
    reason to refuse the start."""
    current = set(scoped_filters(settings, channels))
    own: dict[str, str] = {level: getattr(settings, level) for level in SCOPE_LEVELS}
    others: list[str] = []
    for depth in range(len(SCOPE_LEVELS) + 1):
        bindings: dict[str, str] = {level: own[level] for level in SCOPE_LEVELS[:depth]}
        for channel in channels:
            found, _ = _bind(channel, bindings)
            if found is not None:
                others.append(found)
    return [f for f in dict.fromkeys(others) if f not in current]
