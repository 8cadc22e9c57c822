"""Blocking checks of `edge_model_package`: ONNX parity, and the quality gate (which promotes).

Thin wiring around `mlops_assets.ml.release.parity` and `.gate`. Packages are verified with the platform
signer's public key (the `signer` resource), never with a key read back from the metadata being checked.
"""

import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import dagster as dg

from edge_agent.features import PackageError
from mlops_assets.defs.packaging.assets import edge_model_package
from mlops_assets.ml.release.platform_key import PlatformKey
from mlops_assets.partitions import line_partitions
from mlops_assets.resources import LakehouseResource, ModelRegistryResource, SignerResource
from mlops_assets.upstream import upstream_metadata

# `parity` and `gate` load torch and ONNX Runtime: each check imports the one it runs, so the code
# location and the runs that do not check a package never import them.
if TYPE_CHECKING:
    from mlops_assets.ml.release.gate import GateOutcome

__all__ = ["package_matches_torch_model", "package_passes_quality_gate"]


def _per_line_check(fn: Callable[..., dg.AssetCheckResult]) -> dg.AssetChecksDefinition:
    with warnings.catch_warnings():
        # Checks per line partition are "preview" in dagster 1.13; without them a check result could
        # not say which line's package it judged.
        warnings.simplefilter("ignore", dg.PreviewWarning)
        return dg.asset_check(asset=edge_model_package, blocking=True, partitions_def=line_partitions)(fn)


def _platform_key(signer: SignerResource) -> PlatformKey:
    manifest_signer = signer.signer()
    return PlatformKey(manifest_signer.key_id, manifest_signer.public_key_b64)


@_per_line_check
def package_matches_torch_model(
    context: dg.AssetCheckExecutionContext,
    lakehouse: LakehouseResource,
    model_registry: ModelRegistryResource,
    signer: SignerResource,
) -> dg.AssetCheckResult:
    """ONNX Runtime on the packaged model against PyTorch eager on held-out windows: every output within
    atol + rtol * |PyTorch value|."""
    from mlops_assets.ml.release.parity import package_parity

    line = context.op_execution_context.partition_key
    meta = upstream_metadata(context, "edge_model_package", line)
    try:
        report = package_parity(
            model_registry.registry(), lakehouse.store(), line, meta, _platform_key(signer)
        )
    except (PackageError, ValueError, LookupError) as exc:  # ValueError: also FeaturesMismatch
        return dg.AssetCheckResult(passed=False, metadata={"reason": str(exc)})
    return dg.AssetCheckResult(
        passed=report.passed,
        metadata={
            "windows": report.windows,
            "max_abs_diff": report.worst,
            **{f"max_abs_diff_{k}": v for k, v in report.max_abs_diff.items()},
            "atol": report.atol,
            "rtol": report.rtol,
        },
    )


def _none_as_nan(value: float | None) -> float:
    return float("nan") if value is None else value


def _gate_metadata(outcome: "GateOutcome") -> dict[str, Any]:
    """What the check records: the verdict, the rule applied and its figures (`new_regime_*` for the
    new-regime rule, with the settings it applied)."""
    decision = outcome.decision
    found: dict[str, Any] = {
        "reason": decision.reason,
        "rule": decision.rule,
        "level": outcome.level,
        "metric": decision.metric,
        "candidate_version": outcome.candidate.version,
        "candidate_value": _none_as_nan(decision.candidate),
        "champion_version": "none" if outcome.champion is None else outcome.champion.version,
        "champion_value": _none_as_nan(decision.champion),
        "tolerance": decision.tolerance,
        "promoted": decision.passed,
        "previous_champion": outcome.previous_champion or "none",
    }
    evidence, policy = outcome.new_regime, outcome.new_regime_policy
    if evidence is not None and policy is not None:
        found |= {
            "new_regime_holdout_welds": evidence.holdout_welds,
            "new_regime_history_welds": evidence.history_welds,
            "new_regime_candidate_false_alarm_rate": _none_as_nan(evidence.candidate_false_alarm_rate),
            "new_regime_champion_false_alarm_rate": _none_as_nan(evidence.champion_false_alarm_rate),
            "new_regime_candidate_recall": _none_as_nan(evidence.candidate_recall),
            "new_regime_champion_recall": _none_as_nan(evidence.champion_recall),
            "new_regime_champion_history_error": evidence.champion_history_error or "none",
            "new_regime_labels_version": dg.MetadataValue.null()
            if evidence.labels_version is None
            else evidence.labels_version,
            "new_regime_policy": dg.MetadataValue.json(
                {
                    "false_alarm_margin": policy.false_alarm_margin,
                    "false_alarm_relative_margin": policy.false_alarm_relative_margin,
                    "recall_tolerance": policy.recall_tolerance,
                    "recall_floor": policy.recall_floor,
                }
            ),
        }
    return found


@_per_line_check
def package_passes_quality_gate(
    context: dg.AssetCheckExecutionContext,
    lakehouse: LakehouseResource,
    model_registry: ModelRegistryResource,
    signer: SignerResource,
) -> dg.AssetCheckResult:
    """Parity first (a package that is not the evaluated model never passes); then candidate and
    champion, both verified with the platform key, scored on the same held-out welds, each with its own
    package; the candidate becomes `champion` when it passes its rule (the old champion stays
    addressable as `previous-champion`): not worse by more than the tolerance when labelled bad welds
    are held out, else fewer false alarms by the margin without losing recall on the labelled history
    (`metadata["rule"]` says which)."""
    from mlops_assets.ml.release.gate import package_quality_gate

    line = context.op_execution_context.partition_key
    meta = upstream_metadata(context, "edge_model_package", line)
    outcome = package_quality_gate(
        model_registry.registry(), lakehouse.store(), line, meta, _platform_key(signer)
    )
    decision = outcome.decision
    if decision.passed:
        context.log.info(
            "%s v%s is now champion (%s)", outcome.candidate.name, outcome.candidate.version, decision.reason
        )
    else:
        context.log.warning(
            "%s v%s stays challenger: %s", outcome.candidate.name, outcome.candidate.version, decision.reason
        )
    return dg.AssetCheckResult(
        passed=decision.passed,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata=_gate_metadata(outcome),
    )
