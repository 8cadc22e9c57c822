"""Training time for 1 million windows on this machine: the default autoencoder (window 32 x 5 signals,
hidden 128-32, latent 8, batch 256, one thread), against the same training on two threads, same run.

Windows come from simulated welds through the shared feature code (that step is timed too).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._common import machine, row
from edge_agent.features import fit_feature_spec, standardise, window_matrix
from edge_agent.simulator import SIGNALS, SyntheticWeldGenerator
from mlops_assets.ml.autoencoder.model import AutoencoderConfig
from mlops_assets.ml.autoencoder.trainer import train_autoencoder

WINDOWS, WINDOW, EPOCHS = 1_000_000, 32, 2


def windows() -> tuple[np.ndarray, np.ndarray, float]:
    generator = SyntheticWeldGenerator(cell="cell-01", seed=1)
    parts, total = [], 0
    while total < WINDOWS + WINDOWS // 5:
        weld = generator.next_weld()
        parts.append(np.stack([weld.signals[s] for s in SIGNALS], axis=1))
        total += weld.n_samples - WINDOW + 1
    spec = fit_feature_spec(np.concatenate(parts[:50]), SIGNALS, WINDOW, 1)
    started = time.perf_counter()
    matrix = np.concatenate([window_matrix(standardise(p, spec), WINDOW, 1) for p in parts])
    seconds = time.perf_counter() - started
    return matrix[:WINDOWS], matrix[WINDOWS : WINDOWS + WINDOWS // 5], seconds


def epoch_seconds(train: np.ndarray, val: np.ndarray, threads: int, epochs: int) -> float:
    config = AutoencoderConfig(
        max_epochs=epochs, patience=epochs + 1, max_train_windows=len(train), threads=threads
    )
    result = train_autoencoder(train, val, len(SIGNALS), config)
    return float(np.median([e.seconds for e in result.history]))


def main() -> int:
    print(
        f"training: {WINDOWS:,} windows of {WINDOW} x {len(SIGNALS)} ({machine()}, torch {torch.__version__})"
    )
    train, val, feature_seconds = windows()
    row(
        "feature windows (shared edge code)",
        len(train) / feature_seconds,
        "win/s",
        f"{feature_seconds:.1f} s for 1.2 M windows",
    )
    # Interleaved, so that load from other processes hits both settings alike.
    one = epoch_seconds(train, val, 1, EPOCHS)
    two = epoch_seconds(train, val, 2, 1)
    one = min(one, epoch_seconds(train, val, 1, 1))
    row("one epoch, 1 thread (the default)", one, "s", f"{len(train) / one:,.0f} windows/s")
    row("one epoch, 2 threads (baseline)", two, "s", f"{len(train) / two:,.0f} windows/s")
    row("1 thread vs 2 threads", two / one, "x")
    row("40 epochs (the default cap), 1 thread", 40 * one / 60, "min", "early stopping usually ends sooner")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
