"""A line's place on the UNS comes from its newest silver telemetry (a real Delta table)."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge_agent.domain import LineAddress
from edge_agent.simulator import SyntheticWeldGenerator
from mlops_assets.lake import LakeStore
from mlops_assets.ml.evaluation.silver_welds import silver_rows, write_silver
from mlops_assets.ml.rollout.line_address import line_address

START_MS = 1_763_740_800_000


def test_the_newest_row_of_the_line_names_its_enterprise_site_and_area(tmp_path: Path) -> None:
    store = LakeStore(str(tmp_path / "lake"))
    with pytest.raises(LookupError, match="ingest line line-1"):
        line_address(store, "line-1")
    early = SyntheticWeldGenerator(cell="cell-01", seed=1, start_ms=START_MS)
    late = SyntheticWeldGenerator(cell="cell-01", seed=1, start_ms=START_MS + 86_400_000)
    write_silver(store, silver_rows([early.next_weld()], "cell-01", LineAddress(site="old-plant", area="a1")))
    write_silver(store, silver_rows([late.next_weld()], "cell-01", LineAddress(site="plant-2", area="a2")))
    write_silver(store, silver_rows([late.next_weld()], "cell-01", LineAddress(line="line-2")))
    assert line_address(store, "line-1") == LineAddress(site="plant-2", area="a2", line="line-1")
    with pytest.raises(LookupError, match="has no row of line line-3"):
        line_address(store, "line-3")
