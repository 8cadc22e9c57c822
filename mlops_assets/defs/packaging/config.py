"""Launchpad configuration of the edge package and its checks."""

import dagster as dg
from pydantic import Field

__all__ = ["EdgePackageConfig"]


class EdgePackageConfig(dg.Config):
    parity_atol: float = Field(default=1e-5, gt=0, description="ONNX vs PyTorch: absolute tolerance ...")
    parity_rtol: float = Field(default=1e-4, ge=0, description="... plus this times the PyTorch value.")
    parity_windows: int = Field(default=2048, ge=1, description="Held-out windows compared.")
    gate_metric: str = Field(
        default="roc_auc", description="roc_auc, f1, average_precision, false_alarm_rate, ..."
    )
    gate_tolerance: float = Field(
        default=0.01, ge=0, description="How much worse than the champion a candidate may be."
    )
