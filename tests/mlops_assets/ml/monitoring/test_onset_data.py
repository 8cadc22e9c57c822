"""How many welds silver holds after a drift onset (real Delta): welds that started before it, even
running at the onset, do not count; the training read (`rows_since`) keeps the same welds."""

from __future__ import annotations

from pathlib import Path

from edge_agent.domain import LineAddress
from edge_agent.simulator import SyntheticWeldGenerator
from mlops_assets.lake import LakeStore
from mlops_assets.ml.evaluation.silver_welds import silver_rows, write_silver
from mlops_assets.ml.monitoring.onset_data import welds_since
from mlops_assets.ml.training.telemetry import telemetry_slice

START_MS = 1_763_740_800_000


def test_only_the_welds_started_after_the_onset_count_and_train(tmp_path: Path) -> None:
    store = LakeStore(str(tmp_path / "lake"))
    assert welds_since(store, "line-1", START_MS) == 0  # no table yet
    generator = SyntheticWeldGenerator(cell="cell-01", seed=1, sample_rate_hz=200.0, start_ms=START_MS)
    before = [generator.next_weld() for _ in range(20)]
    generator.drift = True
    after = [generator.next_weld() for _ in range(15)]
    write_silver(store, silver_rows(before + after, "cell-01", LineAddress(line="line-1")))
    write_silver(store, silver_rows(after, "cell-07", LineAddress(line="line-2")))

    onset = after[0].start_ms
    assert welds_since(store, "line-1", onset) == 15
    assert welds_since(store, "line-1", before[-1].start_ms + 200) == 15  # weld 19 ran at the onset
    assert welds_since(store, "line-1", before[-1].start_ms) == 16
    assert welds_since(store, "line-1", after[-1].start_ms + 60_000) == 0
    assert welds_since(store, "line-3", onset) == 0

    sliced = telemetry_slice(store, "line-1", since_ms=before[-1].start_ms + 200)
    assert set(sliced.frame["weld_id"].unique()) == {w.weld_id for w in after}
    assert sliced.frame.height == sum(len(w.signals["current_a"]) for w in after)
    assert set(sliced.frame["recipe"].unique()) == {after[0].recipe} != {before[0].recipe}
