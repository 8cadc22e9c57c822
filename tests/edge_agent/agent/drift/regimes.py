"""Telemetry and profile rows of the simulator's two regimes for the drift tests: the normal material, and
the drift material (`SyntheticWeldGenerator(drift=True)`: current, voltage and wire feed shift)."""

from __future__ import annotations

import itertools

import numpy as np
import orjson

from edge_agent.domain import batch_weld
from edge_agent.features import fill_missing, standardise, window_matrix
from edge_agent.simulator import SIGNALS, AnomalyKind, SyntheticWeldGenerator
from tests.edge_agent.agent.scoring.packages import ADDRESS, SPEC

DRIFTING = ("current_a__mean", "voltage_v__mean", "wire_feed_m_min__mean")
"""The columns the drift material moves (PSI far over the column threshold of 0.2)."""


def scored_windows(
    *, cells: int, welds: int, seed: int, drift: bool, defect: AnomalyKind | None = None
) -> np.ndarray:
    """The standardised windows of `welds` welds per cell, as the scoring worker keeps them for drift;
    with `defect`, the first cell's second weld has it."""
    parts = []
    for index in range(cells):
        generator = SyntheticWeldGenerator(cell=f"cell-{index + 1:02d}", seed=seed, drift=drift)
        for number in range(welds):
            if defect is not None and index == 0 and number == 1:
                generator.inject(defect)
            weld = generator.next_weld()
            values = np.column_stack([weld.signals[s] for s in SIGNALS])
            parts.append(window_matrix(standardise(fill_missing(values), SPEC), SPEC.window, SPEC.stride))
    return np.concatenate(parts)


def regime_telemetry(
    *, cells: int, welds: int, seed: int, drift: bool, start_ms: int, first_seq: int
) -> list[tuple[str, bytes]]:
    """(topic, payload) of `welds` welds per cell from `start_ms` on, batches numbered from `first_seq`
    per cell, the cells interleaved in time order."""
    streams = []
    for index in range(cells):
        cell = f"cell-{index + 1:02d}"
        generator = SyntheticWeldGenerator(cell=cell, seed=seed, start_ms=start_ms, drift=drift)
        seq, messages = first_seq, []
        for _ in range(welds):
            for batch in batch_weld(generator.next_weld(), 100, seq):
                messages.append((ADDRESS.cell_topic(cell), orjson.dumps(batch.payload)))
                seq = batch.seq + 1
        streams.append(messages)
    return [m for group in itertools.zip_longest(*streams) for m in group if m is not None]
