"""A verified model package behind ONNX Runtime (one intra-op thread), warmed before it may serve: a model
whose outputs are misnamed, misshapen or not finite on a few windows never becomes ready."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort

from edge_agent.features import EdgePackage, FeatureSpec, WeldScorer, load_package

__all__ = ["MODEL_INPUT", "MODEL_OUTPUTS", "ModelLoadError", "OnnxWindowModel"]

MODEL_INPUT = "windows"
MODEL_OUTPUTS = ("score", "signal_errors")


class ModelLoadError(Exception):
    """The package verified but its model cannot serve (not loadable, wrong outputs, not finite)."""


class OnnxWindowModel:
    def __init__(self, package: EdgePackage, session: ort.InferenceSession) -> None:
        self.package = package
        self.version = package.model_version
        self.spec: FeatureSpec = package.spec
        self.threshold = package.window_threshold
        self.weld_scorer: WeldScorer | None = package.weld_scorer
        self.session = session

    @classmethod
    def load(cls, folder: Path, public_key: str, key_id: str | None) -> OnnxWindowModel:
        package = load_package(folder, public_key, key_id=key_id)
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        try:
            session = ort.InferenceSession(
                str(package.model_path), sess_options=options, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # onnxruntime raises its own exception types for a bad graph
            raise ModelLoadError(
                f"model {package.model_version}: ONNX Runtime cannot load it: {exc}"
            ) from exc
        model = cls(package, session)
        model.warm_up()
        return model

    def score(self, windows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        scores, errors = self.session.run(list(MODEL_OUTPUTS), {MODEL_INPUT: windows})
        return np.asarray(scores), np.asarray(errors)

    def warm_up(self) -> None:
        """Score a few windows (the centre, and a spread around it); refuse what could not serve."""
        spec = self.spec
        rng = np.random.default_rng(0)
        windows = np.concatenate(
            [np.zeros((1, spec.n_features)), rng.normal(0.0, 1.0, size=(7, spec.n_features))]
        ).astype(np.float32)
        try:
            scores, errors = self.score(windows)
        except Exception as exc:  # a graph that loads but fails on real input
            raise ModelLoadError(f"model {self.version}: warm-up failed: {exc}") from exc
        if scores.shape != (len(windows),) or errors.shape != (len(windows), spec.n_signals):
            raise ModelLoadError(
                f"model {self.version}: outputs {scores.shape} and {errors.shape} do not match the "
                f"feature spec (expected ({len(windows)},) and ({len(windows)}, {spec.n_signals}))"
            )
        if not (np.isfinite(scores).all() and np.isfinite(errors).all()):
            raise ModelLoadError(f"model {self.version}: warm-up produced scores that are not finite")
