"""Channel addresses as regular expressions: match and split topics column-wise.

`{enterprise}/{site}/{area}/{line}/{cell}/weld/telemetry` with its parameters' `enum` / `x-pattern`
becomes one anchored expression with a named group per parameter, applied with
`str.extract_groups` over a whole column of topics.
"""

from __future__ import annotations

import re

import polars as pl

from edge_agent.contract.document import ChannelSpec

__all__ = ["address_regex", "route_topics"]

_PARAMETER = re.compile(r"^\{([A-Za-z_][A-Za-z0-9_]*)\}$")


def _strip_anchors(pattern: str) -> str:
    return pattern.removeprefix("^").removesuffix("$")


def address_regex(channel: ChannelSpec) -> str:
    """An anchored expression matching exactly the topics of `channel` whose parameters conform."""
    levels = []
    for level in channel.address.split("/"):
        found = _PARAMETER.match(level)
        if found is None:
            levels.append(re.escape(level))
            continue
        spec = channel.parameters[found.group(1)]
        if spec.enum is not None:
            body = "|".join(re.escape(v) for v in spec.enum)
        elif spec.pattern is not None:
            body = _strip_anchors(spec.pattern)
        else:
            body = "[^/]+"
        # Parameters are single topic levels: never let a pattern swallow a separator.
        levels.append(f"(?P<{spec.name}>(?:{body}))" if "/" not in body else f"(?P<{spec.name}>[^/]+)")
    return "^" + "/".join(levels) + "$"


def route_topics(topics: pl.Expr, channel: ChannelSpec) -> pl.Expr:
    """A struct of the channel's parameters, null fields where the topic is not of this channel."""
    return topics.str.extract_groups(address_regex(channel))
