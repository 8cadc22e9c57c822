"""`validated_telemetry_is_fresh`: newest telemetry per line against the configured staleness."""

from __future__ import annotations

import datetime as dt

import dagster as dg
import pytest

from edge_agent.simulator import LineConfig
from mlops_assets.definitions import build_definitions
from tests.mlops_assets.conftest import LocalLake, day_of
from tests.mlops_assets.defs.ingestion.runs import run_ingestion
from tests.synthetic_landing import simulator_messages


@pytest.mark.parametrize(("max_hours", "fresh"), [(3.0, True), (1.0, False)])
def test_freshness_against_data_received_two_hours_ago(
    lake: LocalLake, monkeypatch: pytest.MonkeyPatch, max_hours: float, fresh: bool
) -> None:
    received = dt.datetime.now(dt.UTC) - dt.timedelta(hours=2)
    received_ms = int(received.timestamp() * 1000)
    messages = simulator_messages(LineConfig(start_ms=received_ms - 60_000), 30)
    day = day_of(lake.land(messages, per_file=30, received_start_ms=received_ms, received_step_ms=1))
    monkeypatch.setenv("MLOPS_MAX_STALENESS_HOURS", str(max_hours))
    defs = build_definitions()
    with dg.instance_for_test() as instance:
        run_ingestion(instance, day, "line-1", defs)
        result = defs.resolve_job_def("freshness_check_job").execute_in_process(instance=instance)

    (evaluation,) = result.get_asset_check_evaluations()
    assert evaluation.check_name == "validated_telemetry_is_fresh" and evaluation.passed is fresh
    assert evaluation.metadata["stale_lines"].value == ("none" if fresh else "line-1")
