"""Bronze to silver: validate telemetry payloads column-wise and split rows into samples and refusals.
Pure functions over polars frames (no I/O); every bronze row ends up in exactly one place
(`TelemetryRefiner.refine`)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import polars as pl

from edge_agent.contract import Contract, ErrorKind
from mlops_assets.lake.tables import SILVER_FIXED_SCHEMA
from mlops_assets.lake.validation.topics import route_topics
from mlops_assets.lake.validation.validator import ColumnarValidator

__all__ = [
    "BATCH_KEY",
    "MESSAGE_ID",
    "QUARANTINE_SCHEMA",
    "Refined",
    "TelemetryRefiner",
    "drop_duplicate_batches",
]

BATCH_KEY = ("enterprise", "site", "area", "line", "cell", "seq")
_PASSED_THROUGH = (
    "file_id", "file_kind", "agent", "capture_seq", "received_at", "topic", "channel", "enterprise", "site",
    "area", "line", "cell", "parameters", "payload", "contract_version",
)  # fmt: skip
QUARANTINE_SCHEMA: dict[str, pl.DataType] = {
    **{c: pl.String() for c in _PASSED_THROUGH},
    "capture_seq": pl.Int64(),
    "received_at": pl.Datetime("us", "UTC"),
    "payload": pl.Binary(),
    "stage": pl.String(),
    "error_kind": pl.String(),
    "error_path": pl.String(),
    "error_reason": pl.String(),
    "quarantined_at": pl.Datetime("us", "UTC"),
    "date": pl.Date(),
}
DUPLICATE = "duplicate"
MESSAGE_ID = "__capture_seq"  # on `Refined.samples` only: which message a sample came from (with file_id)


@dataclass
class Refined:
    samples: pl.DataFrame
    """`validated_telemetry` rows of every valid telemetry message (before de-duplication), plus
    `MESSAGE_ID` (drop it before writing)."""
    batches: pl.DataFrame
    """One row per valid telemetry message: file_id, capture_seq and the batch key."""
    quarantined: pl.DataFrame
    """Refused messages, in `QUARANTINE_SCHEMA`."""
    other_channel: pl.DataFrame
    """file_id and count of valid messages of other channels."""
    signal_names: list[str]


class TelemetryRefiner:
    """Refines bronze rows of the telemetry channel with checks derived from the contract."""

    def __init__(self, contract: Contract, channel_id: str = "weldTelemetry") -> None:
        self.channel = contract.channel(channel_id)
        self.other_channels = sorted(set(contract.channels) - {channel_id})
        self.validator = ColumnarValidator(contract, channel_id)
        (self.map_name,) = self.validator.plan.maps  # the signals object

    def refine(self, bronze: pl.DataFrame, *, known_signals: list[str], now: dt.datetime) -> Refined:
        """Every bronze row to exactly one place: a valid telemetry message becomes `n_samples` rows of
        `validated_telemetry`; a refused one a row of `quarantined_messages`, with the stage that refused
        it (`edge` for the edge's quarantine files, `lake` for the lake's own checks) and the reason; a
        valid message of another channel (a model manifest) stays in bronze only, counted as
        `other_channel`. A batch already stored from another message becomes a `duplicate` refusal
        later (`drop_duplicate_batches`)."""
        params = route_topics(pl.col("topic"), self.channel)
        frame = bronze.with_columns(__params=params)
        is_capture = pl.col("file_kind") == "capture"
        # Captured messages of the contract's other channels pass through; everything else captured
        # is telemetry to the lake, and a topic that breaks the telemetry address is refused.
        is_other = pl.col("__params").struct.field("cell").is_null() & pl.col("channel").is_in(
            self.other_channels
        )
        edge_refused = frame.filter(~is_capture)
        others = frame.filter(is_capture & is_other)
        telemetry = frame.filter(is_capture & ~is_other)
        checked, names = self.validator.validate(telemetry["payload"], {self.map_name: known_signals})
        checked = pl.concat([telemetry, checked.drop("payload", strict=False)], how="horizontal")
        topic_ok = pl.col("__params").struct.field("cell").is_not_null()
        checked = checked.with_columns(
            error_kind=pl.when(topic_ok)
            .then(pl.col("error_kind"))
            .otherwise(pl.lit(str(ErrorKind.BAD_PARAMETER))),
            error_path=pl.when(topic_ok).then(pl.col("error_path")).otherwise(pl.lit("topic")),
            error_reason=pl.when(topic_ok)
            .then(pl.col("error_reason"))
            .otherwise(
                pl.concat_str([pl.lit("topic "), pl.col("topic"), pl.lit(" breaks the channel address")])
            ),
        )
        valid = checked.filter(pl.col("error_kind").is_null())
        refused = checked.filter(pl.col("error_kind").is_not_null())
        quarantined = pl.concat(
            [
                _quarantine_rows(
                    edge_refused,
                    "edge",
                    pl.col("edge_error_kind"),
                    pl.col("edge_error_path"),
                    pl.col("edge_error_reason"),
                    now,
                ),
                _quarantine_rows(
                    refused, "lake", pl.col("error_kind"), pl.col("error_path"), pl.col("error_reason"), now
                ),
            ]
        )
        samples, signals = self._samples(valid, names[self.map_name])
        batches = valid.select("file_id", "capture_seq", *_key_columns())
        other = others.group_by("file_id").agg(pl.len().alias("rows"))
        return Refined(samples, batches, quarantined, other, signals)

    def _samples(self, valid: pl.DataFrame, names: list[str]) -> tuple[pl.DataFrame, list[str]]:
        signals_struct = pl.col(self.map_name)
        present = (
            valid.select(signals_struct.struct.field(n).is_not_null().any().alias(n) for n in names)
            if valid.height
            else None
        )
        # Only names that valid messages carry become columns (refused ones may carry anything).
        signals = [n for n in names if present is not None and present[n][0]]
        # Absent signals become null samples; building those null lists costs, so only where needed.
        gaps = (
            set(
                valid.select(signals_struct.struct.field(n).null_count().alias(n) for n in signals)
                .row(0, named=True)
                .items()
            )
            if signals
            else set()
        )
        with_gaps = {n for n, nulls in gaps if nulls}
        n = pl.col("n_samples").cast(pl.Int64)
        interval = pl.col("sample_interval_ms")
        frame = valid.select(
            *_key_columns(),
            pl.col("sample_interval_ms"),
            pl.col("weld_id").cast(pl.String),
            pl.col("recipe").cast(pl.String),
            pl.col("quality").cast(pl.String),
            "file_id",
            "contract_version",
            "received_at",
            pl.col("capture_seq").alias(MESSAGE_ID),
            pl.col("timestamp_ms").cast(pl.Int64).alias("__t0"),
            pl.int_ranges(0, n, dtype=pl.Int32).alias("sample_index"),
            *(
                signals_struct.struct.field(s).fill_null(pl.lit(None, pl.Float64).repeat_by(n)).alias(s)
                if s in with_gaps
                else signals_struct.struct.field(s).alias(s)
                for s in signals
            ),
        ).explode(["sample_index", *signals])
        offset_us = (pl.col("sample_index").cast(pl.Float64) * interval * 1000.0).round().cast(pl.Int64)
        ts = (pl.col("__t0") * 1000 + offset_us).cast(pl.Datetime("us")).dt.replace_time_zone("UTC")
        frame = frame.with_columns(ts=ts).with_columns(date=pl.col("ts").dt.date())
        return frame.select(
            *(pl.col(c).cast(t) for c, t in SILVER_FIXED_SCHEMA.items()), *signals, MESSAGE_ID
        ), signals


def _key_columns() -> list[pl.Expr]:
    params = pl.col("__params")
    return [
        *(params.struct.field(c).alias(c) for c in ("enterprise", "site", "area", "line", "cell")),
        pl.col("seq").cast(pl.Int64),
    ]


def _quarantine_rows(
    frame: pl.DataFrame, stage: str, kind: pl.Expr, path: pl.Expr, reason: pl.Expr, now: dt.datetime
) -> pl.DataFrame:
    return frame.select(
        *(pl.col(c) for c in _PASSED_THROUGH),
        pl.lit(stage).alias("stage"),
        kind.alias("error_kind"),
        path.alias("error_path"),
        reason.alias("error_reason"),
        pl.lit(now).cast(pl.Datetime("us", "UTC")).alias("quarantined_at"),
        pl.col("date"),
    ).cast(pl.Schema(QUARANTINE_SCHEMA))


def drop_duplicate_batches(
    batches: pl.DataFrame, existing: pl.DataFrame
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(kept batches, duplicate batches with `duplicate_of` = the file that holds the key).

    A batch is a duplicate when its key is already in the table from another file (`existing`: key
    columns and file_id) or appears earlier in this set (ordered by file_id, capture_seq).
    """
    ordered = batches.sort("file_id", "capture_seq")
    first_here = ordered.unique(subset=list(BATCH_KEY), keep="first", maintain_order=True)
    repeated_here = ordered.join(first_here, on=["file_id", "capture_seq"], how="anti").join(
        first_here.select(*BATCH_KEY, pl.col("file_id").alias("duplicate_of")), on=list(BATCH_KEY), how="left"
    )
    if existing.height:
        held = existing.select(*BATCH_KEY, pl.col("file_id").alias("duplicate_of")).unique(
            subset=list(BATCH_KEY)
        )
        clashing = first_here.join(held, on=list(BATCH_KEY), how="inner").filter(
            pl.col("duplicate_of") != pl.col("file_id")
        )
        kept = first_here.join(
            clashing.select("file_id", "capture_seq"), on=["file_id", "capture_seq"], how="anti"
        )
        duplicates = pl.concat([repeated_here, clashing], how="diagonal_relaxed")
    else:
        kept, duplicates = first_here, repeated_here
    return kept, duplicates


def duplicate_quarantine_rows(
    bronze: pl.DataFrame, duplicates: pl.DataFrame, now: dt.datetime
) -> pl.DataFrame:
    """Quarantine rows (`stage` lake, kind `duplicate`) for duplicate batches."""
    if not duplicates.height:
        return pl.DataFrame(schema=QUARANTINE_SCHEMA)
    rows = bronze.join(
        duplicates.select("file_id", "capture_seq", "duplicate_of"),
        on=["file_id", "capture_seq"],
        how="inner",
    )
    reason = pl.concat_str(
        [pl.lit("(cell, seq) is already in validated_telemetry from "), pl.col("duplicate_of")]
    )
    return _quarantine_rows(rows, "lake", pl.lit(DUPLICATE), pl.lit("$.seq"), reason, now)
