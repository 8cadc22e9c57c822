"""Score raw segments with an edge package (ONNX Runtime, the package's own feature spec): what the
quality gate runs for the candidate and the champion alike."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from edge_agent.features import EdgePackage, load_package
from mlops_assets.ml.dataset import Segment, windows_of
from mlops_assets.ml.metrics import detection_metrics
from mlops_assets.ml.onnx_export import ONNX_INPUT, onnx_session
from mlops_assets.ml.scoring import aggregate_groups

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
    root: Path, segments: Sequence[Segment], signals: Sequence[str], public_key_b64: str | None = None
) -> dict[str, float | int | None]:
    """Window- and weld-level metrics of the package at its own thresholds (`window_*`, `weld_*` keys)."""
    package = load_package(root, public_key_b64)
    scores, owner = package_window_scores(package, segments, signals)
    labels = np.array([1 if segments[i].anomalous else 0 for i in owner], dtype=np.int8)
    out: dict[str, float | int | None] = {}
    for key, value in detection_metrics(labels, scores, package.window_threshold).items():
        out[f"window_{key}"] = value
    weld = package.thresholds.get("weld")
    if weld is not None and len(scores):
        keys, weld_scores = aggregate_groups(scores, owner, package.thresholds.get("weld_aggregation", "max"))
        weld_labels = np.array([1 if segments[int(k)].anomalous else 0 for k in keys], dtype=np.int8)
        for key, value in detection_metrics(weld_labels, weld_scores, float(weld["value"])).items():
            out[f"weld_{key}"] = value
    return out
