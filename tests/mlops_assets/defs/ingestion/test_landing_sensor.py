"""`landing_sensor` against a real instance, landing zone and lake."""

from __future__ import annotations

import dagster as dg

from edge_agent.simulator import LineAddress, LineConfig
from mlops_assets.definitions import build_definitions
from mlops_assets.partitions import day_and_line
from tests.mlops_assets.conftest import START_MS, LocalLake, day_of
from tests.mlops_assets.defs.ingestion.runs import run_ingestion
from tests.mlops_assets.landing_files import Message, simulator_messages


def _tick(defs: dg.Definitions, instance: dg.DagsterInstance, cursor: str | None) -> dg.SensorResult:
    sensor = defs.resolve_sensor_def("landing_sensor")
    context = dg.build_sensor_context(instance=instance, cursor=cursor, resources=dict(defs.resources or {}))
    result = sensor(context)
    assert isinstance(result, dg.SensorResult)
    for request in result.dynamic_partitions_requests or []:  # what the daemon does with them
        instance.add_dynamic_partitions(request.partitions_def_name, list(request.partition_keys or []))
    return result


def test_new_files_become_one_run_per_partition_and_new_lines_register(
    lake: LocalLake, line_messages: list[Message]
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


def test_a_quiet_landing_zone_skips(lake: LocalLake) -> None:
    defs = build_definitions()
    with dg.instance_for_test() as instance:
        result = _tick(defs, instance, None)
    assert not result.run_requests and result.skip_reason is not None
