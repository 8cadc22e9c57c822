"""The labelled history the new-regime rule reads, on a real Delta lake: the line's bad welds only, the
weld labels pinned to a version (labels written later are not seen), the latest welds when capped,
and a label without telemetry left out."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge_agent.simulator import SIGNALS
from mlops_assets.lake import VALIDATED_TELEMETRY, LakeStore
from mlops_assets.ml.release.history_set import labelled_history
from mlops_assets.ml.training.labels import WELD_LABELS, _frame, write_labels
from tests.mlops_assets.defs.training.chain import simulated_welds, write_line

LINE = "line-1"


@pytest.fixture
def lake(tmp_path: Path) -> tuple[LakeStore, dict[str, float]]:
    """Two cells of simulated welds (30 % defective, labelled) on line-1, and another line whose welds,
    with the same weld ids as line-1's first ones, are all labelled bad."""
    store = LakeStore(str(tmp_path / "lake"))
    welds = simulated_welds(["cell-01", "cell-02"], per_cell=12, anomaly_rate=0.3)
    write_line(store, LINE, welds)
    write_line(store, "line-2", simulated_welds(["cell-01"], per_cell=6, anomaly_rate=1.0, seed=5))
    bad = {w.weld_id: w.start_ms for cell in welds.values() for w in cell if w.label is not None}
    return store, bad


def test_only_the_lines_bad_welds_are_read(lake: tuple[LakeStore, dict[str, float]]) -> None:
    store, bad = lake
    telemetry = store.version(VALIDATED_TELEMETRY)
    assert telemetry is not None and len(bad) >= 3
    history = labelled_history(
        store, LINE, telemetry_version=telemetry, labels_version=None, signals=SIGNALS, max_welds=100
    )
    assert {s.weld_id for s in history.segments} == set(bad)
    assert all(s.anomalous for s in history.segments) and history.labelled_bad == len(bad)
    assert history.labels_version == store.version(WELD_LABELS) and history.signals == list(SIGNALS)
    rows = store.read(VALIDATED_TELEMETRY, line=LINE, columns=["weld_id"])
    per_weld = rows.group_by("weld_id").len()
    lengths = dict(zip(per_weld["weld_id"].to_list(), per_weld["len"].to_list(), strict=True))
    assert all(s.n_rows == lengths[s.weld_id] for s in history.segments)  # whole welds, nothing else


def test_labels_are_read_at_the_pinned_version(lake: tuple[LakeStore, dict[str, float]]) -> None:
    store, bad = lake
    telemetry, pinned = store.version(VALIDATED_TELEMETRY), store.version(WELD_LABELS)
    assert telemetry is not None and pinned is not None
    normal = store.read(WELD_LABELS, line=LINE).filter(~store.read(WELD_LABELS, line=LINE)["is_anomaly"])
    relabelled = normal["weld_id"][0]
    write_labels(store, _frame(LINE, [(relabelled, True, "porosity")], "inspection"))

    def found(version: int | None) -> set[str | None]:
        history = labelled_history(
            store, LINE, telemetry_version=telemetry, labels_version=version, signals=SIGNALS, max_welds=100
        )
        return {s.weld_id for s in history.segments}

    assert found(pinned) == set(bad)
    assert found(None) == {*bad, relabelled}  # the latest labels, when no version is pinned


def test_the_latest_welds_when_capped_and_labels_without_telemetry_left_out(
    lake: tuple[LakeStore, dict[str, float]],
) -> None:
    store, bad = lake
    write_labels(store, _frame(LINE, [("never-welded", True, "porosity")], "inspection"))
    telemetry = store.version(VALIDATED_TELEMETRY)
    assert telemetry is not None
    history = labelled_history(
        store, LINE, telemetry_version=telemetry, labels_version=None, signals=SIGNALS, max_welds=2
    )
    latest = sorted(bad, key=lambda weld: bad[weld])[-2:]
    assert sorted(s.weld_id for s in history.segments) == sorted(latest)  # type: ignore[type-var]
    assert history.labelled_bad == len(bad) + 1


def test_no_label_table_is_an_empty_history(tmp_path: Path) -> None:
    store = LakeStore(str(tmp_path / "lake"))
    history = labelled_history(
        store, LINE, telemetry_version=0, labels_version=None, signals=SIGNALS, max_welds=5
    )
    assert history.segments == [] and history.labels_version is None and history.labelled_bad == 0


def test_no_signal_with_a_value_is_an_error(lake: tuple[LakeStore, dict[str, float]]) -> None:
    store, _ = lake
    telemetry = store.version(VALIDATED_TELEMETRY)
    assert telemetry is not None
    with pytest.raises(ValueError, match="none of the signals"):
        labelled_history(
            store, LINE, telemetry_version=telemetry, labels_version=None, signals=["no_such"], max_welds=5
        )
