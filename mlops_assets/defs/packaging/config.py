"""Launchpad configuration of the edge package and its checks."""

import dagster as dg
from pydantic import Field

from mlops_assets.ml.release.gate_decision import GateMetric
from mlops_assets.ml.release.new_regime_rule import DEFAULT_HISTORY_WELDS, NewRegimePolicy

__all__ = ["EdgePackageConfig"]

_NEW_REGIME = NewRegimePolicy()


class EdgePackageConfig(dg.Config):
    parity_atol: float = Field(default=1e-5, gt=0, description="ONNX vs PyTorch: absolute tolerance ...")
    parity_rtol: float = Field(default=1e-4, ge=0, description="... plus this times the PyTorch value.")
    parity_windows: int = Field(default=2048, ge=1, description="Held-out windows compared.")
    gate_metric: GateMetric = Field(
        default="roc_auc",
        description="What the quality gate compares when labelled bad welds are held out (weld level when "
        "welds are labelled, else window level).",
    )
    gate_tolerance: float = Field(
        default=0.0,
        ge=0,
        description="How much worse than the champion a candidate may be. 0: never worse on the same "
        "held-out welds (a tolerance lets weekly promotions drift down by up to that much each time).",
    )
    gate_false_alarm_margin: float = Field(
        default=_NEW_REGIME.false_alarm_margin,
        ge=0,
        le=1,
        description="No labelled bad weld held out (a new regime): the candidate's false-alarm rate on the "
        "held-out welds must be at least this much below the champion's (0: off) ...",
    )
    gate_false_alarm_relative_margin: float = Field(
        default=_NEW_REGIME.false_alarm_relative_margin,
        ge=0,
        le=1,
        description="... and at most (1 - this) times the champion's (0: off).",
    )
    gate_history_recall_tolerance: float = Field(
        default=_NEW_REGIME.recall_tolerance,
        ge=0,
        le=1,
        description="New regime: how much lower than the champion's the candidate's recall on the labelled "
        "bad welds of the line's history may be.",
    )
    gate_history_recall_floor: float = Field(
        default=_NEW_REGIME.recall_floor,
        ge=0,
        le=1,
        description="New regime: the recall on the history the candidate must reach when the champion "
        "cannot be scored on it.",
    )
    gate_history_max_welds: int = Field(
        default=DEFAULT_HISTORY_WELDS,
        ge=1,
        description="New regime: the latest labelled bad welds of the history read (memory grows with it).",
    )
