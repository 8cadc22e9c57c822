"""The training graph's steps as plain functions (the Dagster assets only wire them to resources).

Weld level: `fit_thresholds` fits the weld threshold (shape) and, with `weld_duration`, the weld-duration
component; `evaluate_windows` scores held-out welds with the weld score of `edge_agent.features.weld_score`
(see `mlops_assets.ml.weld_level`), the one the quality gate and the edge use too.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from edge_agent.features import THRESHOLD_FORMAT, DurationModel, FeatureSpec, WeldScorer
from mlops_assets.lake import LakeStore, signal_columns
from mlops_assets.ml.dataset import Segment, SegmentSplit, fit_spec, split_segments, windows_of
from mlops_assets.ml.feature_table import (
    WELD_FEATURES,
    WELD_SEGMENTS,
    FeaturesMismatch,
    read_spec,
    read_windows,
    segments_frame,
    windows_frame,
    write_spec,
)
from mlops_assets.ml.frames import telemetry_segments, usable_signals
from mlops_assets.ml.metrics import detection_metrics
from mlops_assets.ml.model import AutoencoderConfig, WindowScorer
from mlops_assets.ml.model_io import SCORER_FILE, load_scorer, save_scorer
from mlops_assets.ml.registry import ModelRegistry
from mlops_assets.ml.scoring import aggregate_groups, score_windows
from mlops_assets.ml.thresholds import Threshold, fit_threshold
from mlops_assets.ml.training import EpochReport, TrainResult, train_autoencoder
from mlops_assets.ml.weld_level import WeldEvaluation, evaluate_welds, fit_weld_duration, weld_inputs

__all__ = [
    "MODEL_ARTIFACTS",
    "Evaluation",
    "FeatureBuild",
    "build_features",
    "evaluate_windows",
    "fit_thresholds",
    "line_segments",
    "load_run_model",
    "save_run_model",
    "signal_thresholds",
    "threshold_bundle",
    "train_from_lake",
]

MODEL_ARTIFACTS = "model"


@dataclass(frozen=True)
class FeatureBuild:
    spec: FeatureSpec
    spec_id: str
    split: SegmentSplit
    windows: dict[str, int]
    table_version: int | None


def line_segments(telemetry: pl.DataFrame, labels: dict[str, bool]) -> tuple[list[Segment], list[str]]:
    signals = usable_signals(telemetry, signal_columns(telemetry.columns))
    if not signals:
        raise ValueError("the line's telemetry has no signal with values")
    return telemetry_segments(telemetry, signals, labels), signals


def build_features(
    store: LakeStore,
    line: str,
    telemetry: pl.DataFrame,
    labels: dict[str, bool],
    *,
    window: int,
    stride: int,
    val_fraction: float,
    holdout_fraction: float,
) -> FeatureBuild:
    """Split the line's welds by time, fit the spec on training welds only, write every window."""
    segments, signals = line_segments(telemetry, labels)
    split = split_segments(segments, val_fraction, holdout_fraction)
    interval = telemetry["sample_interval_ms"].median()
    spec = fit_spec(split.train, signals, window, stride, float(interval) if interval is not None else None)  # type: ignore[arg-type]
    spec_id = write_spec(store, line, spec)
    frames, segment_frames, counts = [], [], {}
    for name, part in (("train", split.train), ("validation", split.validation), ("holdout", split.holdout)):
        windows = windows_of(part, spec, signals)
        counts[name] = len(windows)
        frames.append(windows_frame(line, spec_id, name, part, windows))
        segment_frames.append(segments_frame(line, spec_id, name, part, windows))
    if counts["train"] == 0 or counts["validation"] == 0:
        raise ValueError(
            f"no training or validation windows of {window} samples: {counts} (welds shorter than a window?)"
        )
    where = f"line = '{line}'"
    store.replace_where(WELD_SEGMENTS, pl.concat(segment_frames), where, partition_by=["line"])
    result = store.replace_where(WELD_FEATURES, pl.concat(frames), where, partition_by=["line"])
    return FeatureBuild(spec, spec_id, split, counts, result.version)


def train_from_lake(
    store: LakeStore,
    line: str,
    config: AutoencoderConfig,
    on_epoch: Callable[[EpochReport], None] | None = None,
    spec_id: str | None = None,
) -> tuple[TrainResult, FeatureSpec, str]:
    """Train on the line's `train` windows, stop early on its `validation` windows. `spec_id`: the spec
    the windows must have been cut with (what `weld_features` reported); refused otherwise."""
    train, meta = read_windows(store, line, ["train"])
    val, _ = read_windows(store, line, ["validation"])
    spec_ids = meta["spec_id"].unique() if meta.height else pl.Series([], dtype=pl.String)
    if spec_ids.len() != 1:
        raise ValueError(
            f"weld_features of {line} holds specs {spec_ids.to_list()}: materialise weld_features first"
        )
    if spec_id is not None and spec_ids[0] != spec_id:
        raise FeaturesMismatch(
            f"weld_features of {line} now holds spec {spec_ids[0]}, not {spec_id} that weld_features "
            "reported: it was materialised again meanwhile; materialise the chain from weld_features"
        )
    spec = read_spec(store, line, spec_ids[0])
    return train_autoencoder(train, val, spec.n_signals, config, on_epoch), spec, str(spec_ids[0])


