"""The shared feature code: spec fitting, windows, missing values, and that the edge stays light."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from edge_agent.features import (
    FeatureSpec,
    fill_missing,
    fit_feature_spec,
    pad_to_window,
    profile_columns,
    select_signals,
    standardise,
    window_matrix,
    window_profile,
    window_starts,
)


def test_spec_is_fitted_robustly_and_drops_constant_and_empty_signals() -> None:
    rng = np.random.default_rng(0)
    good = rng.normal(10.0, 2.0, 2000)
    good[:5] = 1e6  # a few absurd readings in "normal" data must not move centre or scale much
    values = np.stack([good, np.full(2000, 3.0), np.full(2000, np.nan)], axis=1)
    spec = fit_feature_spec(values, ["a", "const", "empty"], window=8, stride=2)
    assert spec.signals == ("a",)
    assert spec.dropped == {
        "const": "constant in the training data",
        "empty": "no values in the training data",
    }
    assert abs(spec.center[0] - 10.0) < 0.2 and abs(spec.scale[0] - 2.0) < 0.2
    assert FeatureSpec.from_json(spec.to_json()) == spec


def test_spec_refuses_unknown_versions_and_bad_values() -> None:
    spec = fit_feature_spec(np.arange(20.0)[:, None], ["a"], 4, 1)
    data = spec.to_dict()
    with pytest.raises(ValueError, match="version"):
        FeatureSpec.from_dict({**data, "version": 99})
    with pytest.raises(ValueError, match="scale"):
        FeatureSpec.from_dict({**data, "scale": [0.0]})
    with pytest.raises(ValueError, match="lacks the field"):
        FeatureSpec.from_dict({k: v for k, v in data.items() if k != "window"})


def test_windows_are_time_major_and_standardised() -> None:
    spec = FeatureSpec(("a", "b"), window=3, stride=2, center=(1.0, 10.0), scale=(2.0, 5.0))
    raw = np.stack([np.arange(7.0), 10.0 + 5.0 * np.arange(7.0)], axis=1)
    z = standardise(raw, spec)
    windows = window_matrix(z, spec.window, spec.stride)
    assert windows.shape == (3, 6) and windows.dtype == np.float32
    for row, start in zip(windows, window_starts(7, 3, 2), strict=True):
        expected = [v for t in range(start, start + 3) for v in ((t - 1.0) / 2.0, float(t))]
        np.testing.assert_allclose(row, expected, rtol=1e-6)


def test_missing_values_carry_forward_and_leading_gaps_become_the_centre() -> None:
    raw = np.array([[np.nan, 1.0], [2.0, np.nan], [np.nan, np.nan], [5.0, 4.0]])
    filled = fill_missing(raw)
    np.testing.assert_array_equal(filled[1:, 0], [2.0, 2.0, 5.0])
    np.testing.assert_array_equal(filled[:, 1], [1.0, 1.0, 1.0, 4.0])
    assert np.isnan(filled[0, 0])
    spec = FeatureSpec(("a", "b"), 2, 1, center=(3.0, 0.0), scale=(1.0, 1.0), clip=2.0)
    z = standardise(filled, spec)
    assert z[0, 0] == 0.0  # missing -> centre
    assert z[3, 1] == 2.0  # clipped


def test_short_segments_are_padded_with_their_first_row() -> None:
    values = np.array([[1.0], [2.0]])
    padded, added = pad_to_window(values, 4)
    assert added == 2 and padded[:, 0].tolist() == [1.0, 1.0, 1.0, 2.0]
    assert pad_to_window(values, 2)[1] == 0


def test_select_signals_orders_by_spec_and_fills_absent_ones() -> None:
    spec = FeatureSpec(("b", "a", "c"), 2, 1, (0.0, 0.0, 0.0), (1.0, 1.0, 1.0))
    out = select_signals({"a": np.array([1.0, 2.0]), "b": np.array([3.0, 4.0])}, spec)
    assert out[:, 0].tolist() == [3.0, 4.0] and out[:, 1].tolist() == [1.0, 2.0] and np.isnan(out[:, 2]).all()


def test_profile_is_in_engineering_units() -> None:
    spec = FeatureSpec(("a",), window=4, stride=4, center=(100.0,), scale=(10.0,))
    raw = np.array([[100.0], [110.0], [90.0], [100.0]])
    profile = window_profile(window_matrix(standardise(raw, spec), 4, 4), spec)
    assert list(profile) == profile_columns(spec)
    assert profile["a__mean"][0] == pytest.approx(100.0)
    assert profile["a__std"][0] == pytest.approx(np.std(raw))


def test_edge_features_import_no_heavy_package() -> None:
    code = (
        "import sys, edge_agent.features; "
        "heavy = [m for m in ('torch', 'polars', 'dagster', 'mlflow', 'onnx') if m in sys.modules]; "
        "print(heavy); sys.exit(1 if heavy else 0)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr


def test_a_zero_window_or_stride_is_refused_not_looped_on() -> None:
    z = np.zeros((10, 2), dtype=np.float32)
    for window, stride in ((3, 0), (0, 1), (-1, 1)):
        with pytest.raises(ValueError, match="window and stride must be >= 1"):
            window_starts(10, window, stride)
        with pytest.raises(ValueError, match="window and stride must be >= 1"):
            window_matrix(z, window, stride)
    with pytest.raises(ValueError, match="window and stride must be >= 1"):
        FeatureSpec(("a",), window=4, stride=0, center=(0.0,), scale=(1.0,))
    with pytest.raises(ValueError, match="at least one signal"):
        FeatureSpec((), window=4, stride=1, center=(), scale=())


def test_an_ill_typed_spec_names_the_field() -> None:
    data = FeatureSpec(("ab",), window=4, stride=2, center=(0.0,), scale=(1.0,)).to_dict()
    cases: list[tuple[object, str]] = [
        ([data], "a feature spec must be an object"),
        ({**data, "version": "1"}, "version '1' is not supported"),
        ({**data, "signals": "ab"}, "'signals' must be a list of strings"),  # not ("a", "b")
        ({**data, "window": 4.5}, "'window' must be an integer"),
        ({**data, "stride": True}, "'stride' must be an integer"),
        ({**data, "center": [None]}, "'center' must be a list of numbers"),
        ({**data, "clip": float("nan")}, "clip must be a positive finite number"),
        ({**data, "clip": "50"}, "'clip' must be a number"),
        ({**data, "dropped": ["x"]}, "'dropped' must be an object"),
    ]
    for bad, message in cases:
        with pytest.raises(ValueError, match=message):
            FeatureSpec.from_dict(bad)  # type: ignore[arg-type]
