"""Launchpad configuration of the training assets (defaults are the documented hyperparameters)."""

from __future__ import annotations

from typing import Literal

import dagster as dg
from pydantic import Field

from mlops_assets.ml.autoencoder.config import AutoencoderConfig

__all__ = ["AutoencoderTrainingConfig", "ThresholdConfig", "WeldFeaturesConfig"]


class WeldFeaturesConfig(dg.Config):
    window: int = Field(default=32, ge=2, le=1024, description="Samples per window.")
    stride: int = Field(default=8, ge=1, description="Samples between window starts.")
    val_fraction: float = Field(
        default=0.2, gt=0, lt=1, description="Share of the training welds (the latest) that validate."
    )
    holdout_fraction: float = Field(
        default=0.3, ge=0, lt=1, description="Share of normal welds (the latest) held out for evaluation."
    )
    days: int = Field(
        default=30,
        ge=0,
        description="Days of telemetry read, counted back from the line's latest day (0 = its whole "
        "history): memory grows with this, not with the line's age.",
    )
    since_ms: int | None = Field(
        default=None,
        ge=0,
        description="Only the welds that started at or after this time (epoch ms; within `days`): a "
        "retraining on a new regime. drift_sensor sets it to the drift onset; none = every weld.",
    )


class AutoencoderTrainingConfig(dg.Config):
    hidden: list[int] = Field(
        default=[128, 32], description="Encoder layer sizes (the decoder mirrors them)."
    )
    latent: int = Field(default=8, ge=1, description="Bottleneck size.")
    learning_rate: float = Field(default=1e-3, gt=0)
    weight_decay: float = Field(default=1e-5, ge=0)
    batch_size: int = Field(default=256, ge=1)
    max_epochs: int = Field(default=40, ge=1)
    patience: int = Field(
        default=5, ge=1, description="Epochs without validation improvement before stopping."
    )
    seed: int = Field(
        default=7, description="Seeds weights and shuffling: same data + same config = same model."
    )
    max_train_windows: int = Field(
        default=200_000, ge=100, description="Training windows beyond this are thinned evenly."
    )

    def to_model_config(self) -> AutoencoderConfig:
        return AutoencoderConfig(
            hidden=tuple(self.hidden),
            latent=self.latent,
            learning_rate=self.learning_rate,
            weight_decay=self.weight_decay,
            batch_size=self.batch_size,
            max_epochs=self.max_epochs,
            patience=self.patience,
            seed=self.seed,
            max_train_windows=self.max_train_windows,
        )


class ThresholdConfig(dg.Config):
    method: Literal["quantile", "mean_std", "pot"] = Field(
        default="quantile", description="quantile, mean_std or pot."
    )
    quantile: float = Field(default=0.99, gt=0, lt=1, description="For `quantile`.")
    k: float = Field(default=3.0, gt=0, description="For `mean_std`: mean + k standard deviations.")
    risk: float = Field(
        default=1e-3, gt=0, lt=1, description="For `pot`: exceedance probability of the threshold."
    )
    initial_quantile: float = Field(
        default=0.98, gt=0, lt=1, description="For `pot`: where the Pareto tail starts."
    )
    weld_aggregation: str = Field(
        default="mean",
        pattern=r"^(max|mean|p\d{1,2})$",
        description="Weld score from its window scores: max, mean or pNN.",
    )
    weld_duration: bool = Field(
        default=True,
        description="Add the weld-duration component to the weld score: a weld whose length in samples is "
        "far from the training welds' median (robust z over a bound fitted on validation welds with the "
        "same rule) alarms as 'duration', too short or too long.",
    )

    def params(self) -> dict[str, float]:
        return {
            "quantile": self.quantile,
            "k": self.k,
            "risk": self.risk,
            "initial_quantile": self.initial_quantile,
        }

    def settings(self, threshold_format: int) -> dict[str, object]:
        """What the MLflow run records of this configuration (params and the tag `threshold_config`)."""
        return {
            "threshold_method": self.method,
            **{f"threshold_{k}": v for k, v in self.params().items()},
            "weld_aggregation": self.weld_aggregation,
            "weld_duration": self.weld_duration,
            "threshold_format": threshold_format,
        }
