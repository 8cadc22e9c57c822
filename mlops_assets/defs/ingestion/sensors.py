"""`landing_sensor`: new landing files become runs of `ingestion_job` for their (day, line)."""

import datetime as dt

import dagster as dg

from mlops_assets.defs.ingestion.jobs import ingestion_job
from mlops_assets.lake.pending import scan_pending
from mlops_assets.partitions import DAY_FIRST, day_line_key, line_partitions
from mlops_assets.resources import LakehouseResource, LandingResource

__all__ = ["landing_sensor"]

# Files of the day before the cursor are listed again: an agent may upload yesterday's last file
# after midnight.
_OVERLAP = dt.timedelta(days=1)


@dg.sensor(
    name="landing_sensor",
    job=ingestion_job,
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=(
        "Lists the landing zone (from the oldest day with unfinished files on) and requests one run "
        "per (day, line) holding files the lake has not finished; registers new lines as partitions. "
        "Run keys hash the pending file ids, so a set of files is requested once."
    ),
)
def landing_sensor(
    context: dg.SensorEvaluationContext, lakehouse: LakehouseResource, landing: LandingResource
) -> dg.SensorResult:
    since = dt.date.fromisoformat(context.cursor) - _OVERLAP if context.cursor else None
    scan = scan_pending(lakehouse.store(), landing.zone(), since=since)
    known = set(context.instance.get_dynamic_partitions(line_partitions.name or "line"))
    new_lines = [line for line in scan.lines if line not in known]
    first_day, today = dt.date.fromisoformat(DAY_FIRST), dt.datetime.now(dt.UTC).date()
    requests = []
    for pending in scan.partitions:
        if not first_day <= pending.day <= today:
            context.log.warning(
                "landing files of %s (%s) fall outside the daily partitions %s..%s; not ingested: %s",
                pending.day, pending.line, first_day, today, ", ".join(pending.file_ids),
            )  # fmt: skip
            continue
        requests.append(
            dg.RunRequest(
                run_key=pending.run_key,
                partition_key=day_line_key(pending.day, pending.line),
                tags={"mlops/pending_files": str(len(pending.file_ids))},
            )
        )
    for path in scan.skipped:
        context.log.warning("not a landing file, ignored: %s", path)
    return dg.SensorResult(
        run_requests=requests,
        dynamic_partitions_requests=[line_partitions.build_add_request(new_lines)] if new_lines else [],
        cursor=scan.next_since.isoformat() if scan.next_since else context.cursor,
        skip_reason=None if requests or new_lines else "no unfinished landing files",
    )
