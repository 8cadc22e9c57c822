"""The redelivery window: digests of the most recent durably written messages, oldest evicted first.

The writer acknowledges without writing again a QoS 1 redelivery (DUP) whose topic and payload match one
of them; sized to cover everything the pipeline can hold (`builder.max_in_flight`).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable

__all__ = ["DigestWindow"]


class DigestWindow:
    """Recency order: adding a digest already present makes it the newest again (a message written
    again, without DUP, must be remembered from its latest write)."""

    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError("size must be at least 1")
        self.size = size
        self._order: OrderedDict[bytes, None] = OrderedDict()

    def __contains__(self, digest: object) -> bool:
        return digest in self._order

    def __len__(self) -> int:
        return len(self._order)

    def add(self, digest: bytes) -> None:
        if digest in self._order:
            self._order.move_to_end(digest)
            return
        self._order[digest] = None
        if len(self._order) > self.size:
            self._order.popitem(last=False)

    def extend(self, digests: Iterable[bytes]) -> None:
        for item in digests:
            self.add(item)

    def snapshot(self) -> list[bytes]:
        """Oldest first, so that re-adding them in order rebuilds the same window."""
        return list(self._order)
