"""Training (seeds, early stopping), ONNX export and parity, window scores back onto rows and welds."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mlops_assets.ml.autoencoder.model import AutoencoderConfig
from mlops_assets.ml.autoencoder.scoring import aggregate_groups, rows_from_windows, score_windows
from mlops_assets.ml.autoencoder.trainer import TrainResult, thin_evenly, train_autoencoder
from mlops_assets.ml.release.onnx_export import check_parity, export_onnx

CONFIG = AutoencoderConfig(hidden=(16,), latent=3, max_epochs=30, patience=3, batch_size=64)


def _windows(n: int, seed: int) -> np.ndarray:
    # Windows of 2 signals x 4 steps living near a 2-D subspace: easy to reconstruct.
    rng = np.random.default_rng(seed)
    base = rng.normal(size=(n, 2))
    mix = np.array([[1.0, 0.5, -0.3, 0.2, 0.0, 1.0, 0.4, -0.1], [0.3, -1.0, 0.2, 0.5, 1.0, 0.0, -0.6, 0.9]])
    return (base @ mix + 0.01 * rng.normal(size=(n, 8))).astype(np.float32)


@pytest.fixture(scope="module")
def trained() -> TrainResult:
    return train_autoencoder(_windows(2000, 0), _windows(400, 1), 2, CONFIG)


def test_training_learns_stops_early_and_is_reproducible(trained: TrainResult) -> None:
    result = trained
    assert result.history[-1].val_loss < result.history[0].val_loss / 3
    assert result.best_val_loss == min(e.val_loss for e in result.history)
    again = train_autoencoder(_windows(2000, 0), _windows(400, 1), 2, CONFIG)
    assert [e.val_loss for e in again.history] == [e.val_loss for e in result.history]
    for a, b in zip(result.scorer.state_dict().values(), again.scorer.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    short = train_autoencoder(
        _windows(500, 0),
        _windows(100, 1),
        2,
        AutoencoderConfig(hidden=(16,), latent=3, max_epochs=200, patience=2, min_improvement=0.5),
    )
    assert short.stop_reason.startswith("early stop") and len(short.history) < 200


def test_anomalous_windows_score_higher_and_signal_errors_point_at_the_signal(trained: TrainResult) -> None:
    normal = _windows(200, 2)
    broken = normal.copy()
    broken[:, 1::2] += 3.0  # signal 1 (odd positions in the time-major layout) is off
    normal_scores, _ = score_windows(trained.scorer, normal)
    broken_scores, errors = score_windows(trained.scorer, broken)
    assert broken_scores.min() > np.quantile(normal_scores, 0.99)
    assert (errors[:, 1] > errors[:, 0]).all()


def test_onnx_export_matches_and_a_wrong_export_is_caught(trained: TrainResult) -> None:
    windows = _windows(300, 3)
    onnx_model = export_onnx(trained.scorer, 8)
    assert check_parity(trained.scorer, onnx_model, windows).passed
    assert check_parity(trained.scorer, onnx_model, windows[:1]).passed  # dynamic batch
    other = train_autoencoder(
        _windows(2000, 0),
        _windows(400, 1),
        2,
        AutoencoderConfig(hidden=(16,), latent=3, max_epochs=2, seed=99),
    )
    report = check_parity(trained.scorer, export_onnx(other.scorer, 8), windows)
    assert not report.passed and report.worst > report.atol


def test_rows_from_windows_match_a_brute_force_alignment() -> None:
    rng = np.random.default_rng(4)
    n_rows, window = 23, 5
    scores = rng.random(n_rows - window + 1)
    rows = rows_from_windows(scores, n_rows, window)
    for i in range(n_rows):
        covering = [scores[j] for j in range(len(scores)) if j <= i <= j + window - 1]
        assert rows[i] == pytest.approx(np.mean(covering))


def test_group_aggregation_and_thinning() -> None:
    keys, values = aggregate_groups(np.array([1.0, 5.0, 2.0, 2.0]), np.array(["b", "a", "b", "a"]), "max")
    assert keys.tolist() == ["a", "b"] and values.tolist() == [5.0, 2.0]
    _, means = aggregate_groups(np.array([1.0, 5.0, 2.0, 2.0]), np.array(["b", "a", "b", "a"]), "mean")
    assert means.tolist() == [3.5, 1.5]
    thinned = thin_evenly(np.arange(100)[:, None], 10)
    assert len(thinned) == 10 and thinned[0, 0] == 0 and thinned[-1, 0] == 99
