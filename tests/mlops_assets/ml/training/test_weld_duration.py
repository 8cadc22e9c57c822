"""The weld-duration component end to end on a real Delta lake: fitted on training welds, bounded on
validation welds, scoring an over-long and a too-short-for-a-window weld as "duration", and the edge
package computing the same weld score as training."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest

from edge_agent.domain import LineAddress, Weld
from edge_agent.features import (
    PackageThresholds,
    WeldScorer,
    fill_missing,
    load_package,
    standardise,
    window_matrix,
    window_starts,
)
from edge_agent.simulator import SyntheticWeldGenerator
from mlops_assets.lake import VALIDATED_TELEMETRY, LakeStore
from mlops_assets.ml.autoencoder.model import AutoencoderConfig
from mlops_assets.ml.evaluation.silver_welds import silver_rows, write_silver
from mlops_assets.ml.release.onnx_export import ONNX_INPUT, export_onnx, onnx_session
from mlops_assets.ml.release.package_eval import evaluate_package
from mlops_assets.ml.release.packaging import Lineage, build_package
from mlops_assets.ml.release.signing import load_or_create_dev_signer
from mlops_assets.ml.training.feature_table import WELD_FEATURES, read_model_segments, read_windows
from mlops_assets.ml.training.features import build_features, line_segments
from mlops_assets.ml.training.holdout_evaluation import evaluate_windows
from mlops_assets.ml.training.labels import _frame, label_map, write_labels
from mlops_assets.ml.training.run_model import train_from_lake
from mlops_assets.ml.training.threshold_fit import fit_thresholds

LINE = "line-d"
START_MS = 1_763_740_800_000
QUANTILE = {"quantile": 0.99}


def _welds() -> list[Weld]:
    """60 normal welds of 300-500 samples, then an over-long bad weld (1,000 samples), a bad weld of
    20 samples (shorter than one window) and a normal weld of exactly the median length (400)."""
    generator = SyntheticWeldGenerator(cell="cell-01", seed=5, sample_rate_hz=200.0, start_ms=START_MS)
    welds = [generator.next_weld() for _ in range(60)]
    generator.weld_seconds = (5.0, 5.0)
    welds.append(dataclasses.replace(generator.next_weld(), label="too_long"))
    generator.weld_seconds = (2.0, 2.0)
    short = generator.next_weld()
    welds.append(
        dataclasses.replace(short, label="too_short", signals={k: v[:20] for k, v in short.signals.items()})
    )
    welds.append(generator.next_weld())
    return welds


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The training steps as the assets run them, on a fresh lake."""
    home = tmp_path_factory.mktemp("duration")
    store = LakeStore(str(home / "lake"))
    welds = _welds()
    write_silver(store, silver_rows(welds, "cell-01", LineAddress(line=LINE)))
    write_labels(store, _frame(LINE, [(w.weld_id, w.label is not None, w.label) for w in welds], "test"))
    telemetry = store.read(VALIDATED_TELEMETRY, line=LINE).sort("cell", "ts")
    labels = label_map(store, LINE)
    build = build_features(
        store, LINE, telemetry, labels, window=32, stride=8, val_fraction=0.2, holdout_fraction=0.3
    )
    config = AutoencoderConfig(hidden=(32,), latent=4, max_epochs=3)
    result, spec, spec_id = train_from_lake(store, LINE, config)
    val, val_meta = read_windows(store, LINE, ["validation"])
    fit_segments = read_model_segments(store, LINE, ["train", "validation"], spec_id)
    bundles = {
        on: fit_thresholds(
            result.scorer, spec, val, val_meta, "quantile", QUANTILE, "mean", fit_segments, on
        )[0]
        for on in (True, False)
    }
    holdout, meta = read_windows(store, LINE, ["holdout"])
    held_segments = read_model_segments(store, LINE, ["holdout"], spec_id)
    return {
        "home": home,
        "store": store,
        "welds": welds,
        "telemetry": telemetry,
        "labels": labels,
        "build": build,
        "result": result,
        "spec": spec,
        "bundles": bundles,
        "fit_segments": fit_segments,
        "held_segments": held_segments,
        "evaluation": evaluate_windows(result.scorer, holdout, meta, bundles[True], held_segments),
        "shape_only": evaluate_windows(result.scorer, holdout, meta, bundles[False], held_segments),
    }


def _key(weld: Weld) -> str:
    return f"cell-01/{weld.weld_id}"


def test_segments_table_lists_every_weld_with_its_length(chain: dict[str, Any]) -> None:
    welds, segments = chain["welds"], pl.concat([chain["fit_segments"], chain["held_segments"]])
    assert segments.height == len(welds)
    lengths = dict(zip(segments["segment"], segments["n_samples"], strict=True))
    assert all(lengths[_key(w)] == w.n_samples for w in welds)
    short = segments.filter(pl.col("segment") == _key(welds[-2])).row(0, named=True)
    assert short["n_windows"] == 0 and short["split"] == "holdout" and short["label"] == 1
    windowed = chain["store"].read(WELD_FEATURES, line=LINE)["segment"].unique().to_list()
    assert _key(welds[-2]) not in windowed


