"""The agent's subscription filters: the contract's receive channels, bound to the agent's own place.

`subscribe_scope` binds the parameters `enterprise` / `site` / `area` / `line` down to the chosen level;
`stale_filters` are the other scopes' filters, removed from a resumed session (never silently).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from edge_agent.agent.settings import SCOPE_LEVELS, EdgeSettings
from edge_agent.contract import ChannelMatcher, ChannelSpec

__all__ = ["bound_filters", "scoped_filters", "stale_filters"]


def bound_filters(channels: Iterable[ChannelSpec], bindings: Mapping[str, str]) -> list[str]:
    """One filter per channel: the contract's own, with each parameter in `bindings` replaced by its
    value. Raises ValueError when a value breaks the parameter's constraint (it would never match)."""
    filters: list[str] = []
    for channel in channels:
        found, problem = ChannelMatcher(channel).bound_filter(bindings)
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
    matchers = [ChannelMatcher(channel) for channel in channels]
    others: list[str] = []
    for depth in range(len(SCOPE_LEVELS) + 1):
        bindings: dict[str, str] = {level: own[level] for level in SCOPE_LEVELS[:depth]}
        for matcher in matchers:
            found, _ = matcher.bound_filter(bindings)
            if found is not None:
                others.append(found)
    return [f for f in dict.fromkeys(others) if f not in current]
