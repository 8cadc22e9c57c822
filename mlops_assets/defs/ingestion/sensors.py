"""`landing_sensor`: new landing files become runs for their (day, line): captured messages of
`ingestion_job`, drift reports of `drift_reports_job`; retried on failure on top of Dagster's own run
retries (`_attempts`), given up loudly after `MAX_FAILED_RUNS` failed root runs; to ingest fixed files,
backfill their partition. Its interval is `MLOPS_LANDING_SENSOR_INTERVAL_S` (read when definitions load)."""

import datetime as dt
from collections.abc import Iterable

import dagster as dg

from mlops_assets.defs.ingestion.jobs import ingestion_job
from mlops_assets.defs.monitoring.jobs import drift_reports_job
from mlops_assets.lake.ingest_plan import Attempts, BusyPartition, IngestPlan, plan_ingestion
from mlops_assets.lake.pending import PendingKind, scan_pending
from mlops_assets.ml.monitoring.settings import loop_timings_from_env
from mlops_assets.partitions import DAY_FIRST, day_and_line, day_line_key, line_partitions
from mlops_assets.resources import LakehouseResource, LandingResource

__all__ = ["PENDING_SET_TAG", "build_landing_sensor", "landing_sensors"]

PENDING_SET_TAG = "mlops/pending_set"
# Files of the day before the cursor are listed again: an agent may upload yesterday's last file
# after midnight.
_OVERLAP = dt.timedelta(days=1)


def _attempts(instance: dg.DagsterInstance, pending_sets: Iterable[str]) -> dict[str, Attempts]:
    """What the runs tagged with each pending set did (retries of a run inherit its tags).

    Two retry layers, one on top of the other: Dagster's run retries (`run_retries.max_retries` in the
    instance config, 2 in production) re-execute a failed run from its failure at once, carrying the
    tags `dagster/parent_run_id` and `dagster/root_run_id` and the sensor's own; the sensor counts only
    root runs, those it requested itself. Any run of the set, root or retry, can be in progress or have
    succeeded; a root run counts as failed once it and all Dagster's retries of it have failed, so with
    `max_retries: 2` giving up after `MAX_FAILED_RUNS` (3) failed roots means 9 runs in all. A failed
    root whose retry is still to come or still running shows as in progress, not as failed.

    Once given up, or once a successful run left files it could not read, the same set is not requested
    again (a file rewritten in place keeps its id); a new file of that day and line makes a new set,
    requested afresh while the sensor still lists that day (from one day before its cursor)."""
    keys = sorted(set(pending_sets))
    found: dict[str, Attempts] = {}
    if not keys:
        return found
    for run in instance.get_runs(filters=dg.RunsFilter(tags={PENDING_SET_TAG: keys})):
        key = run.tags[PENDING_SET_TAG]
        seen = found.get(key, Attempts())
        retrying = run.is_complete_and_waiting_to_retry  # Dagster's run retries will take it up
        root = run.get_parent_run_id() is None  # reads the `dagster/parent_run_id` tag
        found[key] = Attempts(
            in_progress=seen.in_progress or not run.is_finished or retrying,
            failed=seen.failed + (root and run.is_failure_or_canceled and not retrying),
            succeeded=seen.succeeded or run.is_success,
        )
    return found


_UNFINISHED = [
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
]


def _busy(instance: dg.DagsterInstance) -> set[BusyPartition]:
    """Partitions with an ingestion or drift reports run queued or running."""
    busy: set[BusyPartition] = set()
    kinds: tuple[tuple[str, PendingKind], ...] = (
        (ingestion_job.name, "telemetry"),
        (drift_reports_job.name, "drift"),
    )
    for job, kind in kinds:
        for run in instance.get_runs(filters=dg.RunsFilter(job_name=job, statuses=_UNFINISHED)):
            partition = run.tags.get("dagster/partition")
            if partition:
                day, line = day_and_line(partition)
                busy.add((kind, day, line))
    return busy


