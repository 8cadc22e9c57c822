"""The autoencoder: a dense network over flattened windows, and `WindowScorer`, the scoring head the
edge runs (exported to ONNX): one forward pass returns the window's score (mean squared error of the
standardised window), each signal's error and the reconstruction."""

from __future__ import annotations

import itertools
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
from torch import nn

__all__ = ["AutoencoderConfig", "DenseAutoencoder", "WindowScorer", "build_scorer"]


@dataclass(frozen=True)
class AutoencoderConfig:
    """Architecture and training hyperparameters."""

    hidden: tuple[int, ...] = (128, 32)
    latent: int = 8
    learning_rate: float = 1e-3
    weight_decay: float = 1e-5
    batch_size: int = 256
    max_epochs: int = 40
    patience: int = 5
    min_improvement: float = 0.002
    """Relative improvement of the validation loss that counts as progress for early stopping."""
    seed: int = 7
    max_train_windows: int = 200_000
    """Training windows beyond this are thinned evenly (deterministically) to bound the training time."""
    max_seconds: float | None = None
    """Optional wall-time budget; training stops after the epoch that exceeds it (logged)."""
    threads: int = 1
    """Intra-op threads while training. One by default: for layers this small, measured on the 2-core
    machine (`benchmarks/train.py`), a second thread costs more in synchronisation than it saves, and
    far more when other processes share the cores."""
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.latent < 1 or any(h < 1 for h in self.hidden):
            raise ValueError("layer sizes must be >= 1")
        if self.learning_rate <= 0 or self.batch_size < 1 or self.max_epochs < 1 or self.patience < 1:
            raise ValueError("learning_rate, batch_size, max_epochs and patience must be positive")

    def as_params(self) -> dict[str, Any]:
        params = asdict(self)
        params["hidden"] = ",".join(str(h) for h in self.hidden)
        params.update(params.pop("extra"))
        return params


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
