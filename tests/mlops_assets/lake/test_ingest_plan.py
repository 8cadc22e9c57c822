"""What the landing sensor requests, from what earlier runs did (pure logic: the sensor tests run it
against a real instance)."""

from __future__ import annotations

import datetime as dt

from mlops_assets.lake.ingest_plan import MAX_FAILED_RUNS, Attempts, plan_ingestion
from mlops_assets.lake.pending import PendingPartition, PendingScan

FIRST = dt.date(2024, 1, 1)
TODAY = dt.date(2025, 11, 21)


def pending(day: dt.date, *names: str) -> PendingPartition:
    return PendingPartition(day, "line-1", tuple(f"plant-1/line-1/edge-1/{day}/{n}" for n in names))


def scan(*partitions: PendingPartition, newest: dt.date | None = None) -> PendingScan:
    return PendingScan(list(partitions), ["line-1"], newest or max(p.day for p in partitions), [])


def test_failed_runs_are_requested_again_until_the_limit_then_given_up() -> None:
    files = pending(TODAY, "a")
    keys = []
    for failed in range(MAX_FAILED_RUNS):
        plan = plan_ingestion(
            scan(files),
            {files.pending_set: Attempts(failed=failed)},
            cursor=None,
            first_day=FIRST,
            today=TODAY,
        )
        (request,) = plan.requests
        assert request.generation == failed
        keys.append(request.run_key)
    assert len(set(keys)) == MAX_FAILED_RUNS and keys[0] == files.pending_set

    plan = plan_ingestion(
        scan(files),
        {files.pending_set: Attempts(failed=MAX_FAILED_RUNS)},
        cursor=None,
        first_day=FIRST,
        today=TODAY,
    )
    assert not plan.requests and plan.given_up == [(files, MAX_FAILED_RUNS)]
    assert plan.next_since == TODAY  # a partition given up on holds the cursor: someone must look


def test_a_set_being_ingested_waits_and_holds_the_cursor() -> None:
    older, newer = pending(TODAY - dt.timedelta(days=2), "a"), pending(TODAY, "b")
    plan = plan_ingestion(
        scan(older, newer),
        {older.pending_set: Attempts(in_progress=True, failed=1)},
        cursor=None,
        first_day=FIRST,
        today=TODAY,
    )
    assert plan.waiting == [older] and [r.partition for r in plan.requests] == [newer]
    assert plan.next_since == older.day


def test_files_dated_in_the_future_neither_run_nor_move_the_cursor_past_today() -> None:
    ahead = pending(TODAY + dt.timedelta(days=3), "a")
    plan = plan_ingestion(scan(ahead), {}, cursor=TODAY - dt.timedelta(days=1), first_day=FIRST, today=TODAY)
    assert plan.out_of_range == [ahead] and not plan.requests
    assert plan.next_since == TODAY  # so they are listed again, and run, once their day has come


def test_a_quiet_zone_keeps_the_cursor() -> None:
    plan = plan_ingestion(PendingScan([], [], None, []), {}, cursor=TODAY, first_day=FIRST, today=TODAY)
    assert plan.next_since == TODAY and not plan.requests


def test_a_partition_whose_job_has_a_run_queued_or_running_waits_for_it() -> None:
    line_1, drift = pending(TODAY, "a"), PendingPartition(TODAY, "line-1", ("d",), kind="drift")
    plan = plan_ingestion(
        scan(line_1, drift),
        {},
        cursor=None,
        first_day=FIRST,
        today=TODAY,
        busy={("telemetry", TODAY, "line-1")},
    )
    assert plan.waiting == [line_1] and [r.partition for r in plan.requests] == [drift]
    assert plan.next_since == TODAY
