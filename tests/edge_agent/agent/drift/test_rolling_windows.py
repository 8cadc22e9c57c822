"""The scoring worker's rolling windows: the newest windows in order across the wrap, a take only when
enough new ones arrived, a fresh start at a swap (pure logic); the times of the windows the scoring
stream keeps are exact."""

from __future__ import annotations

import numpy as np

from edge_agent.agent.drift.rolling_windows import RollingWindows
from edge_agent.agent.scoring.segment_buffer import BatchSpan, SegmentBuffer

N_FEATURES = 4


def windows(first: int, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Windows whose every value is its index (so each tells which it was)."""
    index = np.arange(first, first + n)
    values = np.repeat(index[:, None], N_FEATURES, axis=1).astype(np.float32)
    return values, index * 10, index * 10 + 5


def test_the_newest_windows_are_kept_oldest_first_across_the_wrap() -> None:
    rolling = RollingWindows(capacity=5)
    for first, n, cell in ((0, 3, "cell-01"), (3, 4, "cell-02"), (7, 1, "cell-01")):
        rolling.append("1", cell, *windows(first, n))
    taken = rolling.take(1)
    assert taken is not None
    assert np.array_equal(taken["windows"], windows(3, 5)[0])
    assert taken["start_ms"].tolist() == [30, 40, 50, 60, 70] and taken["end_ms"].tolist() == [
        35,
        45,
        55,
        65,
        75,
    ]
    assert taken["cells"] == ["cell-01", "cell-02"] and taken["version"] == "1"


def test_a_take_needs_enough_new_windows_and_starts_the_count_again() -> None:
    rolling = RollingWindows(capacity=10)
    rolling.append("1", "cell-01", *windows(0, 4))
    assert rolling.take(5) is None
    rolling.append("1", "cell-01", *windows(4, 1))
    first = rolling.take(5)
    assert first is not None and len(first["windows"]) == 5
    assert rolling.take(1) is None  # nothing new since
    rolling.append("1", "cell-02", *windows(5, 2))
    second = rolling.take(2)
    assert second is not None and second["start_ms"].tolist() == [i * 10 for i in range(7)]
    assert second["cells"] == ["cell-01", "cell-02"]


def test_a_batch_larger_than_the_buffer_keeps_its_newest_windows() -> None:
    rolling = RollingWindows(capacity=3)
    rolling.append("1", "cell-01", *windows(0, 8))
    taken = rolling.take(3)
    assert taken is not None and taken["start_ms"].tolist() == [50, 60, 70]


def test_another_model_version_starts_afresh() -> None:
    rolling = RollingWindows(capacity=10)
    rolling.append("1", "cell-01", *windows(0, 6))
    rolling.reset("2", N_FEATURES)
    assert rolling.take(1) is None
    rolling.append("2", "cell-03", *windows(0, 2))
    taken = rolling.take(2)
    assert taken is not None and taken["version"] == "2" and taken["cells"] == ["cell-03"]


def test_the_times_of_many_rows_match_the_batch_each_lies_in() -> None:
    buffer = SegmentBuffer(n=350, offset=0)
    buffer.spans = [
        BatchSpan(seq=1, start=0, n_samples=100, timestamp_ms=1_000, sample_interval_ms=1.0),
        BatchSpan(seq=2, start=100, n_samples=150, timestamp_ms=1_103, sample_interval_ms=0.3),  # a gap
        BatchSpan(seq=3, start=250, n_samples=100, timestamp_ms=1_200, sample_interval_ms=1.0),
    ]
    rows = np.arange(5, 350, 7, dtype=np.int64)
    assert buffer.samples_ms(rows).tolist() == [buffer.span_of(r).sample_ms(r) for r in rows.tolist()]
