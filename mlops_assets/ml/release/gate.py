"""`package_passes_quality_gate`'s work: parity, then the candidate and the champion, each verified
and scored with its own package on the same held-out welds; the candidate is promoted when it passes
(no Dagster here). The gate fails closed: whatever cannot be judged is a recorded refusal."""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edge_agent.features import PackageError
from mlops_assets.lake import LakeStore
from mlops_assets.ml.registry import CHAMPION, ModelRegistry, RegisteredVersion
from mlops_assets.ml.release.gate_decision import GateDecision, decide
from mlops_assets.ml.release.holdout_set import holdout_segments
from mlops_assets.ml.release.package_eval import evaluate_package
from mlops_assets.ml.release.parity import PlatformKey, load_verified, package_parity
from mlops_assets.ml.training.feature_table import spec_id_of

__all__ = ["GateOutcome", "package_quality_gate"]


@dataclass(frozen=True)
class GateOutcome:
    decision: GateDecision
    level: str
    candidate: RegisteredVersion
    champion: RegisteredVersion | None
    previous_champion: str | None


class _Refused(Exception):
    """The gate cannot judge: the candidate is not promoted, and the reason says why."""


def _parity_first(
    registry: ModelRegistry,
    store: LakeStore,
    line: str,
    meta: Mapping[str, Any],
    key: PlatformKey,
    candidate: RegisteredVersion,
) -> None:
    try:
        report = package_parity(registry, store, line, meta, key, candidate)
    except (PackageError, ValueError, LookupError) as exc:
        raise _Refused(f"parity: {exc}") from exc
    if not report.passed:
        raise _Refused(
            f"parity: the ONNX graph differs from the trained model by up to {report.worst:.3g} "
            f"(allowed {report.atol} + {report.rtol} x value): not the model that was evaluated"
        )


def _judge(
    registry: ModelRegistry,
    store: LakeStore,
    line: str,
    meta: Mapping[str, Any],
    key: PlatformKey,
    candidate: RegisteredVersion,
    champion: RegisteredVersion | None,
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """Both packages verified with the platform key, scored on the same held-out welds. `champion`:
    another version than the candidate, or None.

    The welds hold the union of both models' spec signals. A signal a model uses but the line no longer
    sends (all null on those days) is filled as the edge fills it, so the champion is judged as it would
    serve today's data (a champion that depends on a dropped signal scores badly rather than blocking
    every candidate forever). A signal with no column in `validated_telemetry` at all cannot be filled
    by anything the edge would see: refused, naming the signal, and a person decides."""
    with tempfile.TemporaryDirectory() as tmp:
        try:
            mine = load_verified(registry, candidate, Path(tmp) / "candidate", key)
        except PackageError as exc:
            raise _Refused(f"the candidate v{candidate.version} does not verify: {exc}") from exc
        theirs = None
        if champion is not None:
            try:
                serving = registry.package_of(champion.name, champion.version)
                theirs = load_verified(registry, serving, Path(tmp) / "champion", key)
            except (PackageError, LookupError) as exc:
                raise _Refused(
                    f"the champion v{champion.version} cannot be verified with the platform key "
                    f"{key.key_id!r} ({exc}); it cannot be compared, so nothing is promoted: re-sign "
                    "its package or decide by hand"
                ) from exc
        signals = [*mine.spec.signals, *(theirs.spec.signals if theirs is not None else ())]
        try:
            held_out = holdout_segments(
                store,
                line,
                spec_id=spec_id_of(mine.spec),
                telemetry_version=int(meta["telemetry_version"]),
                signals=signals,
            )
        except (ValueError, LookupError) as exc:
            raise _Refused(f"the held-out welds cannot be read: {exc}") from exc
        try:
            scored = evaluate_package(mine, held_out.segments, held_out.signals)
        except (ValueError, LookupError) as exc:
            raise _Refused(
                f"the candidate v{candidate.version} cannot be scored on the held-out welds: {exc}"
            ) from exc
        if theirs is None or champion is None:
            return scored, None
        try:
            return scored, evaluate_package(theirs, held_out.segments, held_out.signals)
        except (ValueError, LookupError) as exc:
            raise _Refused(
                f"the champion v{champion.version} cannot be scored on the held-out welds ({exc}); it "
                "cannot be compared, so nothing is promoted: decide by hand"
            ) from exc


def package_quality_gate(
    registry: ModelRegistry, store: LakeStore, line: str, meta: Mapping[str, Any], key: PlatformKey
) -> GateOutcome:
    """Parity first; then candidate and champion scored on the same held-out welds, each with its own
    package; the candidate is promoted when it passes. Tags the candidate version with the verdict.
    A candidate that already is the champion (its gate run again) passes on parity and verification
    alone: there is nothing to compare it with, and nothing changes.

    Fails closed: a package that cannot be verified, an ONNX graph that is not the trained model, or a
    champion that cannot be judged never lets a candidate through; each is a recorded refusal
    (`quality_gate=failed` and the reason on the candidate, the champion unchanged), never an error
    that leaves the candidate `pending`."""
    candidate = registry.package_of(str(meta["model_name"]), str(meta["model_version"]))
    champion = registry.by_alias(candidate.name, CHAMPION)
    already = champion is not None and champion.version == candidate.version
    metric, tolerance = str(meta["gate_metric"]), float(meta["gate_tolerance"])
    level = "window"
    try:
        # Parity again, next to `package_matches_torch_model`: checks may run concurrently or alone, and
        # the gate must never promote a package that is not the model it evaluated.
        _parity_first(registry, store, line, meta, key, candidate)
        mine, theirs = _judge(registry, store, line, meta, key, candidate, None if already else champion)
        # Weld level when both can be judged on welds (a window-only champion is compared by windows).
        level = "weld" if mine.get("weld_n") and (theirs is None or theirs.get("weld_n")) else "window"
        value = mine.get(f"{level}_{metric}")
        if already:
            own = None if value is None else float(value)
            reason = f"v{candidate.version} is already champion: nothing to compare it with"
            decision = GateDecision(True, metric, own, own, tolerance, reason)
        else:
            decision = decide(
                {metric: value},
                None if theirs is None else {metric: theirs.get(f"{level}_{metric}")},
                metric,
                tolerance,
            )
    except _Refused as refused:
        decision = GateDecision(False, metric, None, None, tolerance, str(refused))
    registry.set_version_tags(
        candidate.name,
        candidate.version,
        {"quality_gate": "passed" if decision.passed else "failed", "quality_gate_reason": decision.reason},
    )
    previous = None
    if decision.passed and not already:
        replaced = registry.promote(candidate.name, candidate.version)
        previous = replaced.version if replaced is not None else None
    return GateOutcome(decision, level, candidate, champion, previous)
