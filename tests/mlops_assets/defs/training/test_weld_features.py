"""`weld_features` in a real Dagster instance on a real Delta lake: the `days` setting of the launchpad
decides how much of the line's telemetry is read, `since_ms` from when (a retraining after drift)."""

import dagster as dg
import pytest

from edge_agent.simulator import SyntheticWeldGenerator
from mlops_assets.ml.training.feature_table import WELD_FEATURES
from tests.mlops_assets.defs.training.chain import START_MS, metadata, start_platform, write_line

LINE = "line-1"
DAY_MS = 86_400_000
FEATURES = dg.AssetSelection.assets("weld_features")


def test_days_is_a_launchpad_setting_and_limits_the_telemetry_read(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    platform = start_platform(tmp_path_factory.mktemp("platform"), monkeypatch, [LINE])
    job = platform.defs.resolve_job_def("model_training_job")
    ops = job.run_config_schema.config_type.fields["ops"].config_type  # type: ignore[union-attr]
    config = ops.fields["weld_features"].config_type.fields["config"].config_type  # type: ignore[attr-defined]
    days = config.fields["days"]
    assert days.default_value == 30 and "Days of telemetry" in (days.description or "")

    for day in (0, 3):  # two days of welds, three days apart
        generator = SyntheticWeldGenerator(
            cell="cell-01",
            seed=day,
            anomaly_rate=0.15,
            sample_rate_hz=200.0,
            start_ms=START_MS + day * DAY_MS,
        )
        write_line(platform.store, LINE, {"cell-01": [generator.next_weld() for _ in range(30)]})

    everything = metadata(platform.materialize(LINE, selection=FEATURES), "weld_features")
    assert everything["telemetry_days"]["days"] == 2
    latest = metadata(
        platform.materialize(LINE, {"weld_features": {"config": {"days": 2}}}, selection=FEATURES),
        "weld_features",
    )
    assert latest["telemetry_days"]["days"] == 1
    assert (
        latest["telemetry_days"]["first"]
        == latest["telemetry_days"]["last"]
        == everything["telemetry_days"]["last"]
    )
    assert latest["telemetry_rows"] < everything["telemetry_rows"]
    assert sum(latest["windows"].values()) < sum(everything["windows"].values())
    all_days = metadata(
        platform.materialize(LINE, {"weld_features": {"config": {"days": 0}}}, selection=FEATURES),
        "weld_features",
    )
    assert all_days["telemetry_rows"] == everything["telemetry_rows"]


def test_since_ms_trains_on_the_welds_since_the_drift_onset_only(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    platform = start_platform(tmp_path_factory.mktemp("platform"), monkeypatch, [LINE])
    generator = SyntheticWeldGenerator(cell="cell-01", seed=5, sample_rate_hz=200.0, start_ms=START_MS)
    old = [generator.next_weld() for _ in range(30)]
    generator.drift = True  # a new material: current, voltage and wire feed shift
    new = [generator.next_weld() for _ in range(30)]
    write_line(platform.store, LINE, {"cell-01": old + new})
    onset = new[0].start_ms - 200  # weld 29 still runs then: it belongs to neither regime's training

    everything = metadata(platform.materialize(LINE, selection=FEATURES), "weld_features")
    since = metadata(
        platform.materialize(LINE, {"weld_features": {"config": {"since_ms": onset}}}, selection=FEATURES),
        "weld_features",
    )
    assert "since_ms" not in everything and since["since_ms"] == onset
    assert since["telemetry_rows"] == sum(len(w.signals["current_a"]) for w in new)
    assert (
        sum(since["segments"][k] for k in ("train_segments", "validation_segments", "holdout_segments")) == 30
    )
    assert since["first_sample_at"] > everything["first_sample_at"]

    def centre(found: dict, signal: str) -> float:
        spec = found["feature_spec"]
        return float(spec["center"][spec["signals"].index(signal)])

    # the spec is fitted on the new regime's training welds: its current is the new material's
    assert centre(since, "current_a") > centre(everything, "current_a") + 20
    rows = platform.store.read(WELD_FEATURES, line=LINE)
    assert set(rows["weld_id"].unique()) == {w.weld_id for w in new}
