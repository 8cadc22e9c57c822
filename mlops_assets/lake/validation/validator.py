"""One object per message type: plan once, then validate batches of payloads."""

from __future__ import annotations

from collections.abc import Mapping

import polars as pl

from edge_agent.contract import DEFAULT_MAX_PAYLOAD_BYTES, Contract
from mlops_assets.lake.validation.checks import attribute_reasons, build_rules
from mlops_assets.lake.validation.decode import DecodedPayloads, decode_payloads
from mlops_assets.lake.validation.plan import PayloadPlan, plan_for_message

__all__ = ["ColumnarValidator"]


class ColumnarValidator:
    """Validates a column of payloads of one channel's message, batch-wise.

    `validate` returns the decoded, typed fields (one row per payload, in order) with
    `error_kind`, `error_path` and `error_reason`, null on valid rows.
    """

    def __init__(
        self, contract: Contract, channel_id: str, *, max_payload_bytes: int = DEFAULT_MAX_PAYLOAD_BYTES
    ) -> None:
        self.plan: PayloadPlan = plan_for_message(contract, channel_id)
        self.contract_version = contract.version
        self.max_payload_bytes = max_payload_bytes

    def decode(
        self, payloads: pl.Series, known_names: Mapping[str, list[str]] | None = None
    ) -> DecodedPayloads:
        return decode_payloads(payloads, self.plan, known_names=known_names, max_bytes=self.max_payload_bytes)

    def validate(
        self, payloads: pl.Series, known_names: Mapping[str, list[str]] | None = None
    ) -> tuple[pl.DataFrame, dict[str, list[str]]]:
        """(typed fields with error columns, the names decoded in each map field)."""
        decoded = self.decode(payloads, known_names)
        rules = build_rules(self.plan, decoded.frame.schema, max_bytes=self.max_payload_bytes)
        return attribute_reasons(decoded.frame, rules), decoded.map_names
