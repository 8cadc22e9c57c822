"""Training loop: time-ordered validation, early stopping on the validation loss, fixed seeds.

The caller splits windows by time (the last windows validate): a random split would let windows that
overlap a validation window leak into training and make the validation loss, and so the threshold,
optimistic.
"""

from __future__ import annotations

import copy
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch

from mlops_assets.ml.autoencoder.model import AutoencoderConfig, WindowScorer, build_scorer

__all__ = ["EpochReport", "TrainResult", "thin_evenly", "train_autoencoder"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EpochReport:
    epoch: int
    train_loss: float
    val_loss: float
    seconds: float
    best: bool


@dataclass
class TrainResult:
    scorer: WindowScorer
    history: list[EpochReport] = field(default_factory=list)
    best_epoch: int = 0
    best_val_loss: float = float("inf")
    stop_reason: str = ""
    seconds: float = 0.0
    train_windows: int = 0
    val_windows: int = 0


def thin_evenly(windows: np.ndarray, limit: int) -> np.ndarray:
    """At most `limit` rows, evenly spread over time (deterministic, keeps the time coverage)."""
    if len(windows) <= limit:
        return windows
    return windows[np.linspace(0, len(windows) - 1, limit).round().astype(np.int64)]


def _mean_loss(scorer: WindowScorer, windows: torch.Tensor, batch: int = 4096) -> float:
    scorer.eval()
    total = 0.0
    with torch.no_grad():
        for start in range(0, len(windows), batch):
            score, _, _ = scorer(windows[start : start + batch])
            total += float(score.sum())
    return total / max(len(windows), 1)


def train_autoencoder(
    train_windows: np.ndarray,
    val_windows: np.ndarray,
    n_signals: int,
    config: AutoencoderConfig,
    on_epoch: Callable[[EpochReport], None] | None = None,
) -> TrainResult:
    """Train on `train_windows`, stop early on `val_windows` (both `(n, window * n_signals)` float32)."""
    if len(train_windows) == 0:
        raise ValueError("no training windows")
    if len(val_windows) == 0:
        raise ValueError("no validation windows")
    started = time.monotonic()
    previous_threads = torch.get_num_threads()
    torch.set_num_threads(config.threads)
    try:
        return _train(train_windows, val_windows, n_signals, config, on_epoch, started)
    finally:
        torch.set_num_threads(previous_threads)


def _train(
    train_windows: np.ndarray,
    val_windows: np.ndarray,
    n_signals: int,
    config: AutoencoderConfig,
    on_epoch: Callable[[EpochReport], None] | None,
    started: float,
) -> TrainResult:
    torch.manual_seed(config.seed)
    train = torch.from_numpy(np.ascontiguousarray(thin_evenly(train_windows, config.max_train_windows)))
    val = torch.from_numpy(np.ascontiguousarray(thin_evenly(val_windows, config.max_train_windows // 4)))
    scorer = build_scorer(train.shape[1], n_signals, config)
    optimiser = torch.optim.Adam(
        scorer.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay
    )
    shuffle = torch.Generator().manual_seed(config.seed)
    result = TrainResult(scorer=scorer, train_windows=len(train), val_windows=len(val))
    best_state = copy.deepcopy(scorer.state_dict())
    stale = 0
    for epoch in range(1, config.max_epochs + 1):
        epoch_started = time.monotonic()
        scorer.train()
        total = 0.0
        for index in torch.randperm(len(train), generator=shuffle).split(config.batch_size):
            batch = train[index]
            optimiser.zero_grad(set_to_none=True)
            loss = (scorer.autoencoder(batch) - batch).pow(2).mean()
            loss.backward()
            optimiser.step()
            total += float(loss.detach()) * len(index)
        val_loss = _mean_loss(scorer, val)
        improved = val_loss < result.best_val_loss * (1.0 - config.min_improvement)
        if val_loss < result.best_val_loss:
            result.best_val_loss, result.best_epoch = val_loss, epoch
            best_state = copy.deepcopy(scorer.state_dict())
        stale = 0 if improved else stale + 1
        report = EpochReport(epoch, total / len(train), val_loss, time.monotonic() - epoch_started, improved)
        result.history.append(report)
        if on_epoch is not None:
            on_epoch(report)
        if not np.isfinite(val_loss):
            result.stop_reason = f"validation loss is not finite at epoch {epoch}"
            break
        if stale >= config.patience:
            result.stop_reason = f"early stop: no improvement for {config.patience} epochs"
            break
        if config.max_seconds is not None and time.monotonic() - started > config.max_seconds:
            result.stop_reason = f"time budget of {config.max_seconds:.0f} s reached"
            log.warning("training stopped after epoch %d: %s", epoch, result.stop_reason)
            break
    else:
        result.stop_reason = f"reached max_epochs={config.max_epochs}"
    scorer.load_state_dict(best_state)
    scorer.eval()
    result.seconds = time.monotonic() - started
    return result
