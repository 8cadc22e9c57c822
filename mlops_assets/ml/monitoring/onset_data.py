"""How much of a line's new regime silver already holds: the welds that started after a drift onset,
segmented by the same rule as training (`edge_agent.features.segments`), so that `drift_sensor` asks
for a retraining only once `weld_features` will find enough welds to train, validate and hold out."""

from __future__ import annotations

import numpy as np
import polars as pl

from edge_agent.features.segments import new_segment_flags
from mlops_assets.lake import VALIDATED_TELEMETRY, LakeStore
from mlops_assets.ml.training.telemetry import day_of_ms, rows_since

__all__ = ["welds_since"]

_COLUMNS = ["cell", "weld_id", "ts", "sample_interval_ms"]


def welds_since(store: LakeStore, line: str, since_ms: int) -> int:
    """The welds (segments) of `line` in `validated_telemetry` that started at or after `since_ms`;
    0 when the table does not exist yet. Reads four columns of the days from the onset's on."""
    if not store.exists(VALIDATED_TELEMETRY):
        return 0
    frame = (
        store.scan(VALIDATED_TELEMETRY)
        .filter((pl.col("line") == line) & (pl.col("date") >= day_of_ms(since_ms)))
        .select(_COLUMNS)
    )
    rows = rows_since(frame, since_ms).collect().sort("cell", "ts")
    if rows.height == 0:
        return 0
    flags = new_segment_flags(
        rows["cell"].to_numpy(),
        rows["weld_id"].fill_null("").to_numpy(),
        rows["ts"].dt.epoch("ms").to_numpy().astype(np.int64),
        rows["sample_interval_ms"].fill_null(0.0).to_numpy(),
    )
    return int(np.count_nonzero(flags))
