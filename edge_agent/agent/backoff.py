"""Full-jitter exponential backoff, the one retry delay of the agent (reconnects, uploads, sealing, writes).

Full jitter (a uniform draw between the floor and the exponential ceiling) keeps a fleet of agents that
lost the same broker or bucket at the same moment from retrying in lock step.
"""

from __future__ import annotations

import random

__all__ = ["jittered_backoff"]


def jittered_backoff(attempt: int, low_s: float, high_s: float) -> float:
    """Seconds to wait before retry number `attempt` (0 = first retry): uniform in
    [low_s, min(high_s, low_s * 2**attempt)]."""
    ceiling = min(high_s, low_s * 2 ** min(max(attempt, 0), 30))
    return random.uniform(low_s, max(low_s, ceiling))
