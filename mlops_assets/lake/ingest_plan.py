"""Which pending (day, line) partitions to ask an ingestion run for, given what the earlier runs for
the same pending files did, and where the next scan of the landing zone may start (plain logic: the
landing sensor turns the Dagster runs tagged with a pending set into `Attempts`)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field

from mlops_assets.lake.pending import PendingKind, PendingPartition, PendingScan

__all__ = ["MAX_FAILED_RUNS", "Attempts", "BusyPartition", "IngestPlan", "IngestRequest", "plan_ingestion"]

MAX_FAILED_RUNS = 3
BusyPartition = tuple[PendingKind, dt.date, str]
"""(kind, day, line) of a partition with a run of its job queued or running, whatever files it took."""


@dataclass(frozen=True)
class Attempts:
    """What the runs requested for one pending set did so far."""

    in_progress: bool = False
    failed: int = 0
    """Failed root runs (runs the sensor requested), each counted once Dagster's retries of it failed."""
    succeeded: bool = False


@dataclass(frozen=True)
class IngestRequest:
    partition: PendingPartition
    generation: int
    """How many runs for these files failed before this one."""

    @property
    def run_key(self) -> str:
        key = self.partition.pending_set
        return key if self.generation == 0 else f"{key}|retry-{self.generation}"


@dataclass
class IngestPlan:
    requests: list[IngestRequest] = field(default_factory=list)
    waiting: list[PendingPartition] = field(default_factory=list)
    unreadable: list[PendingPartition] = field(default_factory=list)
    out_of_range: list[PendingPartition] = field(default_factory=list)
    given_up: list[tuple[PendingPartition, int]] = field(default_factory=list)
    next_since: dt.date | None = None
    """The sensor's next cursor: the oldest day still to be ingested, else the newest day seen (never
    after `today`, so a file dated in the future does not hide today's), else the current cursor."""


def plan_ingestion(
    scan: PendingScan,
    attempts: Mapping[str, Attempts],
    *,
    cursor: dt.date | None,
    first_day: dt.date,
    today: dt.date,
    max_failed: int = MAX_FAILED_RUNS,
    busy: Collection[BusyPartition] = (),
) -> IngestPlan:
    """What to do with each pending partition (captured messages and drift reports alike):

    - no run yet: request one (run key = the pending set);
    - a run queued or running (or failed and about to be retried by Dagster): wait for it;
    - another run of the partition's job queued or running (`busy`: it took earlier files, and may
      take these too): wait for it, so that a partition has one run at a time and a line that uploads
      every few seconds does not pile runs up in the queue; what it leaves is the next set;
    - failed runs: request again, with the retry generation in the run key (`...|retry-2`), until
      `max_failed` runs failed; then give up loudly (a backfill or new files start over). `Attempts`
      counts root runs only: a run and Dagster's own retries of it fail once;
    - a run succeeded and left exactly these files unfinished: the lake could not read them (the
      bronze check `landing_files_are_readable` names why). They are reported, not requested again (a
      file replaced in place keeps its id), and like files of days outside the daily partitions they
      do not hold the cursor back: once the cursor is more than a day past them they are not even
      listed. A backfill of the partition ingests them once they are fixed."""
    plan = IngestPlan()
    for pending in [*scan.partitions, *scan.drift_partitions]:
        tried = attempts.get(pending.pending_set, Attempts())
        if not first_day <= pending.day <= today:
            plan.out_of_range.append(pending)
        elif tried.in_progress or (pending.kind, pending.day, pending.line) in busy:
            plan.waiting.append(pending)
        elif tried.succeeded:
            plan.unreadable.append(pending)
        elif tried.failed >= max_failed:
            plan.given_up.append((pending, tried.failed))
        else:
            plan.requests.append(IngestRequest(pending, tried.failed))
    open_days = [r.partition.day for r in plan.requests]
    open_days += [p.day for p in plan.waiting] + [p.day for p, _ in plan.given_up]
    if open_days:
        plan.next_since = min(open_days)
    elif scan.newest_day is not None:  # the listing reaches back one day before the cursor: never go back
        plan.next_since = min(max(scan.newest_day, cursor or scan.newest_day), today)
    else:
        plan.next_since = cursor  # nothing listed: stay
    return plan
