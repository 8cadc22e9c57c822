"""The weld score (pure numpy): the duration component, the combination, and the threshold.json formats."""

from __future__ import annotations

import numpy as np
import pytest

from edge_agent.features import (
    DurationModel,
    WeldScorer,
    aggregate,
    aggregate_groups,
    duration_scores,
    fit_duration,
)


def test_duration_is_fitted_robustly_and_scores_both_sides() -> None:
    rng = np.random.default_rng(0)
    lengths = rng.normal(700.0, 20.0, 4000).round()
    lengths[:40] = 5000.0  # a few runaway welds in "normal" training data barely move centre or scale
    center, scale = fit_duration(lengths)
    assert abs(center - 700.0) < 2.0 and abs(scale - 20.0) < 1.5
    z = duration_scores(np.array([center - 3 * scale, center, center + 3 * scale]), center, scale)
    np.testing.assert_allclose(z, [3.0, 0.0, 3.0])


def test_duration_scale_never_collapses_on_equal_lengths() -> None:
    assert fit_duration(np.full(50, 400.0)) == (400.0, 1.0)
    # Almost all equal: the central spread, and never below one sample.
    mostly = np.concatenate([np.full(990, 400.0), np.arange(10) + 401.0])
    center, scale = fit_duration(mostly)
    assert center == 400.0 and scale >= 1.0
    with pytest.raises(ValueError, match="no weld lengths"):
        fit_duration(np.array([np.nan]))


def test_aggregate_and_groups_agree_and_reject_unknown() -> None:
    scores = np.array([1.0, 5.0, 2.0, 2.0, 9.0])
    keys, values = aggregate_groups(scores, np.array(["b", "a", "b", "a", "c"]), "mean")
    assert keys.tolist() == ["a", "b", "c"] and values.tolist() == [3.5, 1.5, 9.0]
    assert aggregate(scores, "p50") == 2.0 and np.isnan(aggregate(np.empty(0), "max"))
    with pytest.raises(ValueError, match="unknown aggregation"):
        aggregate_groups(scores, np.zeros(5), "median")


def _scorer() -> WeldScorer:
    # Normal welds last 700 +- 20 samples; a duration z above 2.5 or a mean window score above 0.4 alarms.
    return WeldScorer("mean", 0.4, DurationModel(center=700.0, scale=20.0, bound=2.5))


def test_over_long_and_over_short_welds_fire_duration_and_a_normal_length_does_not() -> None:
    scorer = _scorer()
    calm = np.full(80, 0.1)  # window scores of a weld whose shape is normal
    long, short, normal = scorer.verdict(calm, 800), scorer.verdict(calm, 600), scorer.verdict(calm, 715)
    assert long.alarm and long.fired == ("duration",) and long.score == pytest.approx(100 / 20 / 2.5)
    assert short.alarm and short.fired == ("duration",) and short.score == pytest.approx(2.0)
    assert not normal.alarm and normal.fired == ()
    assert normal.score == pytest.approx(max(0.1 / 0.4, 15 / 20 / 2.5))
    assert DurationModel(700.0, 20.0, 2.5).limits() == (650.0, 750.0)


def test_a_weld_without_windows_is_scored_on_its_duration() -> None:
    scorer = _scorer()
    tiny = scorer.verdict(np.empty(0), 20)
    assert np.isnan(tiny.components["shape"]) and tiny.fired == ("duration",) and tiny.alarm
    assert not scorer.verdict(np.empty(0), 700).alarm
    shape_only = WeldScorer("mean", 0.4)
    assert np.isnan(shape_only.verdict(np.empty(0), 20).score)  # nothing to say: no score, no alarm


def test_shape_fires_alone_and_both_are_named_largest_first() -> None:
    scorer = _scorer()
    spiky = np.concatenate([np.full(60, 0.1), np.full(20, 2.0)])  # mean 0.575: shape 1.44
    assert scorer.verdict(spiky, 700).fired == ("shape",)
    both = scorer.verdict(spiky, 900)  # duration 4.0
    assert both.fired == ("duration", "shape") and both.score == pytest.approx(4.0)
    batch = scorer.score_welds(np.array([0.1, 0.575, np.nan]), np.array([700.0, 700.0, 900.0]))
    assert batch.top.tolist() == ["shape", "shape", "duration"]
    assert batch.alarm.tolist() == [False, True, True]


