"""The redelivery window: digests of the most recent durably written messages, oldest evicted first.

What it guarantees: a QoS 1 message the broker redelivers (DUP flag set) whose topic and payload are
byte-identical to one of the last `size` messages written to the same spool is acknowledged and not
written again. The broker can only redeliver messages we have not acknowledged; those we wrote but
whose PUBACK was lost (crash, dropped connection) are among the most recent we wrote, and never more
than the pipeline holds (queues, batches in validation, one group in hand), because the network thread
stops reading when the ingress queue is full. The agent sizes the window to at least that
(`EdgeAgent.max_in_flight`), so every such redelivery is caught. A message
without the DUP flag is never dropped, even if its bytes repeat: that is a new publication, and the
lake deduplicates telemetry on (cell, seq).
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
