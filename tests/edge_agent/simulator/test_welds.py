"""The synthetic weld model: reproducible, contract-valid, and each defect leaves its signature."""

from __future__ import annotations

import numpy as np
import orjson
import pytest

from edge_agent.contract import ContractValidator
from edge_agent.domain import batch_weld
from edge_agent.simulator import MATERIALS, SIGNALS, AnomalyKind, LineConfig, SyntheticWeldGenerator, WeldLine
from tests.edge_agent.clock import START_MS


def _generator(**kwargs) -> SyntheticWeldGenerator:
    return SyntheticWeldGenerator(cell="cell-01", seed=11, start_ms=START_MS, **kwargs)


def _steady(values: np.ndarray) -> np.ndarray:
    return values[300:-400]


def test_same_seed_same_welds_other_seed_other_welds() -> None:
    a, b = _generator(anomaly_rate=0.5), _generator(anomaly_rate=0.5)
    c = SyntheticWeldGenerator(cell="cell-01", seed=12, start_ms=START_MS, anomaly_rate=0.5)
    for _ in range(5):
        wa, wb, wc = a.next_weld(), b.next_weld(), c.next_weld()
        assert wa.weld_id == wb.weld_id and wa.label == wb.label
        for name in SIGNALS:
            np.testing.assert_array_equal(wa.signals[name], wb.signals[name])
        assert not np.array_equal(wa.signals["current_a"][:100], wc.signals["current_a"][:100])


def test_normal_weld_has_arc_start_steady_state_and_crater_fill() -> None:
    weld = _generator().next_weld()
    op = MATERIALS["steel-s235-1.2mm"]
    current, voltage = weld.signals["current_a"], weld.signals["voltage_v"]
    assert weld.label is None and weld.n_samples >= 1500
    assert current[:20].max() > 1.4 * op.current_a  # ignition overshoot
    assert voltage[0] < 0.8 * op.voltage_v  # voltage dip at arc start
    assert abs(np.median(_steady(current)) - op.current_a) < 5
    assert abs(np.median(_steady(voltage)) - op.voltage_v) < 0.5
    assert current[-1] < 0.5 * op.current_a  # crater fill ramps down
    assert weld.signals["travel_speed_mm_s"][0] < 0.5


@pytest.mark.parametrize("kind", list(AnomalyKind))
def test_each_defect_is_visible_in_the_signals(kind: AnomalyKind) -> None:
    gen = _generator()
    normal = gen.next_weld()
    gen.inject(kind)
    defect = gen.next_weld()
    assert defect.label == kind.value and normal.label is None
    s, n = defect.signals, normal.signals
    if kind is AnomalyKind.POROSITY:
        assert _steady(s["voltage_v"]).max() > _steady(n["voltage_v"]).max() + 4
        assert _steady(s["current_a"]).min() < _steady(n["current_a"]).min() - 20
    elif kind is AnomalyKind.BURN_THROUGH:
        assert _steady(s["voltage_v"]).max() > _steady(n["voltage_v"]).max() + 5
        assert _steady(s["current_a"]).min() < 0.5 * _steady(n["current_a"]).min()
    elif kind is AnomalyKind.WIRE_STICK:
        assert _steady(s["voltage_v"]).min() < 3.0 < 15.0 < _steady(n["voltage_v"]).min()
        assert _steady(s["wire_feed_m_min"]).min() < 0.5
    else:
        assert s["gas_flow_l_min"].min() < 3.0 < 13.0 < n["gas_flow_l_min"].min()


def test_drift_shifts_the_operating_point_from_the_next_weld() -> None:
    gen = _generator()
    before = gen.next_weld()
    gen.drift = True
    after = gen.next_weld()
    assert after.drifted and not before.drifted
    shift = np.median(_steady(after.signals["current_a"])) / np.median(_steady(before.signals["current_a"]))
    assert shift > 1.12
    assert (
        np.median(_steady(after.signals["voltage_v"])) - np.median(_steady(before.signals["voltage_v"])) > 2.0
    )


def test_forcing_a_defect_does_not_change_the_rest_of_the_stream() -> None:
    plain, forced = _generator(), _generator()
    forced.inject(AnomalyKind.GAS_LOSS)
    forced.next_weld()
    plain.next_weld()
    np.testing.assert_array_equal(
        plain.next_weld().signals["current_a"], forced.next_weld().signals["current_a"]
    )


def test_batches_are_contract_valid_and_cover_the_weld(contract_validator: ContractValidator) -> None:
    weld = _generator().next_weld()
    batches = list(batch_weld(weld, 128, first_seq=5))
    assert [b.seq for b in batches] == list(range(5, 5 + len(batches)))
    assert sum(b.payload["n_samples"] for b in batches) == weld.n_samples
    assert batches[1].timestamp_ms - batches[0].timestamp_ms == 128
    for batch in batches:
        _name, error = contract_validator.check_data(
            "weldTelemetry", orjson.loads(orjson.dumps(batch.payload))
        )
        assert error is None, str(error)


def test_line_interleaves_cells_in_time_order_with_per_cell_sequences() -> None:
    line = WeldLine(LineConfig(cells=("cell-01", "cell-02"), seed=3, start_ms=START_MS, seq_start=0))
    items = [next(line.batches()) for _ in range(200)]
    stamps = [b.timestamp_ms for _, _, b in items]
    assert stamps == sorted(stamps)
    for cell in ("cell-01", "cell-02"):
        seqs = [b.seq for c, _, b in items if c == cell]
        assert seqs == list(range(len(seqs))) and len(seqs) > 50


def test_invalid_generator_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="anomaly_rate"):
        _generator(anomaly_rate=1.5)
    with pytest.raises(ValueError, match="sample_rate_hz"):
        _generator(sample_rate_hz=0)