def save_run_model(
    registry: ModelRegistry, run_id: str, scorer: WindowScorer, config: AutoencoderConfig, spec: FeatureSpec
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / MODEL_ARTIFACTS
        folder.mkdir()
        save_scorer(folder / SCORER_FILE, scorer, config)
        (folder / "feature_spec.json").write_text(spec.to_json())
        registry.log_artifact(run_id, folder, MODEL_ARTIFACTS)


def load_run_model(registry: ModelRegistry, run_id: str) -> tuple[WindowScorer, FeatureSpec]:
    with tempfile.TemporaryDirectory() as tmp:
        folder = registry.download(run_id, MODEL_ARTIFACTS, Path(tmp))
        return load_scorer(folder / SCORER_FILE), FeatureSpec.from_json(
            (folder / "feature_spec.json").read_text()
        )


def signal_thresholds(
    signal_errors: np.ndarray, spec: FeatureSpec, quantile: float = 0.99
) -> dict[str, float]:
    """Per signal, the quantile of its error on normal windows: an alert names the signals above theirs."""
    return {name: float(np.quantile(signal_errors[:, i], quantile)) for i, name in enumerate(spec.signals)}


def threshold_bundle(
    window: Threshold,
    weld: Threshold | None,
    weld_aggregation: str,
    per_signal: dict[str, float],
    duration: DurationModel | None = None,
) -> dict[str, Any]:
    """What `threshold.json` holds in the package (format: `edge_agent.features.weld_score`)."""
    return {
        "format": THRESHOLD_FORMAT,
        "score": "mean squared error of the standardised window (the ONNX output `score`)",
        "window": window.to_dict(),
        "weld": weld.to_dict() if weld is not None else None,
        "weld_aggregation": weld_aggregation,
        "weld_duration": duration.to_dict() if duration is not None else None,
        "weld_score": "max over components of component / its threshold, > 1 = alarm: shape = aggregated "
        "window score / weld.value; duration = |samples - center| / scale / weld_duration.value",
        "signal_errors": per_signal,
    }


@dataclass(frozen=True)
class Evaluation:
    window: dict[str, Any]
    weld: dict[str, Any]
    """Metrics of the weld score (empty without a weld level)."""
    weld_components: dict[str, dict[str, Any]]
    arrays: dict[str, np.ndarray]
    welds: WeldEvaluation | None = None

    @property
    def level(self) -> str:
        """What the headline figures judge: welds when the line has weld ids, else windows."""
        return "weld" if self.weld else "window"

    @property
    def headline(self) -> dict[str, Any]:
        return self.weld or self.window

    def headline_scores(self) -> tuple[np.ndarray, np.ndarray]:
        """(labels, scores) of the headline level (weld scores are score / threshold: > 1 alarms)."""
        if self.weld:
            return self.arrays["weld_labels"], self.arrays["weld_scores"]
        return self.arrays["window_labels"], self.arrays["window_scores"]


def evaluate_windows(
    scorer: WindowScorer,
    windows: np.ndarray,
    meta: pl.DataFrame,
    thresholds: dict[str, Any],
    segments: pl.DataFrame | None = None,
) -> Evaluation:
    """Window metrics on the held-out windows and weld metrics on the held-out welds (`segments`: the
    held-out rows of `gold/weld_segments`, needed by the duration component and to see welds without
    a window)."""
    scores, _ = score_windows(scorer, windows)
    labels = (meta["label"].fill_null(0).to_numpy() == 1).astype(np.int8)
    window_metrics = detection_metrics(labels, scores, float(thresholds["window"]["value"]))
    arrays = {"window_scores": scores, "window_labels": labels}
    weld_scorer = WeldScorer.from_thresholds(thresholds)
    if weld_scorer is None:
        return Evaluation(dict(window_metrics), {}, {}, arrays)
    welds = evaluate_welds(weld_scorer, weld_inputs(scores, meta, segments, weld_scorer.aggregation))
    arrays.update(weld_scores=welds.scores.score[welds.scored], weld_labels=welds.labels[welds.scored])
    return Evaluation(dict(window_metrics), welds.metrics, welds.components, arrays, welds)


def fit_thresholds(
    scorer: WindowScorer,
    spec: FeatureSpec,
    val: np.ndarray,
    meta: pl.DataFrame,
    method: str,
    params: dict[str, float],
    weld_aggregation: str,
    segments: pl.DataFrame | None = None,
    weld_duration: bool = True,
) -> tuple[dict[str, Any], np.ndarray, np.ndarray | None]:
    """threshold.json content, validation window scores and validation weld (shape) scores.

    `segments`: the train and validation rows of `gold/weld_segments`; with `weld_duration` (and weld
    ids) the duration component is fitted on them: centre and scale on train, bound on validation."""
    scores, signal_errors = score_windows(scorer, val)
    window = fit_threshold(scores, method, **params)  # type: ignore[arg-type]
    weld = None
    welds = None
    duration = None
    if meta["weld_id"].null_count() < meta.height:
        _, welds = aggregate_groups(scores, meta["segment"].to_numpy(), weld_aggregation)
        weld = fit_threshold(welds, method, **params)  # type: ignore[arg-type]
        if weld_duration:
            if segments is None or segments.height == 0:
                raise ValueError(
                    "the weld-duration component needs gold/weld_segments: materialise weld_features "
                    "(or set weld_duration: false on anomaly_threshold)"
                )
            lengths = {
                name: segments.filter(pl.col("split") == name)["n_samples"].to_numpy()
                for name in ("train", "validation")
            }
            duration = fit_weld_duration(lengths["train"], lengths["validation"], method, params)
    return (
        threshold_bundle(window, weld, weld_aggregation, signal_thresholds(signal_errors, spec), duration),
        scores,
        welds,
    )
