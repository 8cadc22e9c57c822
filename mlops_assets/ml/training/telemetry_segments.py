"""Silver telemetry (polars) -> segments (numpy): one per weld, or per stretch of a cell between gaps."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import polars as pl

from edge_agent.features.segments import new_segment_flags
from mlops_assets.ml.autoencoder.dataset import Segment

__all__ = ["telemetry_segments", "usable_signals"]


def usable_signals(frame: pl.DataFrame, signals: Sequence[str]) -> list[str]:
    """The signals with at least one value in `frame` (the silver table has a column for every signal any
    line ever sent; another line's signals are all null here)."""
    if frame.height == 0:
        return []
    counts = frame.select([pl.col(s).is_not_null().sum().alias(s) for s in signals]).row(0)
    return [s for s, n in zip(signals, counts, strict=True) if n > 0]


def telemetry_segments(
    frame: pl.DataFrame, signals: Sequence[str], labels: Mapping[str, bool] | None = None
) -> list[Segment]:
    """Segments of one line's `validated_telemetry`, in (cell, time) order.

    A segment is a weld (cell, weld_id) when weld ids are present, else a run of a cell's samples without
    a long pause: the rule of `edge_agent.features.segments`, which the edge applies as batches arrive.
    `labels` maps weld id -> anomalous.
    """
    if frame.height == 0:
        return []
    ordered = frame.sort("cell", "ts")
    ms = ordered["ts"].dt.epoch("ms").to_numpy().astype(np.int64)
    cells = ordered["cell"].to_numpy()
    welds = ordered["weld_id"].fill_null("").to_numpy()
    interval = ordered["sample_interval_ms"].fill_null(0.0).to_numpy()
    starts = np.flatnonzero(new_segment_flags(cells, welds, ms, interval))
    stops = np.append(starts[1:], len(ordered))
    values = ordered.select([pl.col(s).cast(pl.Float64) for s in signals]).to_numpy()
    labels = labels or {}
    segments = []
    for a, b in zip(starts, stops, strict=True):
        weld = str(welds[a]) or None
        label = None if weld is None or weld not in labels else int(bool(labels[weld]))
        segments.append(
            Segment(
                key=f"{cells[a]}/{weld or ms[a]}",
                values=values[a:b],
                start=float(ms[a]),
                cell=str(cells[a]),
                weld_id=weld,
                label=label,
                first_row=int(a),
            )
        )
    return segments
