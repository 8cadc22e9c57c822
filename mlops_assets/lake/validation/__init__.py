"""Vectorised payload validation: checks derived from the AsyncAPI payload schema, run as polars
expressions over whole batches (no Python loop per row), with a reason for every refused row."""

from mlops_assets.lake.validation.checks import Rule, attribute_reasons, build_rules
from mlops_assets.lake.validation.decode import DecodedPayloads, decode_payloads
from mlops_assets.lake.validation.plan import ColumnarSchemaError, PayloadPlan, plan_for_message, plan_payload
from mlops_assets.lake.validation.validator import ColumnarValidator

__all__ = [
    "ColumnarSchemaError",
    "ColumnarValidator",
    "DecodedPayloads",
    "PayloadPlan",
    "Rule",
    "attribute_reasons",
    "build_rules",
    "decode_payloads",
    "plan_for_message",
    "plan_payload",
]
