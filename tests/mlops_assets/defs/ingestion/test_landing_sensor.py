"""`landing_sensor` against a real instance, landing zone and lake."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import dagster as dg
import pytest
import yaml
from dagster._core.storage.tags import (
    AUTO_RETRY_RUN_ID_TAG,
    PARENT_RUN_ID_TAG,
    RETRY_NUMBER_TAG,
    ROOT_RUN_ID_TAG,
    TAGS_TO_MAYBE_OMIT_ON_RETRY,
)

from edge_agent.domain import LineAddress
from edge_agent.simulator import LineConfig
from mlops_assets.definitions import build_definitions
from mlops_assets.lake.ingest_plan import MAX_FAILED_RUNS
from mlops_assets.partitions import day_and_line
from tests.mlops_assets.conftest import START_MS, LocalLake, day_of
from tests.mlops_assets.defs.ingestion.runs import ingestion_job, run_ingestion
from tests.synthetic_landing import TopicPayload, simulator_messages

DAY_MS = 86_400_000
DEPLOYED = Path(__file__).resolve().parents[4] / "deploy" / "dagster" / "dagster.yaml"


def _tick(defs: dg.Definitions, instance: dg.DagsterInstance, cursor: str | None) -> dg.SensorResult:
    sensor = defs.resolve_sensor_def("landing_sensor")
    context = dg.build_sensor_context(instance=instance, cursor=cursor, resources=dict(defs.resources or {}))
    result = sensor(context)
    assert isinstance(result, dg.SensorResult)
    for request in result.dynamic_partitions_requests or []:  # what the daemon does with them
        instance.add_dynamic_partitions(request.partitions_def_name, list(request.partition_keys or []))
    return result


def _launch(defs: dg.Definitions, instance: dg.DagsterInstance, request: dg.RunRequest) -> bool:
    """Run a sensor's request as the daemon would: its partition, tags and run key."""
    result = defs.resolve_job_def("ingestion_job").execute_in_process(
        instance=instance,
        partition_key=request.partition_key,
        tags={**request.tags, "dagster/run_key": request.run_key or ""},
        raise_on_error=False,
    )
    return result.success


def _dagster_retry(instance: dg.DagsterInstance, failed: dg.DagsterRun) -> dg.DagsterRun:
    """Re-execute `failed` from failure as Dagster's run-retry daemon does (`retry_run`): the
    parent's tags plus the retry number, parent and root run (`create_reexecuted_run`), and the new
    run's id recorded on the parent. The daemon itself needs a code-location server; Dagster's
    re-execution API makes the same run, in a run group with its parent."""
    tags = {k: v for k, v in failed.tags.items() if k not in TAGS_TO_MAYBE_OMIT_ON_RETRY}
    _, group = instance.get_run_group(failed.run_id) or (None, [])
    root = failed.root_run_id or failed.run_id
    tags |= {RETRY_NUMBER_TAG: str(len(group)), PARENT_RUN_ID_TAG: failed.run_id, ROOT_RUN_ID_TAG: root}
    result = dg.execute_job(
        dg.reconstructable(ingestion_job),
        instance,
        tags=tags,
        reexecution_options=dg.ReexecutionOptions.from_failure(failed.run_id, instance),
        raise_on_error=False,
    )
    instance.add_run_tags(failed.run_id, {AUTO_RETRY_RUN_ID_TAG: result.run_id})
    run = instance.get_run_by_id(result.run_id)
    assert run is not None
    return run


def _partitions(result: dg.SensorResult) -> list[tuple[dt.date, str]]:
    return sorted(day_and_line(r.partition_key or "") for r in result.run_requests or [])


def test_new_files_become_one_run_per_partition_and_new_lines_register(
    lake: LocalLake, line_messages: list[TopicPayload]
) -> None:
    day = day_of(lake.land(line_messages[:100], per_file=50))
    other_line = simulator_messages(LineConfig(address=LineAddress(line="line-7"), start_ms=START_MS), 30)
    lake.land(other_line, line="line-7", agent="edge-line-7", per_file=30)
    defs = build_definitions()
    with dg.instance_for_test() as instance:
        first = _tick(defs, instance, None)
        requested = sorted(day_and_line(r.partition_key or "") for r in first.run_requests or [])
        assert requested == [(day, "line-1"), (day, "line-7")]
        assert sorted(instance.get_dynamic_partitions("line")) == ["line-1", "line-7"]
        keys = {r.run_key for r in first.run_requests or []}

        # Nothing changed: the same run keys, so Dagster launches nothing twice.
        again = _tick(defs, instance, first.cursor)
        assert {r.run_key for r in again.run_requests or []} == keys

        run_ingestion(instance, day, "line-1", defs)
        after = _tick(defs, instance, again.cursor)
        assert [day_and_line(r.partition_key or "") for r in after.run_requests or []] == [(day, "line-7")]

        # A new file on an ingested partition: a new set of pending files, a new run key.
        lake.land(line_messages[100:110], first_seq=500, received_start_ms=START_MS + 300_000)
        later = _tick(defs, instance, after.cursor)
        line_1 = [r for r in later.run_requests or [] if day_and_line(r.partition_key or "")[1] == "line-1"]
        assert len(line_1) == 1 and line_1[0].run_key not in keys


