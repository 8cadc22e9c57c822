"""Blocking checks of `edge_model_package`: ONNX parity, and the quality gate (which promotes).

Thin wiring around `mlops_assets.ml.release.parity` and `.gate`. Packages are verified with the platform
signer's public key (the `signer` resource), never with a key read back from the metadata being checked.
"""

import warnings
from collections.abc import Callable

import dagster as dg

from edge_agent.features import PackageError
from mlops_assets.defs.packaging.assets import edge_model_package
from mlops_assets.ml.release.gate import package_quality_gate
from mlops_assets.ml.release.parity import PlatformKey, package_parity
from mlops_assets.partitions import line_partitions
from mlops_assets.resources import LakehouseResource, ModelRegistryResource, SignerResource
from mlops_assets.upstream import upstream_metadata

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


@_per_line_check
def package_passes_quality_gate(
    context: dg.AssetCheckExecutionContext,
    lakehouse: LakehouseResource,
    model_registry: ModelRegistryResource,
    signer: SignerResource,
) -> dg.AssetCheckResult:
    """Parity first (a package that is not the evaluated model never passes); then candidate and
    champion, both verified with the platform key, scored on the same held-out welds, each with its own
    package; the candidate becomes `champion` when it is not worse by more than the tolerance (the old
    champion stays addressable as `previous-champion`)."""
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
        metadata={
            "reason": decision.reason,
            "level": outcome.level,
            "metric": decision.metric,
            "candidate_version": outcome.candidate.version,
            "candidate_value": float("nan") if decision.candidate is None else decision.candidate,
            "champion_version": "none" if outcome.champion is None else outcome.champion.version,
            "champion_value": float("nan") if decision.champion is None else decision.champion,
            "tolerance": decision.tolerance,
            "promoted": decision.passed,
            "previous_champion": outcome.previous_champion or "none",
        },
    )