def test_threshold_json_formats() -> None:
    old = {"window": {"value": 1.0}, "weld": {"value": 0.4}, "weld_aggregation": "mean"}
    legacy = WeldScorer.from_thresholds(old)
    assert legacy is not None and legacy.components == ("shape",)
    shape = np.array([0.3, 0.41, 0.8])
    # A package from before the duration component: the same alarms as raw score > weld threshold.
    assert legacy.score_welds(shape, np.full(3, np.nan)).alarm.tolist() == (shape > 0.4).tolist()
    model = DurationModel(700.0, 20.0, 2.5, method="quantile", params={"quantile": 0.99}, n_fit=9, n_scores=3)
    new = {**old, "format": 2, "weld_duration": model.to_dict()}
    parsed = WeldScorer.from_thresholds(new)
    assert parsed is not None and parsed.duration == model and parsed.components == ("shape", "duration")
    assert WeldScorer.from_thresholds({**old, "format": 2, "weld_duration": None}).components == ("shape",)  # type: ignore[union-attr]
    assert WeldScorer.from_thresholds({"window": {"value": 1.0}, "weld": None}) is None
    with pytest.raises(ValueError, match="format 3"):
        WeldScorer.from_thresholds({**new, "format": 3})
    with pytest.raises(ValueError, match="center"):
        WeldScorer.from_thresholds({**new, "weld_duration": {"value": 2.0, "scale": 1.0}})
    with pytest.raises(ValueError, match="positive"):
        DurationModel(700.0, 0.0, 2.5)


def test_a_percentile_above_100_is_refused_before_any_weld_is_scored() -> None:
    assert aggregate(np.array([1.0, 3.0]), "p100") == 3.0 and aggregate(np.array([1.0, 3.0]), "p0") == 1.0
    for bad in ("p150", "p101"):
        with pytest.raises(ValueError, match=f"{bad}.*at most p100"):
            aggregate(np.empty(0), bad)  # no data needed to know the name is wrong
        with pytest.raises(ValueError, match="weld_aggregation"):
            WeldScorer(bad, 0.4)
        with pytest.raises(ValueError, match="weld_aggregation"):
            WeldScorer.from_thresholds({"weld": {"value": 0.4}, "weld_aggregation": bad})
    with pytest.raises(ValueError, match="unknown aggregation"):
        WeldScorer("p²", 0.4)  # a digit to str.isdigit, not a percentile


@pytest.mark.parametrize("bad", [0.0, -0.4, float("inf"), float("nan")])
def test_a_zero_negative_or_infinite_threshold_or_scale_is_refused_by_field(bad: float) -> None:
    with pytest.raises(ValueError, match=r"weld\.value .*must be a positive finite number"):
        WeldScorer("mean", bad)
    with pytest.raises(ValueError, match=r"weld\.value .*must be a positive finite number"):
        WeldScorer.from_thresholds({"weld": {"value": bad}})
    with pytest.raises(ValueError, match=r"weld_duration\.scale must be a positive finite number"):
        DurationModel(700.0, bad, 2.5)
    with pytest.raises(ValueError, match=r"weld_duration\.value .*must be a positive finite number"):
        DurationModel(700.0, 20.0, bad)


def test_ill_typed_threshold_fields_name_the_field() -> None:
    duration = DurationModel(700.0, 20.0, 2.5).to_dict()
    cases: list[tuple[object, str]] = [
        ([], "threshold.json must be an object"),
        ({"format": "2", "weld": {"value": 0.4}}, "format '2' is not supported"),
        ({"weld": [0.4]}, "weld must be an object"),
        ({"weld": {"value": "0.4"}}, r"weld\.value must be a number"),
        ({"weld": {}}, "weld lacks the field 'value'"),
        ({"format": 2, "weld": None, "weld_duration": [1.0]}, "weld_duration must be an object"),
        (
            {"format": 2, "weld": None, "weld_duration": {**duration, "center": None}},
            r"weld_duration\.center",
        ),
        (
            {"format": 2, "weld": None, "weld_duration": {**duration, "center": float("nan")}},
            r"weld_duration\.center must be a finite number",
        ),
        ({"format": 2, "weld": None, "weld_duration": {**duration, "params": 3}}, r"weld_duration\.params"),
    ]
    for thresholds, message in cases:
        with pytest.raises(ValueError, match=message):
            WeldScorer.from_thresholds(thresholds)  # type: ignore[arg-type]
