"""Export the window scorer to ONNX (dynamic batch) and check it against PyTorch on the same windows.

The graph takes `windows` (batch, window * n_signals) float32 and returns `score` (batch,),
`signal_errors` (batch, n_signals) and `reconstruction`: the edge runs it as it is.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
import onnxruntime as ort
import torch

from mlops_assets.ml.autoencoder.model import WindowScorer

__all__ = ["ONNX_INPUT", "ONNX_OUTPUTS", "ParityReport", "check_parity", "export_onnx", "onnx_session"]

ONNX_INPUT = "windows"
ONNX_OUTPUTS = ("score", "signal_errors", "reconstruction")
OPSET = 17


def export_onnx(scorer: WindowScorer, n_features: int) -> bytes:
    """The scorer as an ONNX model (bytes), batch dimension dynamic."""
    scorer.eval()
    example = torch.zeros(2, n_features, dtype=torch.float32)
    buffer = io.BytesIO()
    # The TorchScript exporter: deterministic bytes for the same weights, no onnxscript at run time, and
    # for a few dense layers it matches the dynamo exporter to float rounding.
    torch.onnx.export(
        scorer,
        (example,),
        buffer,  # type: ignore[arg-type]  # a file-like object works and keeps the model off disk
        input_names=[ONNX_INPUT],
        output_names=list(ONNX_OUTPUTS),
        dynamic_axes={ONNX_INPUT: {0: "batch"}, **{name: {0: "batch"} for name in ONNX_OUTPUTS}},
        opset_version=OPSET,
        dynamo=False,
    )
    return buffer.getvalue()


def onnx_session(model: bytes | str, threads: int = 1) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    return ort.InferenceSession(model, sess_options=options, providers=["CPUExecutionProvider"])


@dataclass(frozen=True)
class ParityReport:
    """Max absolute difference per output; passes when every value is within atol + rtol * |torch value|."""

    windows: int
    max_abs_diff: dict[str, float]
    atol: float
    rtol: float
    passed: bool

    @property
    def worst(self) -> float:
        return max(self.max_abs_diff.values())


def check_parity(
    scorer: WindowScorer,
    onnx_model: bytes | str,
    windows: np.ndarray,
    atol: float = 1e-5,
    rtol: float = 1e-4,
) -> ParityReport:
    """ONNX Runtime against PyTorch eager on the same held-out windows."""
    if len(windows) == 0:
        raise ValueError("parity needs at least one window")
    windows = np.ascontiguousarray(windows, dtype=np.float32)
    scorer.eval()
    with torch.no_grad():
        expected = [t.numpy().astype(np.float64) for t in scorer(torch.from_numpy(windows))]
    actual = onnx_session(onnx_model).run(list(ONNX_OUTPUTS), {ONNX_INPUT: windows})
    diffs: dict[str, float] = {}
    passed = True
    for name, got, want in zip(ONNX_OUTPUTS, actual, expected, strict=True):
        got = np.asarray(got, dtype=np.float64)
        if got.shape != want.shape:
            diffs[name] = float("inf")
            passed = False
            continue
        error = np.abs(got - want)
        diffs[name] = float(np.max(error)) if error.size else 0.0
        passed = passed and bool(np.all(error <= atol + rtol * np.abs(want)))
    return ParityReport(len(windows), diffs, atol, rtol, passed)