def _report(context: dg.SensorEvaluationContext, plan: IngestPlan) -> list[str]:
    """Logs what is not requested and why; returns one line per kind for the skip reason."""
    notes = []
    for pending in plan.out_of_range:
        context.log.warning(
            "landing files of %s (%s) fall outside the daily partitions from %s to today; not ingested: %s",
            pending.day, pending.line, DAY_FIRST, ", ".join(pending.file_ids),
        )  # fmt: skip
    for pending in plan.unreadable:
        context.log.warning(
            "landing files of %s (%s) stay unfinished after a successful run: the lake cannot read them "
            "(see the landing_files_are_readable check). Not requested again (replacing a file does not "
            "change its id, and this day is not listed once the cursor is more than a day past it); fix "
            "or replace them, then backfill the partition: %s",
            pending.day, pending.line, ", ".join(pending.file_ids),
        )  # fmt: skip
    for pending, failed in plan.given_up:
        context.log.error(
            "ingestion of %s (%s) failed %d times (root runs, each after Dagster's run retries); not "
            "requested again unless new files of that day and line arrive. Fix the cause, then backfill "
            "the partition: %s",
            pending.day, pending.line, failed, ", ".join(pending.file_ids),
        )  # fmt: skip
    for label, partitions in (
        ("out of range", plan.out_of_range),
        ("unreadable", plan.unreadable),
        ("given up after failed runs", [p for p, _ in plan.given_up]),
        ("waiting for a run", plan.waiting),
    ):
        if partitions:
            files = sum(len(p.file_ids) for p in partitions)
            notes.append(f"{files} file(s) {label} in {', '.join(f'{p.day} {p.line}' for p in partitions)}")
    return notes


def build_landing_sensor(interval_s: int = 30) -> dg.SensorDefinition:
    @dg.sensor(
        name="landing_sensor",
        jobs=[ingestion_job, drift_reports_job],
        minimum_interval_seconds=interval_s,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=(
            "Lists the landing zone (from the oldest day with unfinished files on) and requests one run "
            "per (day, line) holding files the lake has not finished: ingestion_job for captured "
            "messages, drift_reports_job for drift reports (never bronze); registers new lines as "
            "partitions. A set of pending files is requested once; again after a failed run, once "
            "Dagster's run retries of it failed too (up to 3 such failed runs); files a successful run "
            "could not read, and days outside the partitions, are reported, not requested again."
        ),
    )
    def landing_sensor(
        context: dg.SensorEvaluationContext, lakehouse: LakehouseResource, landing: LandingResource
    ) -> dg.SensorResult:
        cursor = dt.date.fromisoformat(context.cursor) if context.cursor else None
        since = cursor - _OVERLAP if cursor else None
        scan = scan_pending(lakehouse.store(), landing.zone(), since=since)
        known = set(context.instance.get_dynamic_partitions(line_partitions.name or "line"))
        new_lines = [line for line in scan.lines if line not in known]
        pending_sets = (p.pending_set for p in [*scan.partitions, *scan.drift_partitions])
        plan = plan_ingestion(
            scan,
            _attempts(context.instance, pending_sets),
            cursor=cursor,
            first_day=dt.date.fromisoformat(DAY_FIRST),
            today=dt.datetime.now(dt.UTC).date(),
            busy=_busy(context.instance),
        )
        requests = [
            dg.RunRequest(
                run_key=request.run_key,
                job_name=(drift_reports_job if request.partition.kind == "drift" else ingestion_job).name,
                partition_key=day_line_key(request.partition.day, request.partition.line),
                tags={
                    PENDING_SET_TAG: request.partition.pending_set,
                    "mlops/pending_files": str(len(request.partition.file_ids)),
                },
            )
            for request in plan.requests
        ]
        notes = _report(context, plan)
        for path in scan.skipped:
            context.log.warning("not a landing file, ignored: %s", path)
        return dg.SensorResult(
            run_requests=requests,
            dynamic_partitions_requests=[line_partitions.build_add_request(new_lines)] if new_lines else [],
            cursor=plan.next_since.isoformat() if plan.next_since else context.cursor,
            skip_reason=None if requests or new_lines else "; ".join(["no landing files to ingest", *notes]),
        )

    return landing_sensor


@dg.definitions
def landing_sensors() -> dg.Definitions:
    return dg.Definitions(sensors=[build_landing_sensor(loop_timings_from_env().landing_sensor_s)])