def test_a_partition_with_a_run_queued_gets_no_second_run_until_it_finishes(
    lake: LocalLake, line_messages: list[TopicPayload]
) -> None:
    """A line uploading every few seconds must not pile runs of one partition up in the run queue:
    while a run of the partition is queued or running, newer files wait for it, and the cursor holds."""
    day = day_of(lake.land(line_messages[:20], per_file=10))
    defs = build_definitions()
    with dg.instance_for_test() as instance:
        first = _tick(defs, instance, None)
        (request,) = first.run_requests or []
        queued = instance.create_run_for_job(
            defs.resolve_job_def("ingestion_job"),
            tags={**request.tags, "dagster/partition": str(request.partition_key)},
            status=dg.DagsterRunStatus.NOT_STARTED,  # created, not launched yet (QUEUED needs a code server)
        )
        lake.land(line_messages[20:30], first_seq=500, received_start_ms=START_MS + 300_000)
        waiting = _tick(defs, instance, first.cursor)
        assert not waiting.run_requests and waiting.cursor == day.isoformat()
        assert "3 file(s) waiting for a run" in str(waiting.skip_reason)

        instance.report_run_canceled(queued)  # finished: the files it did not ingest are the next set
        after = _tick(defs, instance, waiting.cursor)
        (again,) = after.run_requests or []
        assert _partitions(after) == [(day, "line-1")] and again.run_key != request.run_key
        assert again.tags["mlops/pending_files"] == "3"


def test_a_quiet_landing_zone_skips(lake: LocalLake) -> None:
    defs = build_definitions()
    with dg.instance_for_test() as instance:
        result = _tick(defs, instance, None)
    assert not result.run_requests and result.skip_reason is not None


def test_a_failed_run_is_requested_again_with_a_new_run_key(
    lake: LocalLake, line_messages: list[TopicPayload]
) -> None:
    day = day_of(lake.land(line_messages[:20], per_file=10))
    defs = build_definitions()
    with dg.instance_for_test() as instance:
        first = _tick(defs, instance, None)
        (request,) = first.run_requests or []
        lake.home.joinpath("lake").write_text("a file where the lake's folder should be")  # breaks the run
        assert not _launch(defs, instance, request)
        lake.home.joinpath("lake").unlink()

        second = _tick(defs, instance, first.cursor)
        (retry,) = second.run_requests or []
        assert _partitions(second) == [(day, "line-1")] and retry.run_key != request.run_key
        assert retry.tags == request.tags  # the same pending files
        assert _launch(defs, instance, retry)

        done = _tick(defs, instance, second.cursor)
        assert not done.run_requests and done.cursor == day.isoformat()


def test_a_partition_whose_runs_keep_failing_is_given_up_until_its_files_change(
    lake: LocalLake, line_messages: list[TopicPayload], capfd: pytest.CaptureFixture[str]
) -> None:
    day = day_of(lake.land(line_messages[:20], per_file=10))
    broken = lake.home.joinpath("lake")
    defs = build_definitions()
    with dg.instance_for_test() as instance:
        cursor, keys = None, []
        for _ in range(MAX_FAILED_RUNS):
            tick = _tick(defs, instance, cursor)
            (request,) = tick.run_requests or []
            keys.append(request.run_key)
            broken.write_text("a file where the lake's folder should be")  # every run fails
            assert not _launch(defs, instance, request)
            broken.unlink()
            cursor = tick.cursor
        assert len(set(keys)) == MAX_FAILED_RUNS  # each retry generation is a run of its own

        given_up = _tick(defs, instance, cursor)
        assert not given_up.run_requests
        assert given_up.cursor == day.isoformat()  # held until someone looks
        assert given_up.skip_reason and f"2 file(s) given up after failed runs in {day} line-1" in (
            given_up.skip_reason.skip_message or ""
        )
        assert f"failed {MAX_FAILED_RUNS} times (root runs" in capfd.readouterr().err

        # A new file makes a new set of pending files: requested afresh, and this time it succeeds.
        lake.land(line_messages[20:30], first_seq=500, received_start_ms=START_MS + 300_000)
        fresh = _tick(defs, instance, given_up.cursor)
        (request,) = fresh.run_requests or []
        assert request.run_key not in keys and request.tags["mlops/pending_files"] == "3"
        assert _launch(defs, instance, request)
        assert not _tick(defs, instance, fresh.cursor).run_requests


