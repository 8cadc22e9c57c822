"""The settings sections of a model at the edge: the model slot (`model`), scoring (`scoring`) and the
drift monitor (`drift`); part of `EdgeSettings`."""

from __future__ import annotations

import base64
import binascii
from typing import Literal

from pydantic import Field, field_validator, model_validator

from edge_agent.agent.settings_base import MiB, Section

__all__ = ["DRIFT_METHOD_THRESHOLDS", "DriftMethod", "DriftSettings", "ModelSettings", "ScoringSettings"]


class ModelSettings(Section):
    public_key: str | None = Field(
        default=None,
        description="The platform's ed25519 public key (base64 of the raw 32 bytes) that deployments and "
        "packages must verify with; without it the agent has no model slot and scores nothing.",
    )
    key_id: str | None = Field(
        default=None, description="The key id they must be signed with (any when unset)."
    )
    fetch_retry_min_s: float = Field(default=1.0, gt=0)
    fetch_retry_max_s: float = Field(default=60.0, gt=0)
    max_file_bytes: int = Field(default=256 * MiB, ge=1024, description="Largest package file fetched.")
    keep_versions: int = Field(default=3, ge=2, description="Verified packages kept in the cache.")

    @field_validator("public_key")
    @classmethod
    def _ed25519_key(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            raw = base64.b64decode(value, validate=True)
        except binascii.Error:
            raise ValueError("must be base64 (the raw 32-byte ed25519 public key)") from None
        if len(raw) != 32:
            raise ValueError(f"decodes to {len(raw)} bytes; an ed25519 public key has 32")
        return value


class ScoringSettings(Section):
    queue_capacity: int = Field(default=4096, ge=16, description="Captured batches waiting to be scored.")
    batch: int = Field(default=256, ge=1, le=10_000, description="Batches per request to the scoring worker.")
    checkpoint_interval_s: float = Field(
        default=1.0, gt=0, description="How often the scoring state is made durable (the upload fence)."
    )
    outbox_max_bytes: int = Field(
        default=64 * MiB, ge=64 * 1024, description="Results waiting for the broker."
    )
    publish_inflight: int = Field(default=256, ge=1, le=65535)
    alert_raise_after: int = Field(default=3, ge=1, description="Consecutive windows over the threshold.")
    alert_clear_after: int = Field(default=20, ge=1, description="Consecutive windows under the clear bound.")
    alert_clear_ratio: float = Field(default=0.8, gt=0, le=1)
    weld_idle_close_s: float = Field(
        default=5.0, gt=0, description="A weld of a silent cell closes after this."
    )
    max_weld_samples: int = Field(default=200_000, ge=1000)


DriftMethod = Literal[
    "psi",
    "wasserstein",
    "jensenshannon",
    "hellinger",
    "kl_div",
    "ks",
    "energy",
    "cramer_von_mises",
    "anderson",
]
"""Evidently's numerical drift tests the agent offers (named as Evidently names them)."""
DRIFT_METHOD_THRESHOLDS: dict[str, float] = {"psi": 0.2}
"""Column thresholds the agent sets itself; the other methods keep Evidently's (PSI: 0.1 is Evidently's,
0.2 the usual mark of a significant shift)."""


class DriftSettings(Section):
    """The drift monitor: Evidently reports of the scored windows against the package's reference profile."""

    enabled: bool = Field(default=True, description="Drift reports while a model scores.")
    period_s: float = Field(default=300.0, gt=0, description="How often a report is considered.")
    min_rows: int = Field(default=2000, ge=10, description="New windows needed since the last report.")
    window_rows: int = Field(
        default=10_000,
        ge=10,
        description="The newest windows a report compares (enough welds that a defect is not drift).",
    )
    drift_share: float = Field(default=0.25, gt=0, le=1, description="Drifted-column share called drift.")
    method: DriftMethod = Field(
        default="psi",
        description="Evidently's per-column test (psi: binned, a few outlying welds weigh little).",
    )
    column_threshold: float | None = Field(
        default=None,
        gt=0,
        description="A column drifts from this score on; default: 0.2 for psi, else Evidently's.",
    )
    worker_idle_s: float = Field(default=600.0, gt=0, description="Idle seconds before the worker exits.")
    backlog_max_bytes: int = Field(default=256 * MiB, ge=MiB, description="Reports waiting for upload.")

    @model_validator(mode="after")
    def _rows(self) -> DriftSettings:
        if self.min_rows > self.window_rows:
            raise ValueError("min_rows must be <= window_rows (a report compares at most window_rows)")
        return self

    @property
    def method_threshold(self) -> float | None:
        """The column threshold the worker passes to Evidently (None: Evidently's for the method)."""
        if self.column_threshold is not None:
            return self.column_threshold
        return DRIFT_METHOD_THRESHOLDS.get(self.method)
