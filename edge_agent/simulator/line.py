"""A welding line: several cells, each an endless stream of welds cut into telemetry batches.

Pure and deterministic for a given seed: `batches()` yields the line's messages in simulated-time
order, without touching the network. `publisher.py` puts them on a broker.
"""

from __future__ import annotations

import heapq
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

from edge_agent.domain.batches import TelemetryBatch, batch_weld
from edge_agent.domain.lines import LineAddress
from edge_agent.domain.welds import Weld
from edge_agent.simulator.welds import AnomalyKind, SyntheticWeldGenerator

__all__ = ["LineConfig", "WeldLine"]


@dataclass(frozen=True)
class LineConfig:
    address: LineAddress = field(default_factory=LineAddress)
    cells: tuple[str, ...] = ("cell-01", "cell-02", "cell-03")
    seed: int = 42
    sample_rate_hz: float = 1000.0
    batch_size: int = 100
    weld_seconds: tuple[float, float] = (1.5, 2.5)
    gap_seconds: float = 0.5
    anomaly_rate: float = 0.0
    anomaly_kinds: tuple[AnomalyKind, ...] = tuple(AnomalyKind)
    start_ms: int | None = None
    """Simulated time of the first sample; None means now."""
    seq_start: int | None = None
    """First sequence number of every cell; None means `start_ms`, so that a restarted simulator keeps
    (cell, seq) unique as long as a cell sends fewer than 1,000 messages a second."""


class _CellStream:
    def __init__(self, cell: str, welds: Iterator[Weld], batch_size: int, seq_start: int) -> None:
        self.cell = cell
        self._welds = welds
        self._batch_size = batch_size
        self._next_seq = seq_start
        self._pending: Iterator[TelemetryBatch] = iter(())

    def next_batch(self) -> TelemetryBatch | None:
        """The cell's next batch; None once its welds run out. A weld without samples (a replayed
        record can be empty) gives no batch and is passed over."""
        while True:
            batch = next(self._pending, None)
            if batch is not None:
                self._next_seq = batch.seq + 1
                return batch
            weld = next(self._welds, None)
            if weld is None:
                return None
            self._pending = batch_weld(weld, self._batch_size, self._next_seq)


class WeldLine:
    """The line's cells, merged into one time-ordered stream of (topic, batch)."""

    def __init__(self, config: LineConfig, replay: Mapping[str, Iterator[Weld]] | None = None) -> None:
        self.config = config
        start_ms = config.start_ms if config.start_ms is not None else int(time.time() * 1000)
        seq_start = config.seq_start if config.seq_start is not None else start_ms
        self.start_ms = start_ms
        self.generators: dict[str, SyntheticWeldGenerator] = {
            cell: SyntheticWeldGenerator(
                cell=cell,
                seed=config.seed,
                sample_rate_hz=config.sample_rate_hz,
                weld_seconds=config.weld_seconds,
                gap_seconds=config.gap_seconds,
                anomaly_rate=config.anomaly_rate,
                anomaly_kinds=config.anomaly_kinds,
                start_ms=start_ms,
            )
            for cell in config.cells
        }
        streams = [
            _CellStream(cell, _endless(gen), config.batch_size, seq_start)
            for cell, gen in self.generators.items()
        ]
        streams += [
            _CellStream(cell, welds, config.batch_size, seq_start) for cell, welds in (replay or {}).items()
        ]
        self._streams = streams
        self._merged: Iterator[tuple[str, str, TelemetryBatch]] | None = None

    def set_drift(self, on: bool) -> None:
        """Switch every synthetic cell to the drift material (from its next weld on), or back."""
        for gen in self.generators.values():
            gen.drift = on

    def set_anomaly_rate(self, rate: float) -> None:
        """The share of defective welds from every synthetic cell's next weld on."""
        if not 0 <= rate <= 1:
            raise ValueError("anomaly rate must be within [0, 1]")
        for gen in self.generators.values():
            gen.anomaly_rate = rate

    def inject(self, cell: str, kind: AnomalyKind) -> None:
        """Give the next weld of `cell` this defect."""
        self.generators[cell].inject(kind)

    def batches(self) -> Iterator[tuple[str, str, TelemetryBatch]]:
        """(cell, topic, batch), ordered by timestamp across cells; ends when every cell has ended.

        Always the same iterator, so successive publishing runs continue where the last one stopped.
        """
        if self._merged is None:
            self._merged = self._merge()
        return self._merged

    def _merge(self) -> Iterator[tuple[str, str, TelemetryBatch]]:
        heap: list[tuple[int, int, TelemetryBatch]] = []
        for index, stream in enumerate(self._streams):
            first = stream.next_batch()
            if first is not None:
                heapq.heappush(heap, (first.timestamp_ms, index, first))
        while heap:
            _, index, batch = heapq.heappop(heap)
            stream = self._streams[index]
            yield stream.cell, self.config.address.cell_topic(stream.cell), batch
            following = stream.next_batch()
            if following is not None:
                heapq.heappush(heap, (following.timestamp_ms, index, following))


def _endless(generator: SyntheticWeldGenerator) -> Iterator[Weld]:
    while True:
        yield generator.next_weld()
