"""Save and load a trained window scorer (weights plus the shape needed to rebuild it)."""

from __future__ import annotations

from pathlib import Path

import torch

from mlops_assets.ml.autoencoder.model import AutoencoderConfig, WindowScorer, build_scorer

__all__ = ["SCORER_FILE", "load_scorer", "save_scorer"]

SCORER_FILE = "scorer.pt"


def save_scorer(path: Path, scorer: WindowScorer, config: AutoencoderConfig) -> None:
    torch.save(
        {
            "state_dict": scorer.state_dict(),
            "n_features": scorer.autoencoder.n_features,
            "n_signals": scorer.n_signals,
            "hidden": list(config.hidden),
            "latent": config.latent,
        },
        path,
    )


def load_scorer(path: Path) -> WindowScorer:
    saved = torch.load(path, map_location="cpu", weights_only=True)
    config = AutoencoderConfig(hidden=tuple(saved["hidden"]), latent=int(saved["latent"]))
    scorer = build_scorer(int(saved["n_features"]), int(saved["n_signals"]), config)
    scorer.load_state_dict(saved["state_dict"])
    scorer.eval()
    return scorer
