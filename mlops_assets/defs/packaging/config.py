"""Launchpad configuration of the edge package and its checks."""

import dagster as dg
from pydantic import Field

from mlops_assets.ml.release.gate_decision import GateMetric

__all__ = ["EdgePackageConfig"]


class EdgePackageConfig(dg.Config):
    parity_atol: float = Field(default=1e-5, gt=0, description="ONNX vs PyTorch: absolute tolerance ...")
    parity_rtol: float = Field(default=1e-4, ge=0, description="... plus this times the PyTorch value.")
    parity_windows: int = Field(default=2048, ge=1, description="Held-out windows compared.")
    gate_metric: GateMetric = Field(
        default="roc_auc",
        description="What the quality gate compares (weld level when welds are labelled, else window level).",
    )
    gate_tolerance: float = Field(
        default=0.0,
        ge=0,
        description="How much worse than the champion a candidate may be. 0: never worse on the same "
        "held-out welds (a tolerance lets weekly promotions drift down by up to that much each time).",
    )
