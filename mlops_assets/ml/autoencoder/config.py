"""`AutoencoderConfig`: the autoencoder's architecture and training hyperparameters, a plain dataclass
without torch, so the code location can build its launchpad configuration without importing torch."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["AutoencoderConfig"]


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