def test_unreadable_and_out_of_range_files_are_reported_and_do_not_hold_the_cursor(
    lake: LocalLake, line_messages: list[TopicPayload], capfd: pytest.CaptureFixture[str]
) -> None:
    keys = lake.land(line_messages[:20], per_file=10)
    (lake.landing_root / keys[0].relative_path).write_bytes(b"not parquet")
    day = day_of(keys)
    next_day = day_of(lake.land(line_messages[20:30], first_seq=100, received_start_ms=START_MS + DAY_MS))
    # Filed under a day before the first daily partition (an agent whose clock was wrong).
    (early,) = lake.land(line_messages[30:40], first_seq=200, received_start_ms=START_MS - 700 * DAY_MS)
    defs = build_definitions()
    with dg.instance_for_test() as instance:
        first = _tick(defs, instance, None)
        assert _partitions(first) == [(day, "line-1"), (next_day, "line-1")]
        assert first.cursor == day.isoformat()  # not the out-of-range day
        assert (
            f"fall outside the daily partitions from 2024-01-01 to today; not ingested: {early.relative_path}"
            in capfd.readouterr().err
        )
        assert all(_launch(defs, instance, r) for r in first.run_requests or [])

        # Only the unreadable file is left on `day`: a new set, tried once more by a run that succeeds.
        second = _tick(defs, instance, first.cursor)
        (again,) = second.run_requests or []
        assert again.tags["mlops/pending_files"] == "1" and _launch(defs, instance, again)

        third = _tick(defs, instance, second.cursor)
        assert not third.run_requests
        assert third.cursor == next_day.isoformat()  # neither the bad file's day nor the out-of-range one
        assert third.skip_reason and f"1 file(s) unreadable in {day} line-1" in (
            third.skip_reason.skip_message or ""
        )
        assert f"then backfill the partition: {keys[0].relative_path}" in capfd.readouterr().err


def test_dagster_run_retries_do_not_use_up_the_sensors_retries(
    lake: LocalLake, line_messages: list[TopicPayload]
) -> None:
    """Production retries every failed run twice (`run_retries` in the deployed instance config);
    a root run and its retries failing count as one failed run, so the sensor still asks again."""
    day = day_of(lake.land(line_messages[:20], per_file=10))
    broken = lake.home.joinpath("lake")
    run_retries = yaml.safe_load(DEPLOYED.read_text())["run_retries"]
    assert run_retries["max_retries"] == 2
    defs = build_definitions()
    with dg.instance_for_test(overrides={"run_retries": run_retries}) as instance:
        first = _tick(defs, instance, None)
        (request,) = first.run_requests or []
        broken.write_text("a file where the lake's folder should be")  # every run fails
        assert not _launch(defs, instance, request)
        (root,) = instance.get_runs()
        assert root.is_complete_and_waiting_to_retry  # Dagster will retry it: the sensor waits
        waiting = _tick(defs, instance, first.cursor)
        assert not waiting.run_requests
        assert waiting.skip_reason and "waiting for a run" in (waiting.skip_reason.skip_message or "")

        run = root
        for _ in range(run_retries["max_retries"]):
            run = _dagster_retry(instance, run)
            assert run.is_failure
        assert not run.is_complete_and_waiting_to_retry  # Dagster's retries are used up
        assert len(instance.get_runs()) == 3
        broken.unlink()

        # Three failed runs, but one root run: the sensor asks again, and that run succeeds.
        again = _tick(defs, instance, waiting.cursor)
        (retry,) = again.run_requests or []
        assert retry.run_key == f"{request.run_key}|retry-1" and retry.tags == request.tags
        assert _launch(defs, instance, retry)
        done = _tick(defs, instance, again.cursor)
        assert not done.run_requests and done.cursor == day.isoformat()
