"""One platform for the package, trained once: every test starts from a champion that verifies and
makes its own candidate, so each runs alone as well as in any order."""

from __future__ import annotations

from collections.abc import Iterator

import dagster as dg
import pytest

from edge_agent.features import load_package
from mlops_assets.ml.registry import CHAMPION
from tests.mlops_assets.defs.packaging.support import FAST, LINE, MODEL, package_folder, platform_key
from tests.mlops_assets.defs.training.chain import Platform, simulated_welds, start_platform, write_line


@pytest.fixture(scope="package")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Platform, dg.ExecuteInProcessResult]]:
    """The platform and its first run of the whole chain (training once for the package)."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        running = start_platform(tmp_path_factory.mktemp("platform"), monkeypatch, [LINE])
        write_line(running.store, LINE, simulated_welds(["cell-01", "cell-02"], per_cell=40))
        first = running.materialize(LINE, FAST)
        assert first.success, [e.message for e in first.all_events if e.is_failure]
        yield running, first


@pytest.fixture
def platform(trained: tuple[Platform, dg.ExecuteInProcessResult]) -> Platform:
    """The package's platform with a champion whose package verifies with the platform key."""
    running, _ = trained
    champion = running.registry.by_alias(MODEL, CHAMPION)
    assert champion is not None
    load_package(package_folder(running, MODEL, champion.version), platform_key(running).public_key_b64)
    return running
