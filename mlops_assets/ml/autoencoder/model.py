"""The autoencoder: a dense network over flattened windows, and `WindowScorer`, the scoring head the
edge runs (exported to ONNX): one forward pass returns the window's score (mean squared error of the
standardised window), each signal's error and the reconstruction."""

from __future__ import annotations

import itertools

import torch
from torch import nn

from mlops_assets.ml.autoencoder.config import AutoencoderConfig  # re-exported: its home is torch-free

__all__ = ["AutoencoderConfig", "DenseAutoencoder", "WindowScorer", "build_scorer"]


class DenseAutoencoder(nn.Module):
    def __init__(self, n_features: int, hidden: tuple[int, ...], latent: int) -> None:
        super().__init__()
        sizes = [n_features, *hidden, latent]
        encoder: list[nn.Module] = []
        for a, b in itertools.pairwise(sizes):
            encoder += [nn.Linear(a, b), nn.ReLU()]
        decoder: list[nn.Module] = []
        back = sizes[::-1]
        for a, b in itertools.pairwise(back):
            decoder += [nn.Linear(a, b), nn.ReLU()]
        self.encoder = nn.Sequential(*encoder[:-1])  # a linear bottleneck
        self.decoder = nn.Sequential(*decoder[:-1])  # a linear output: standardised values are signed
        self.n_features = n_features

    def forward(self, windows: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(windows))


class WindowScorer(nn.Module):
    """windows (batch, window * n_signals) -> score (batch,), signal_errors (batch, n_signals), reconstruction."""

    def __init__(self, autoencoder: DenseAutoencoder, n_signals: int) -> None:
        super().__init__()
        if autoencoder.n_features % n_signals:
            raise ValueError(f"{autoencoder.n_features} features do not split into {n_signals} signals")
        self.autoencoder = autoencoder
        self.n_signals = n_signals

    def forward(self, windows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        reconstruction = self.autoencoder(windows)
        squared = (windows - reconstruction).pow(2).reshape(windows.shape[0], -1, self.n_signals)
        signal_errors = squared.mean(dim=1)
        return signal_errors.mean(dim=1), signal_errors, reconstruction


def build_scorer(n_features: int, n_signals: int, config: AutoencoderConfig) -> WindowScorer:
    torch.manual_seed(config.seed)
    return WindowScorer(DenseAutoencoder(n_features, config.hidden, config.latent), n_signals)
