"""The model of a training run: trained on the line's windows, kept as an artefact of its MLflow run
(with its feature spec), and loaded back by the threshold, evaluation and release steps."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

import polars as pl

from edge_agent.features import FeatureSpec
from mlops_assets.lake import LakeStore
from mlops_assets.ml.autoencoder.model import AutoencoderConfig, WindowScorer
from mlops_assets.ml.autoencoder.model_io import SCORER_FILE, load_scorer, save_scorer
from mlops_assets.ml.autoencoder.trainer import EpochReport, TrainResult, train_autoencoder
from mlops_assets.ml.registry import ModelRegistry
from mlops_assets.ml.training.feature_table import FeaturesMismatch, read_spec, read_windows

__all__ = ["MODEL_ARTIFACTS", "load_run_model", "save_run_model", "train_from_lake"]

MODEL_ARTIFACTS = "model"


def train_from_lake(
    store: LakeStore,
    line: str,
    config: AutoencoderConfig,
    on_epoch: Callable[[EpochReport], None] | None = None,
    spec_id: str | None = None,
) -> tuple[TrainResult, FeatureSpec, str]:
    """Train on the line's `train` windows, stop early on its `validation` windows. `spec_id`: the spec
    the windows must have been cut with (what `weld_features` reported); refused otherwise."""
    train, meta = read_windows(store, line, ["train"])
    val, _ = read_windows(store, line, ["validation"])
    spec_ids = meta["spec_id"].unique() if meta.height else pl.Series([], dtype=pl.String)
    if spec_ids.len() != 1:
        raise ValueError(
            f"weld_features of {line} holds specs {spec_ids.to_list()}: materialise weld_features first"
        )
    if spec_id is not None and spec_ids[0] != spec_id:
        raise FeaturesMismatch(
            f"weld_features of {line} now holds spec {spec_ids[0]}, not {spec_id} that weld_features "
            "reported: it was materialised again meanwhile; materialise the chain from weld_features"
        )
    spec = read_spec(store, line, spec_ids[0])
    return train_autoencoder(train, val, spec.n_signals, config, on_epoch), spec, str(spec_ids[0])


def save_run_model(
    registry: ModelRegistry, run_id: str, scorer: WindowScorer, config: AutoencoderConfig, spec: FeatureSpec
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / MODEL_ARTIFACTS
        folder.mkdir()
        save_scorer(folder / SCORER_FILE, scorer, config)
        (folder / "feature_spec.json").write_text(spec.to_json())
        registry.log_artifact(run_id, folder, MODEL_ARTIFACTS)


def load_run_model(registry: ModelRegistry, run_id: str) -> tuple[WindowScorer, FeatureSpec]:
    with tempfile.TemporaryDirectory() as tmp:
        folder = registry.download(run_id, MODEL_ARTIFACTS, Path(tmp))
        return load_scorer(folder / SCORER_FILE), FeatureSpec.from_json(
            (folder / "feature_spec.json").read_text()
        )
