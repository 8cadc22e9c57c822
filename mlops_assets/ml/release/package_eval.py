"""Score raw segments with an edge package (ONNX Runtime, the package's own feature spec and weld score):
what the quality gate runs for the candidate and the champion alike."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from edge_agent.features import EdgePackage, aggregate_groups
from mlops_assets.ml.autoencoder.dataset import Segment, windows_of
from mlops_assets.ml.autoencoder.metrics import detection_metrics
from mlops_assets.ml.autoencoder.weld_level import WeldInputs, evaluate_welds
from mlops_assets.ml.release.onnx_export import ONNX_INPUT, onnx_session

__all__ = ["evaluate_package", "package_window_scores"]


def package_window_scores(
    package: EdgePackage, segments: Sequence[Segment], signals: Sequence[str]
) -> tuple[np.ndarray, np.ndarray]:
    """(score per window, segment index per window) at the package's own window and stride."""
    windows = windows_of(segments, package.spec, signals)
    session = onnx_session(str(package.model_path), threads=2)
    scores = [
        session.run(["score"], {ONNX_INPUT: windows.windows[start : start + 8192]})[0]
        for start in range(0, len(windows), 8192)
    ]
    return (np.concatenate(scores).astype(np.float64) if scores else np.empty(0)), windows.segment


def evaluate_package(
    package: EdgePackage, segments: Sequence[Segment], signals: Sequence[str]
) -> dict[str, float | int | None]:
    """Window- and weld-level metrics of a loaded (verified) package at its own thresholds (`window_*`,
    `weld_*` keys; `weld_<component>_*` for each component of the weld score alone). The weld score is
    the package's own: shape only for a format 1 package, shape and duration after. A weld too short
    for a window still gets its duration score; without a duration component it has no weld score and
    is left out."""
    scores, owner = package_window_scores(package, segments, signals)
    labels = np.array([1 if segments[i].anomalous else 0 for i in owner], dtype=np.int8)
    out: dict[str, float | int | None] = {}
    for key, value in detection_metrics(labels, scores, package.window_threshold).items():
        out[f"window_{key}"] = value
    scorer = package.weld_scorer
    if scorer is None or not segments:
        return out
    shape = np.full(len(segments), np.nan)
    if len(scores):
        keys, aggregated = aggregate_groups(scores, owner, scorer.aggregation)
        shape[keys.astype(np.int64)] = aggregated
    inputs = WeldInputs(
        keys=np.array([s.key for s in segments]),
        labels=np.array([1 if s.anomalous else 0 for s in segments], dtype=np.int8),
        shape=shape,
        n_samples=np.array([s.n_rows for s in segments], dtype=np.float64),
    )
    welds = evaluate_welds(scorer, inputs)
    if not welds.scored.any():
        return out
    for key, value in welds.metrics.items():
        out[f"weld_{key}"] = value
    for component, metrics in welds.components.items():
        for key, value in metrics.items():
            out[f"weld_{component}_{key}"] = value
    return out
