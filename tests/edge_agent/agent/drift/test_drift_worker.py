"""The drift worker process with real Evidently: the windows of the simulator's normal regime against a
normal reference are not drifted, nor are they with a defective weld among them; those of its drift
regime are, with the columns the new material moves named; the method asked for is the one used; a
reference without the spec's columns is refused with a clear error and the worker goes on."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from edge_agent.agent.drift.monitor import WORKER_MODULE
from edge_agent.agent.pipeline.child_process import ChildProcess
from edge_agent.agent.scoring.state_codec import pack, unpack
from edge_agent.features import FeatureSpec, profile_columns
from edge_agent.simulator import AnomalyKind
from tests.edge_agent.agent.scoring.packages import SPEC, make_package

from .regimes import DRIFTING, scored_windows


@pytest.fixture(scope="module")
def package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("drift-worker") / "package"
    make_package(folder, "1", realistic_profile=True)
    return folder


@pytest.fixture(scope="module")
def worker() -> Iterator[ChildProcess]:
    process = ChildProcess(WORKER_MODULE, [], "drift-test")
    hello = process.start()
    assert hello == {"ready": True, "worker": "drift"}
    try:
        yield process
    finally:
        process.stop()


def report(
    worker: ChildProcess,
    package: Path,
    windows: np.ndarray,
    spec: FeatureSpec = SPEC,
    method: str = "psi",
    threshold: float | None = 0.2,
) -> dict[str, Any]:
    request = {
        "op": "report",
        "package": str(package),
        "spec": spec.to_json(),
        "windows": windows,
        "drift_share": 0.25,
        "method": method,
        "threshold": threshold,
    }
    reply: dict[str, Any] = unpack(worker.call_raw(pack(request), timeout_s=300))
    return reply


def test_the_normal_regime_is_not_drifted(worker: ChildProcess, package: Path) -> None:
    reply = report(worker, package, scored_windows(cells=2, welds=4, seed=5, drift=False))
    assert reply["share"] < 0.25 and reply["drifted"] == sum(c["drifted"] for c in reply["columns"].values())
    assert set(reply["columns"]) == set(profile_columns(SPEC)) and reply["reference_rows"] > 1000
    assert {c["method"] for c in reply["columns"].values()} == {"psi"}
    assert not any(reply["columns"][name]["drifted"] for name in DRIFTING)


@pytest.mark.parametrize("defect", list(AnomalyKind))
def test_a_defective_weld_among_normal_ones_is_not_drift(
    worker: ChildProcess, package: Path, defect: AnomalyKind
) -> None:
    """One defective weld among 24 normal ones (what a report of the default 10,000 windows holds at
    the simulator's rates) is the scoring's business, not drift. The normed Wasserstein distance,
    Evidently's default for large references, weighs a weld by how far out it is: gas loss drives the
    share to 0.3 and more, which is why the agent's default method is PSI (binned)."""
    windows = scored_windows(cells=3, welds=8, seed=5, drift=False, defect=defect)
    assert report(worker, package, windows)["share"] < 0.25
    wasserstein = report(worker, package, windows, method="wasserstein", threshold=None)
    assert {c["method"] for c in wasserstein["columns"].values()} == {"wasserstein"}
    if defect == AnomalyKind.GAS_LOSS:
        assert wasserstein["share"] >= 0.25


def test_the_drift_regime_is_drifted_and_the_moved_columns_are_named(
    worker: ChildProcess, package: Path
) -> None:
    reply = report(worker, package, scored_windows(cells=2, welds=4, seed=5, drift=True))
    drifted = {name for name, column in reply["columns"].items() if column["drifted"]}
    assert set(DRIFTING) <= drifted
    assert all(reply["columns"][name]["score"] > 0.5 for name in DRIFTING)
    assert reply["share"] == pytest.approx(len(drifted) / len(reply["columns"])) and reply["share"] >= 0.25
    html = bytes(np.asarray(reply["html"], dtype=np.uint8))
    assert html.lstrip().lower().startswith(b"<html") or html.lstrip().lower().startswith(b"<!doctype html")
    assert b"current_a__mean" in html and '"metrics"' in reply["report_json"]


def test_a_reference_without_the_columns_is_refused_and_the_worker_goes_on(
    worker: ChildProcess, package: Path
) -> None:
    windows = scored_windows(cells=1, welds=1, seed=5, drift=False)
    other = FeatureSpec(
        signals=tuple(f"other_{name}" for name in SPEC.signals), window=SPEC.window, stride=SPEC.stride,
        center=SPEC.center, scale=SPEC.scale,
    )  # fmt: skip
    refused = report(worker, package, windows, other)
    assert "lacks the columns" in refused["failed"] and "other_current_a__mean" in refused["failed"]
    assert "share" in report(worker, package, windows)  # the same worker answers the next one
