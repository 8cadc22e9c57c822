"""What the catalogue shows for the training and packaging assets: owners and the tables' columns."""

from __future__ import annotations

import dagster as dg

__all__ = ["OWNERS", "WELD_FEATURES_COLUMNS", "WELD_LABELS_COLUMNS"]

OWNERS = ["team:process-analytics"]
"""The plant data scientists who train, evaluate and release the line models."""


def _columns(*columns: tuple[str, str, str]) -> dg.TableSchema:
    return dg.TableSchema(columns=[dg.TableColumn(name, kind, text) for name, kind, text in columns])


_KEYS = (
    ("line", "string", "Partition: the production line."),
    ("spec_id", "string", "The feature spec the windows were cut with (gold/feature_specs holds it)."),
    ("split", "string", "train, validation or holdout: welds split in time order, labels respected."),
    ("cell", "string", "Weld cell."),
    ("weld_id", "string", "The weld the window belongs to."),
    ("segment", "string", "The contiguous run of samples of the weld the window was cut from."),
)

WELD_FEATURES_COLUMNS = _columns(
    *_KEYS,
    ("window_start", "int32", "Row of the segment where the window starts."),
    ("segment_start_ts", "timestamp[us, UTC]", "Time of the segment's first sample."),
    ("label", "int8", "1 known bad, 0 known good, null unknown (from weld_labels)."),
    ("features", "list<float32>", "The standardised window, time-major (samples x signals)."),
)

WELD_LABELS_COLUMNS = _columns(
    ("line", "string", "Partition: the production line."),
    ("weld_id", "string", "The weld, as the telemetry's weld_id names it."),
    ("is_anomaly", "boolean", "True for a weld known to be bad."),
    ("label", "string", "The defect (porosity, burn_through, ..., bad_weld), or null for a good weld."),
    (
        "source",
        "string",
        "Who said so: simulator (ground truth), flash_butt_folder, or an inspection system.",
    ),
    ("labelled_at", "timestamp[us, UTC]", "When the label was recorded."),
)
