"""The edge's streaming segmenter and windows against the platform's, on the same telemetry; swaps,
duplicates, alerts and the checkpoint round trip. The model here is a pure-numpy stand-in (this is a
test of the stream logic, not of ONNX Runtime: `test_scoring_engine.py` runs real packages)."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from edge_agent.agent.scoring.alerts import AlertPolicy, AlertState
from edge_agent.agent.scoring.cell_stream import CellStream, StreamLimits
from edge_agent.agent.scoring.state_codec import pack, unpack
from edge_agent.domain import batch_weld
from edge_agent.features import FeatureSpec, WeldScorer
from edge_agent.features.telemetry_block import TelemetryBlock, block_from_payload, decode_block, encode_block
from edge_agent.simulator import SIGNALS, AnomalyKind, SyntheticWeldGenerator
from mlops_assets.ml.autoencoder.dataset import windows_of
from mlops_assets.ml.evaluation.silver_welds import silver_rows
from mlops_assets.ml.training.telemetry_segments import telemetry_segments


class RecordingModel:
    """Scores a window by its mean absolute value and records every window it was asked about."""

    def __init__(self, version: str, spec: FeatureSpec, threshold: float = 1.0) -> None:
        self.version = version
        self.spec = spec
        self.threshold = threshold
        self.weld_scorer: WeldScorer | None = WeldScorer(aggregation="mean", shape_threshold=threshold)
        self.windows: list[np.ndarray] = []

    def score(self, windows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        self.windows.append(windows.copy())
        scores = np.abs(windows).mean(axis=1).astype(np.float32)
        per_signal = np.abs(windows.reshape(len(windows), self.spec.window, self.spec.n_signals)).mean(axis=1)
        return scores, per_signal.astype(np.float32)

    def all_windows(self) -> np.ndarray:
        return np.concatenate(self.windows) if self.windows else np.empty((0, self.spec.n_features))


def _spec(window: int = 32, stride: int = 8) -> FeatureSpec:
    return FeatureSpec(
        signals=SIGNALS,
        window=window,
        stride=stride,
        center=(200.0, 24.0, 8.0, 15.0, 6.0),
        scale=(20.0, 2.0, 1.0, 1.0, 1.0),
    )


def _welds(count: int, seed: int = 3) -> list:
    generator = SyntheticWeldGenerator(cell="cell-01", seed=seed, start_ms=1_763_740_800_000)
    generator.inject(AnomalyKind.POROSITY)
    return [generator.next_weld() for _ in range(count)]


def _batches(welds: list, *, weld_ids: bool = True) -> list[dict]:
    payloads, seq = [], 100
    for weld in welds:
        for batch in batch_weld(weld, 100, seq):
            payload = dict(batch.payload)
            if not weld_ids:
                payload.pop("weld_id")
            payloads.append(payload)
            seq = batch.seq + 1
    return payloads


def _feed(stream: CellStream, payloads: list[dict], model, shadow=None) -> list:
    return [
        stream.feed(decode_block(encode_block(block_from_payload(p))), model, shadow, now=0.0)
        for p in payloads
    ]


@pytest.mark.parametrize("weld_ids", [True, False], ids=["welds", "gaps"])
def test_the_edge_cuts_the_same_segments_and_windows_as_the_platform(weld_ids: bool) -> None:
    welds = _welds(4)
    payloads = _batches(welds, weld_ids=weld_ids)
    spec = _spec()
    frame = silver_rows(welds, "cell-01", first_seq=100)
    if not weld_ids:
        frame = frame.with_columns(pl.lit(None, dtype=pl.String).alias("weld_id"))
    platform_segments = telemetry_segments(frame, list(SIGNALS))
    platform = windows_of(platform_segments, spec, list(SIGNALS))

    model = RecordingModel("1", spec)
    stream = CellStream("cell-01", AlertPolicy(), StreamLimits())
    fed = _feed(stream, payloads, model)
    closed = [f.result["weld"] for f in fed if f.result and "weld" in f.result]

    assert len(platform_segments) == len(welds)
    np.testing.assert_array_equal(model.all_windows()[: len(platform)], platform.windows)
    assert sum(f.result["windows"] for f in fed if f.result) == len(platform)
    if weld_ids:  # every weld but the open last one closed, with the platform segment's length
        assert [c["n_samples"] for c in closed] == [s.n_rows for s in platform_segments[:-1]]
        assert [c["weld_id"] for c in closed] == [s.weld_id for s in platform_segments[:-1]]
        assert all(c["closed_by"] == "next_weld" for c in closed)


def test_every_batch_gets_one_result_and_a_duplicate_none() -> None:
    payloads = _batches(_welds(2))
    model = RecordingModel("1", _spec())
    stream = CellStream("cell-01", AlertPolicy(), StreamLimits())
    fed = _feed(stream, payloads, model)
    again = _feed(stream, payloads[3:5], model)
    assert [f.result["seq"] for f in fed] == [p["seq"] for p in payloads]
    assert len({f.result["result_id"] for f in fed}) == len(payloads)
    assert [f.unscored for f in again] == ["duplicate", "duplicate"]


def test_a_model_swapped_in_mid_weld_scores_from_its_first_batch_and_judges_the_whole_weld() -> None:
    payloads = _batches(_welds(2))
    old, new = RecordingModel("1", _spec()), RecordingModel("2", _spec(window=16, stride=4))
    stream = CellStream("cell-01", AlertPolicy(), StreamLimits())
    first = _feed(stream, payloads[:5], old)
    second = _feed(stream, payloads[5:], new)
    assert {f.result["model_version"] for f in first} == {"1"}
    assert {f.result["model_version"] for f in second} == {"2"}
    # The new model's first windows end in its first batch (context from before it), none earlier.
    first_new = second[0].result
    assert first_new["window_start_seq"] < first_new["seq"] == payloads[5]["seq"]
    verdict = next(f.result["weld"] for f in second if "weld" in f.result)
    n_first_weld = sum(p["n_samples"] for p in payloads if p["weld_id"] == payloads[0]["weld_id"])
    assert verdict["n_samples"] == n_first_weld
    assert verdict["windows"] == len(range(0, n_first_weld - 16 + 1, 4))  # all of them, by the new model


def test_the_shadow_scores_the_same_batches_unpublished() -> None:
    payloads = _batches(_welds(1))
    active, shadow = RecordingModel("2", _spec()), RecordingModel("1", _spec(), threshold=0.5)
    fed = _feed(CellStream("cell-01", AlertPolicy(), StreamLimits()), payloads, active, shadow)
    batches = sum(f.counts["2"][0] for f in fed)
    assert batches == sum(f.counts["1"][0] for f in fed) == len(payloads)
    assert all(f.result["model_version"] == "2" for f in fed)
    assert sum(f.counts["1"][1] for f in fed) == sum(f.counts["2"][1] for f in fed)


def test_without_a_model_batches_are_unscored_and_kept_as_context() -> None:
    payloads = _batches(_welds(1))
    model = RecordingModel("1", _spec())
    stream = CellStream("cell-01", AlertPolicy(), StreamLimits())
    early = _feed(stream, payloads[:3], None)
    late = _feed(stream, payloads[3:], model)
    assert [f.unscored for f in early] == ["no_model"] * 3
    assert late[0].result["window_start_seq"] < late[0].result["seq"]


def test_alerts_need_consecutive_windows_and_clear_with_hysteresis() -> None:
    policy = AlertPolicy(raise_after=3, clear_after=2, clear_ratio=0.8)
    state = AlertState()
    assert not state.update(np.array([2.0, 2.0, 0.1, 2.0, 2.0]), 1.0, 1, policy)
    assert state.update(np.array([2.0]), 1.0, 2, policy) and state.state == "alert"
    assert not state.update(np.array([0.9, 0.5, 0.9, 0.5]), 1.0, 3, policy)  # 0.9 is inside the band
    assert state.update(np.array([0.5]), 1.0, 4, policy) and (state.state, state.since_seq) == ("normal", 4)


def test_a_restored_stream_goes_on_exactly_as_one_that_never_stopped() -> None:
    payloads = _batches(_welds(3), weld_ids=True)
    spec = _spec()
    whole = _feed(CellStream("cell-01", AlertPolicy(), StreamLimits()), payloads, RecordingModel("1", spec))
    first = CellStream("cell-01", AlertPolicy(), StreamLimits())
    _feed(first, payloads[:23], RecordingModel("1", spec))
    state = unpack(pack(first.to_state()))
    restored = CellStream.from_state("cell-01", state, AlertPolicy(), StreamLimits())
    rest = _feed(restored, payloads[23:], RecordingModel("1", spec))
    assert [f.result for f in rest] == [f.result for f in whole[23:]]


def test_a_block_survives_its_wire_form_bit_for_bit() -> None:
    payload = _batches(_welds(1))[0]
    block = block_from_payload(payload)
    again = decode_block(encode_block(block))
    assert isinstance(again, TelemetryBlock)
    assert (again.seq, again.timestamp_ms, again.weld_id, again.n_samples) == (
        block.seq, block.timestamp_ms, block.weld_id, block.n_samples,
    )  # fmt: skip
    for name, values in block.signals.items():
        np.testing.assert_array_equal(again.signals[name], values)
