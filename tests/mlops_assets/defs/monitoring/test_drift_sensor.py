"""`drift_sensor` against a real Dagster instance and Delta lake, reading drift summaries retained on a
real Mosquitto: one retraining per drift streak (run key, tags, `since_ms`), none under the threshold,
none within the cooldown, none until silver holds enough welds after the onset."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest

from edge_agent.uns.local_broker import LocalBroker, free_port
from mlops_assets.ml.monitoring.drift_policy import DriftState
from mlops_assets.ml.training.telemetry import day_of_ms
from tests.mlops_assets.defs.training.chain import metadata
from tests.mlops_assets.edge_reports import drift_report, publish

from .support import (
    ADDRESS,
    LINE,
    START_MS,
    MonitoringPlatform,
    start_monitoring_platform,
    welds,
    write_welds,
)

AGENT = "edge-line-1"
POLICY = {
    "DRIFT_CONSECUTIVE": 3,
    "DRIFT_MIN_WELDS": 10,
    "DRIFT_COOLDOWN_S": 3600,
    "DRIFT_SHARE_THRESHOLD": 0.5,
}
ONSET = START_MS + 100_000
"""The first drifted weld starts here; report 1's windows end here (the onset the sensor takes)."""


@pytest.fixture
def platform(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, broker: LocalBroker) -> MonitoringPlatform:
    return start_monitoring_platform(tmp_path, monkeypatch, broker.port, **POLICY)


def report_at(platform: MonitoringPlatform, n: int, share: float, agent: str = AGENT) -> str:
    """Report n of `agent` retained on its drift topic (replacing the previous one), computed at the
    onset plus 10 s per report after the first; its windows start 60 s before."""
    report = drift_report(ADDRESS, agent, n, ONSET + (n - 1) * 10_000, share)
    publish(platform.endpoint, report.topic, report.summary())
    return report.report_id


def look(platform: MonitoringPlatform, cursor: str | None) -> tuple[list[dg.RunRequest], str | None, str]:
    result = platform.tick("drift_sensor", cursor)
    skip = result.skip_reason.skip_message if result.skip_reason else ""
    return list(result.run_requests or []), result.cursor, skip or ""


def old_and_new_regime(platform: MonitoringPlatform, new_welds: int) -> None:
    write_welds(platform.store, welds(20, start_ms=START_MS, drift=False))
    write_welds(platform.store, welds(new_welds, start_ms=ONSET, drift=True, seed=2), first_seq=1000)


def test_a_drift_streak_requests_one_retraining_on_the_new_regime_then_cools_down(
    platform: MonitoringPlatform,
) -> None:
    old_and_new_regime(platform, 12)
    cursor = None
    for n, share in [(1, 0.75), (2, 1.0)]:
        report_at(platform, n, share)
        requests, cursor, note = look(platform, cursor)
        assert requests == [] and f"{AGENT} {n} of 3 drifting reports" in note
    report_at(platform, 3, 1.0)
    (request,), cursor, _ = look(platform, cursor)
    assert (request.run_key, request.partition_key) == (f"{AGENT}:3", LINE)
    assert request.run_config == {"ops": {"weld_features": {"config": {"since_ms": ONSET}}}}
    assert request.tags["mlops/trigger"] == "drift" and request.tags["mlops/drift_report_id"] == f"{AGENT}:3"
    assert request.tags["mlops/drift_first_report_id"] == f"{AGENT}:1"
    assert (
        request.tags["mlops/drift_onset_ms"] == str(ONSET) and request.tags["mlops/drift_share"] == "1.0000"
    )
    assert request.tags["mlops/drift_report_uri"].endswith("drift-edge-line-1-000000000003-000000000003.html")
    assert look(platform, cursor)[0] == []  # the same retained report at the next look

    # the daemon launches it: weld_features reads the welds since the onset only
    run = platform.launch(request, "weld_features")
    features = metadata(run, "weld_features")
    assert features["since_ms"] == ONSET and features["telemetry_rows"] == sum(
        len(w.signals["current_a"]) for w in welds(12, start_ms=ONSET, drift=True, seed=2)
    )
    assert (
        features["segments"]["train_segments"]
        + features["segments"]["validation_segments"]
        + features["segments"]["holdout_segments"]
        == 12
    )
    assert features["telemetry_days"]["first"] == str(day_of_ms(ONSET))

    # a second streak within the cooldown: nothing, with the cursor...
    for n in (4, 5, 6):
        report_at(platform, n, 1.0)
        requests, cursor, note = look(platform, cursor)
        assert requests == []
    assert "cooling down" in note
    # ...and without it (a reset sensor): the instance remembers the drift run of the line
    fresh = None
    for n in (7, 8, 9):
        report_at(platform, n, 1.0)
        requests, fresh, note = look(platform, fresh)
        assert requests == []
    assert "cooling down" in note


def test_reports_under_the_threshold_request_nothing(platform: MonitoringPlatform) -> None:
    old_and_new_regime(platform, 12)
    cursor = None
    for n in range(1, 7):
        report_at(platform, n, 0.25)
        requests, cursor, note = look(platform, cursor)
        assert requests == [] and note == "no line drifts"
    # drift interrupted by one calm report: the streak starts again
    for n, share in [(7, 1.0), (8, 1.0), (9, 0.25), (10, 1.0), (11, 1.0)]:
        report_at(platform, n, share)
        requests, cursor, _ = look(platform, cursor)
        assert requests == []


def test_it_waits_until_silver_holds_enough_welds_after_the_onset(platform: MonitoringPlatform) -> None:
    old_and_new_regime(platform, 3)
    cursor = None
    for n in (1, 2, 3):
        report_at(platform, n, 1.0)
        requests, cursor, note = look(platform, cursor)
        assert requests == []
    assert "waiting for data: 3 of 10 welds since the onset in silver" in note
    requests, cursor, note = look(platform, cursor)  # nothing new: still waiting
    assert requests == [] and "3 of 10 welds" in note
    write_welds(platform.store, welds(12, start_ms=ONSET + 20_000, drift=True, seed=3), first_seq=5000)
    (request,), cursor, _ = look(platform, cursor)
    assert (
        request.run_key == f"{AGENT}:3"
        and request.run_config["ops"]["weld_features"]["config"]["since_ms"] == ONSET
    )


def test_a_summary_that_breaks_the_contract_is_ignored(platform: MonitoringPlatform) -> None:
    old_and_new_regime(platform, 12)
    bad = drift_report(ADDRESS, "edge-other", 1, ONSET + 60_000, 1.0)
    publish(platform.endpoint, bad.topic, {**bad.summary(), "drift_share": 7.0}, check=False)
    cursor = None
    for n in (1, 2, 3):
        report_at(platform, n, 1.0)
        requests, cursor, _ = look(platform, cursor)
    assert [r.run_key for r in requests] == [f"{AGENT}:3"]
    assert "edge-other" not in (cursor or "")


def test_an_unreachable_broker_skips_the_tick_and_keeps_the_cursor(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    platform = start_monitoring_platform(tmp_path, monkeypatch, free_port(), **POLICY)
    cursors = {
        "drift_sensor": DriftState(requested_ms={LINE: ONSET}).to_json(),
        "edge_fleet_sensor": '{"dead": [], "states": {"edge-line-1": "ONLINE|alive|1"}}',
    }
    for sensor, cursor in cursors.items():
        result = platform.tick(sensor, cursor)
        assert result.cursor == cursor and result.run_requests == [] and result.asset_events == []
        assert "the UNS cannot be read" in (result.skip_reason.skip_message or "")  # type: ignore[union-attr]