def test_duration_centre_and_scale_come_from_training_welds_and_the_bound_from_validation(
    chain: dict[str, Any],
) -> None:
    build, bundles = chain["build"], chain["bundles"]
    train = np.array([s.n_rows for s in build.split.train], dtype=float)
    val = np.array([s.n_rows for s in build.split.validation], dtype=float)
    duration = bundles[True].weld_duration
    assert duration is not None
    q25, q75 = np.quantile(train, [0.25, 0.75])
    assert duration.center == np.median(train) and duration.scale == pytest.approx((q75 - q25) / 1.349)
    expected = np.quantile(np.abs(val - np.median(train)) / duration.scale, 0.99)
    assert duration.bound == pytest.approx(max(expected, 1.0))
    assert duration.n_fit == len(train) and duration.n_scores == len(val)
    # The shape component is untouched; off means off.
    assert bundles[True].weld == bundles[False].weld and bundles[True].window == bundles[False].window
    assert bundles[False].weld_duration is None and bundles[True].format == 2


def test_threshold_json_reads_back_as_written(chain: dict[str, Any]) -> None:
    """threshold.json parsed once and written back is the same JSON, with and without the duration
    component, and for a format 1 file (packages built before it)."""
    for fitted in chain["bundles"].values():
        document = json.loads(json.dumps(fitted.to_dict()))
        parsed = PackageThresholds.from_dict(document)
        assert parsed == fitted and parsed.to_dict() == document
        assert json.dumps(parsed.to_dict(), sort_keys=True) == json.dumps(document, sort_keys=True)
    written = chain["bundles"][True].to_dict()
    assert list(written) == [
        "format", "score", "window", "weld", "weld_aggregation",
        "weld_duration", "weld_score", "signal_errors",
    ]  # fmt: skip
    legacy = {k: v for k, v in written.items() if k not in ("format", "weld_duration", "weld_score")}
    parsed = PackageThresholds.from_dict(legacy)
    assert parsed.format == 1 and parsed.weld_duration is None and parsed.to_dict() == legacy


def test_over_long_and_too_short_welds_fire_duration_a_median_length_weld_does_not(
    chain: dict[str, Any],
) -> None:
    evaluation, welds = chain["evaluation"], chain["welds"]
    scored = evaluation.welds
    # Welds come in the order of gold/weld_segments.
    by_key = {k: i for i, k in enumerate(chain["held_segments"]["segment"].to_list())}
    duration = scored.scores.components["duration"]
    shape = scored.scores.components["shape"]
    long, short, normal = (by_key[_key(w)] for w in welds[-3:])
    assert duration[long] > 1 and scored.scores.top[long] == "duration"
    assert duration[short] > 1 and np.isnan(shape[short]) and scored.scores.top[short] == "duration"
    assert duration[normal] < 1
    assert scored.scores.score[long] > 1 and scored.scores.score[short] > 1
    # The too-short weld counts at weld level only with the duration component (it has no window).
    assert evaluation.weld["welds_without_windows"] == 1
    assert evaluation.weld["n"] == chain["held_segments"].height
    assert chain["shape_only"].weld["n"] == chain["held_segments"].height - 1
    assert evaluation.weld["alarms_duration"] >= 2
    assert set(evaluation.weld_components) == {"shape", "duration"}


def test_edge_package_computes_the_same_weld_score_as_training(chain: dict[str, Any], tmp_path: Path) -> None:
    spec, bundle, result = chain["spec"], chain["bundles"][True], chain["result"]
    signer = load_or_create_dev_signer(tmp_path / "keys")
    folder = tmp_path / "package"
    build_package(
        folder,
        onnx_model=export_onnx(result.scorer, spec.n_features),
        spec=spec,
        thresholds=bundle,
        profile={"x": np.zeros(1)},
        line=LINE,
        model_name="weld-ae-line-d",
        model_version="1",
        lineage=Lineage("run", 0, "abc"),
        package_uri=folder.as_uri(),
        signer=signer,
    )
    package = load_package(folder, signer.public_key_b64)
    scorer = package.weld_scorer
    assert scorer is not None and scorer == WeldScorer.from_thresholds(bundle.to_dict()) == bundle.weld_scorer
    assert package.thresholds == bundle
    session = onnx_session(str(package.model_path))

    # The edge's path: its own feature functions, ONNX Runtime, one verdict per finished weld.
    segments, signals = line_segments(chain["telemetry"], chain["labels"])
    held = set(chain["held_segments"]["segment"].to_list())
    columns = [signals.index(s) for s in package.spec.signals]
    edge = {}
    for segment in (s for s in segments if s.key in held):
        z = standardise(fill_missing(segment.values[:, columns]), package.spec)
        starts = window_starts(len(z), package.spec.window, package.spec.stride)
        windows = window_matrix(z, package.spec.window, starts=starts)
        scores = session.run(["score"], {ONNX_INPUT: windows})[0] if len(windows) else np.empty(0)
        edge[segment.key] = scorer.verdict(scores, segment.n_rows)
    training = chain["evaluation"].welds
    keys = chain["held_segments"]["segment"].to_list()
    np.testing.assert_allclose([edge[k].score for k in keys], training.scores.score, rtol=1e-4, atol=1e-6)
    assert [edge[k].alarm for k in keys] == training.scores.alarm.tolist()
    assert edge[_key(chain["welds"][-3])].fired[0] == "duration"

    # The quality gate's scoring of the same package agrees with the evaluation step.
    gate = evaluate_package(package, [s for s in segments if s.key in held], signals)
    for metric in ("n", "tp", "fp", "fn", "tn"):
        assert gate[f"weld_{metric}"] == chain["evaluation"].weld[metric]
    assert gate["weld_duration_tp"] == chain["evaluation"].weld_components["duration"]["tp"]
