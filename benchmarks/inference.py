"""Scoring latency and throughput: ONNX Runtime against PyTorch eager, same model, same windows, same run.

The model is the default window scorer (window 32 x 5 signals, hidden 128-32, latent 8), trained briefly
so the weights are realistic; the ONNX graph is the one the edge package ships (score, per-signal errors,
reconstruction).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._common import machine, row
from mlops_assets.ml.autoencoder.model import AutoencoderConfig
from mlops_assets.ml.autoencoder.trainer import train_autoencoder
from mlops_assets.ml.release.onnx_export import ONNX_INPUT, check_parity, export_onnx, onnx_session

FEATURES, SIGNALS, SINGLE, BATCH, BATCHES = 160, 5, 5000, 1024, 200


def percentiles(samples: list[float]) -> tuple[float, float]:
    values = np.array(samples) * 1e6
    return float(np.percentile(values, 50)), float(np.percentile(values, 99))


def main() -> int:
    torch.set_num_threads(1)  # the edge scores on one core; both engines get the same
    rng = np.random.default_rng(0)
    data = rng.normal(size=(20_000, FEATURES)).astype(np.float32)
    scorer = train_autoencoder(data[:16_000], data[16_000:], SIGNALS, AutoencoderConfig(max_epochs=2)).scorer
    session = onnx_session(export_onnx(scorer, FEATURES), threads=1)
    windows = rng.normal(size=(BATCH * 4, FEATURES)).astype(np.float32)
    assert check_parity(scorer, export_onnx(scorer, FEATURES), windows).passed
    print(f"inference: window scorer {FEATURES} inputs ({machine()}, 1 thread each)")

    def single(run: object) -> list[float]:
        times = []
        for i in range(SINGLE):
            x = windows[i % len(windows) : i % len(windows) + 1]
            started = time.perf_counter()
            run(x)  # type: ignore[operator]
            times.append(time.perf_counter() - started)
        return times

    def ort_run(x: np.ndarray) -> object:
        return session.run(None, {ONNX_INPUT: x})

    def torch_run(x: np.ndarray) -> object:
        with torch.no_grad():
            return scorer(torch.from_numpy(x))

    for run in (ort_run, torch_run):
        single(run)[:200]  # warm up
    ort_p50, ort_p99 = percentiles(single(ort_run))
    torch_p50, torch_p99 = percentiles(single(torch_run))
    row("ONNX Runtime single window p50", ort_p50, "us")
    row("ONNX Runtime single window p99", ort_p99, "us")
    row("PyTorch eager single window p50 (baseline)", torch_p50, "us")
    row("PyTorch eager single window p99 (baseline)", torch_p99, "us")
    row("p50 speed-up ONNX Runtime vs PyTorch", torch_p50 / ort_p50, "x")

    def throughput(run: object) -> float:
        started = time.perf_counter()
        for i in range(BATCHES):
            run(windows[(i % 4) * BATCH : (i % 4 + 1) * BATCH])  # type: ignore[operator]
        return BATCHES * BATCH / (time.perf_counter() - started)

    ort_rate, torch_rate = throughput(ort_run), throughput(torch_run)
    row(f"ONNX Runtime batch of {BATCH}", ort_rate, "win/s")
    row(f"PyTorch eager batch of {BATCH} (baseline)", torch_rate, "win/s")
    row("batch speed-up ONNX Runtime vs PyTorch", ort_rate / torch_rate, "x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
