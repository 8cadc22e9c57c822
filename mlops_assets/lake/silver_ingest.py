"""Bronze to silver and quarantine for one (day, line) partition, exactly once per landing file
(`refine_partition`)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

import polars as pl

from mlops_assets.lake.commits import commit_files
from mlops_assets.lake.refine import (
    BATCH_KEY,
    MESSAGE_ID,
    QUARANTINE_SCHEMA,
    TelemetryRefiner,
    drop_duplicate_batches,
    duplicate_quarantine_rows,
)
from mlops_assets.lake.store import LakeStore, WriteResult
from mlops_assets.lake.tables import (
    QUARANTINED_MESSAGES,
    RAW_UNS_CAPTURES,
    VALIDATED_TELEMETRY,
    signal_columns,
)

__all__ = ["RefineOutcome", "refine_partition"]

_KEYS_SCHEMA = {**{k: pl.String() for k in BATCH_KEY}, "seq": pl.Int64(), "file_id": pl.String()}
_RECONCILIATION_SCHEMA = {
    "file_id": pl.String,
    "bronze_rows": pl.Int64,
    "silver_batches": pl.Int64,
    "quarantined": pl.Int64,
    "other_channel": pl.Int64,
}


@dataclass
class RefineOutcome:
    files: list[str] = field(default_factory=list)
    silver_rows: int = 0
    quarantined_rows: int = 0
    versions: dict[str, list[int]] = field(default_factory=lambda: {"silver": [], "quarantine": []})
    signals: list[str] = field(default_factory=list)
    per_file: list[pl.DataFrame] = field(default_factory=list)
    """Per file refined by this run: bronze rows = silver batches + quarantined + other channel."""

    @property
    def reconciliation(self) -> pl.DataFrame:
        return pl.concat(self.per_file) if self.per_file else pl.DataFrame(schema=_RECONCILIATION_SCHEMA)


@dataclass
class _Group:
    silver_files: list[str]
    samples: pl.DataFrame
    quarantine_files: list[str]
    quarantined: pl.DataFrame
    per_file: pl.DataFrame
    signals: list[str]


def _existing_batches(store: LakeStore, samples: pl.DataFrame, line: str) -> pl.DataFrame:
    """Keys (and owning file) of silver batches that could clash with `samples`: same line and days,
    within the incoming seq range, read with partition and statistics pruning."""
    if not samples.height or not store.exists(VALIDATED_TELEMETRY):
        return pl.DataFrame(schema=_KEYS_SCHEMA)
    where = (
        pl.col("date").is_in(samples["date"].unique().to_list())
        & pl.col("seq").is_between(samples["seq"].min(), samples["seq"].max())
        & (pl.col("sample_index") == 0)
    )
    keys = store.read(VALIDATED_TELEMETRY, line=line, where=where, columns=[*BATCH_KEY, "file_id"])
    return keys.cast(pl.Schema(_KEYS_SCHEMA))


def _groups(ids: list[str], rows_of: dict[str, int], budget: int) -> Iterator[list[str]]:
    group: list[str] = []
    used = 0
    for file_id in ids:
        if group and used + rows_of[file_id] > budget:
            yield group
            group, used = [], 0
        group.append(file_id)
        used += rows_of[file_id]
    if group:
        yield group


def _prepare(
    store: LakeStore,
    refiner: TelemetryRefiner,
    bronze: pl.DataFrame,
    *,
    silver_files: list[str],
    quarantine_files: list[str],
    known: list[str],
    held: pl.DataFrame,
    line: str,
    now: dt.datetime,
) -> tuple[_Group, pl.DataFrame]:
    """Validate a group of files; returns what to commit and the batches it keeps."""
    refined = refiner.refine(bronze, known_signals=known, now=now)
    batches = refined.batches.filter(pl.col("file_id").is_in(silver_files))
    incoming = refined.samples.filter(pl.col("file_id").is_in(silver_files))
    existing = pl.concat([_existing_batches(store, incoming, line), held])
    kept, duplicates = drop_duplicate_batches(batches, existing)
    # Duplicates are few: drop them with an anti-join on the message id rather than a semi-join of
    # millions of samples against every kept batch.
    if duplicates.height:
        duplicate_ids = duplicates.select("file_id", pl.col("capture_seq").alias(MESSAGE_ID))
        incoming = incoming.join(duplicate_ids, on=["file_id", MESSAGE_ID], how="anti")
    counted = kept  # the silver batches of every file this group reconciles
    redo = [f for f in quarantine_files if f not in silver_files]
    if redo:  # silver was committed by an earlier, interrupted run: kept and duplicates are what silver says
        redo_samples = refined.samples.filter(pl.col("file_id").is_in(redo))
        in_silver, earlier = drop_duplicate_batches(
            refined.batches.filter(pl.col("file_id").is_in(redo)),
            _existing_batches(store, redo_samples, line),
        )
        duplicates = pl.concat([duplicates, earlier], how="diagonal_relaxed")
        counted = pl.concat([kept, in_silver], how="diagonal_relaxed")
    refused = refined.quarantined.filter(pl.col("file_id").is_in(quarantine_files))
    duplicate_rows = duplicate_quarantine_rows(
        bronze, duplicates.filter(pl.col("file_id").is_in(quarantine_files)), now
    )
    quarantined = pl.concat([refused, duplicate_rows]).cast(pl.Schema(QUARANTINE_SCHEMA))
    counts = [
        bronze.group_by("file_id").agg(pl.len().alias("bronze_rows")),
        counted.group_by("file_id").agg(pl.len().alias("silver_batches")),
        quarantined.group_by("file_id").agg(pl.len().alias("quarantined")),
        refined.other_channel.select("file_id", pl.col("rows").alias("other_channel")),
    ]
    per_file = counts[0]
    for other in counts[1:]:
        per_file = per_file.join(other, on="file_id", how="left")
    reconciliation = per_file.fill_null(0).cast(pl.Schema(_RECONCILIATION_SCHEMA))
    group = _Group(
        silver_files,
        incoming.drop(MESSAGE_ID),
        quarantine_files,
        quarantined,
        reconciliation,
        refined.signal_names,
    )
    return group, kept.select(*BATCH_KEY, "file_id").cast(pl.Schema(_KEYS_SCHEMA))


def _commit(store: LakeStore, group: _Group) -> tuple[WriteResult | None, WriteResult | None]:
    silver = quarantine = None
    if group.silver_files:
        silver = commit_files(
            store, VALIDATED_TELEMETRY, group.samples, group.silver_files, {"mlops.step": "bronze_to_silver"}
        )
    if group.quarantine_files:
        quarantine = commit_files(
            store,
            QUARANTINED_MESSAGES,
            group.quarantined,
            group.quarantine_files,
            {"mlops.step": "bronze_to_quarantine"},
        )
    return silver, quarantine


def _record(
    outcome: RefineOutcome, group: _Group, results: tuple[WriteResult | None, WriteResult | None]
) -> None:
    silver, quarantine = results
    if silver is not None and silver.version is not None:
        outcome.versions["silver"].append(silver.version)
        outcome.silver_rows += silver.rows
    if quarantine is not None and quarantine.version is not None:
        outcome.versions["quarantine"].append(quarantine.version)
        outcome.quarantined_rows += quarantine.rows
    outcome.per_file.append(group.per_file)
    outcome.signals = sorted(set(outcome.signals) | set(group.signals))


def refine_partition(
    store: LakeStore,
    refiner: TelemetryRefiner,
    day: dt.date,
    line: str,
    *,
    now: dt.datetime,
    max_rows_per_commit: int = 10_000,
    max_rows_per_read: int = 250_000,
) -> RefineOutcome:
    """Validate the bronze rows of (day, line) that silver or quarantine lack, and commit them.
    Budgets count bronze rows (messages): a commit holds at most about `max_rows_per_commit` of
    them (whole files), a read at most `max_rows_per_read`.

    Files go in groups; each group is one silver commit followed by one quarantine commit, each
    recording the group's file ids (`commits.py`), so a run killed anywhere is completed by a rerun:
    every table skips the files it already records, and for files whose silver commit landed but whose
    quarantine commit did not, the duplicates are recomputed from what silver holds. The groups are
    pipelined: while one thread commits group i, the next group is validated on the other; batches
    kept by this run but perhaps not yet visible in silver are remembered, so de-duplication never
    misses them."""
    outcome = RefineOutcome()
    if not store.exists(RAW_UNS_CAPTURES):
        return outcome
    in_partition = (pl.col("date") == day) & (pl.col("line") == line)
    counts = (
        store.read(RAW_UNS_CAPTURES, line=line, dates=[day], columns=["file_id"]).group_by("file_id").len()
    )
    rows_of = dict(counts.iter_rows())
    ids = sorted(rows_of)
    need_silver = set(ids) - store.committed_file_ids(VALIDATED_TELEMETRY, ids)
    need_quarantine = set(ids) - store.committed_file_ids(QUARANTINED_MESSAGES, ids)
    outcome.files = [i for i in ids if i in need_silver or i in need_quarantine]
    silver_table = store.delta_table(VALIDATED_TELEMETRY)
    known = signal_columns([f.name for f in silver_table.schema().fields]) if silver_table is not None else []
    held = pl.DataFrame(schema=_KEYS_SCHEMA)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="delta-commit") as committer:
        in_flight: tuple[_Group, Future[tuple[WriteResult | None, WriteResult | None]]] | None = None
        for read_group in _groups(outcome.files, rows_of, max_rows_per_read):
            bronze = (
                store.scan(RAW_UNS_CAPTURES)
                .filter(in_partition & pl.col("file_id").is_in(read_group))
                .collect()
            )
            for files in _groups(read_group, rows_of, max_rows_per_commit):
                part = (
                    bronze if len(files) == len(read_group) else bronze.filter(pl.col("file_id").is_in(files))
                )
                group, kept = _prepare(
                    store,
                    refiner,
                    part,
                    silver_files=[f for f in files if f in need_silver],
                    quarantine_files=[f for f in files if f in need_quarantine],
                    known=known,
                    held=held,
                    line=line,
                    now=now,
                )
                held = pl.concat([held, kept])
                known = list(dict.fromkeys([*known, *group.signals]))
                if in_flight is not None:  # commits stay in order: group i lands before group i+1
                    _record(outcome, in_flight[0], in_flight[1].result())
                in_flight = (group, committer.submit(_commit, store, group))
        if in_flight is not None:
            _record(outcome, in_flight[0], in_flight[1].result())
    return outcome
