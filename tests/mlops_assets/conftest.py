"""Fixtures of the lakehouse tests: simulator traffic sealed into landing files, a lake beside it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from edge_agent.files.landing_format import LandingKey
from edge_agent.simulator import LineConfig
from mlops_assets.lake import LakeStore
from mlops_assets.landing import LocalLandingZone
from tests.synthetic_landing import LocalTarget, TopicPayload, simulator_messages, write_landing_files

# A fixed start keeps tests reproducible; 2025-11-21 lies inside the daily partitions.
START_MS = 1763740800000


@dataclass
class LocalLake:
    home: Path
    store: LakeStore
    zone: LocalLandingZone
    target: LocalTarget

    @property
    def landing_root(self) -> Path:
        return self.home / "landing"

    def land(self, messages: list[TopicPayload], **kwargs: object) -> list[LandingKey]:
        kwargs.setdefault("received_start_ms", START_MS + 60_000)
        return write_landing_files(self.target, messages, **kwargs)  # type: ignore[arg-type]


@pytest.fixture
def lake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalLake]:
    """An empty lake and landing zone under MLOPS_HOME (what LOCAL resources bind to)."""
    monkeypatch.setenv("MLOPS_HOME", str(tmp_path))
    monkeypatch.delenv("MLOPS_ENV", raising=False)
    yield LocalLake(
        tmp_path,
        LakeStore(str(tmp_path / "lake")),
        LocalLandingZone(tmp_path / "landing"),
        LocalTarget(tmp_path / "landing"),
    )


@pytest.fixture(scope="session")
def line_messages() -> list[TopicPayload]:
    """300 telemetry batches of three simulated cells (100 samples each)."""
    return simulator_messages(LineConfig(start_ms=START_MS, seed=7), 300)


def day_of(keys: list[LandingKey]) -> dt.date:
    (day,) = {k.day for k in keys}
    return day
