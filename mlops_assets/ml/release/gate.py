"""`package_passes_quality_gate`'s work: parity, then the candidate and the champion, each verified
and scored with its own package on the same held-out welds; the candidate is promoted when it passes
(no Dagster here). With labelled bad welds held out, `gate_metric` decides (`gate_decision.decide`);
without (a retrain on a new regime), false alarms on those welds and recall on the line's labelled
history do (`new_regime_rule`). The gate fails closed: whatever cannot be judged is a recorded refusal."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edge_agent.features import EdgePackage, PackageError
from mlops_assets.lake import LakeStore
from mlops_assets.ml.registry import CHAMPION, ModelRegistry, RegisteredVersion
from mlops_assets.ml.release.gate_decision import (
    ALREADY_CHAMPION,
    NEW_REGIME,
    NOT_JUDGED,
    GateDecision,
    decide,
)
from mlops_assets.ml.release.history_set import labelled_history
from mlops_assets.ml.release.holdout_set import HoldoutSet, holdout_segments
from mlops_assets.ml.release.new_regime_rule import (
    DEFAULT_HISTORY_WELDS,
    NewRegimeEvidence,
    NewRegimePolicy,
    decide_new_regime,
)
from mlops_assets.ml.release.package_eval import evaluate_package
from mlops_assets.ml.release.parity import package_parity
from mlops_assets.ml.release.platform_key import PlatformKey, load_verified
from mlops_assets.ml.training.feature_table import spec_id_of

__all__ = ["GateOutcome", "package_quality_gate"]

Scores = dict[str, float | int | None]


@dataclass(frozen=True)
class GateOutcome:
    decision: GateDecision
    level: str
    candidate: RegisteredVersion
    champion: RegisteredVersion | None
    previous_champion: str | None
    new_regime: NewRegimeEvidence | None = None
    """What the new-regime rule measured, when it applied ..."""
    new_regime_policy: NewRegimePolicy | None = None
    """... and the settings it applied."""


class _Refused(Exception):
    """The gate cannot judge: the candidate is not promoted, and the reason says why."""

    def __init__(self, reason: str, rule: str = NOT_JUDGED) -> None:
        super().__init__(reason)
        self.rule = rule


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


@dataclass(frozen=True)
class _Packages:
    candidate: EdgePackage
    champion: EdgePackage | None
    champion_version: str | None

    @property
    def signals(self) -> list[str]:
        """Both models' spec signals: the columns every set they are scored on holds."""
        theirs = self.champion.spec.signals if self.champion is not None else ()
        return [*self.candidate.spec.signals, *theirs]


@contextmanager
def _verified_packages(
    registry: ModelRegistry,
    key: PlatformKey,
    candidate: RegisteredVersion,
    champion: RegisteredVersion | None,
) -> Iterator[_Packages]:
    """Both packages, downloaded and verified with the platform key, for the time they are scored.
    `champion`: another version than the candidate, or None."""
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
        yield _Packages(mine, theirs, None if champion is None else champion.version)


@dataclass(frozen=True)
class _HoldoutScores:
    held_out: HoldoutSet
    candidate: Scores
    champion: Scores | None

    @property
    def level(self) -> str:
        """Weld when both can be judged on welds (a window-only champion is compared by windows)."""
        both = self.candidate.get("weld_n") and (self.champion is None or self.champion.get("weld_n"))
        return "weld" if both else "window"

    @property
    def bad_welds(self) -> int:
        return sum(s.anomalous for s in self.held_out.segments)


def _score_holdout(
    store: LakeStore, line: str, meta: Mapping[str, Any], packages: _Packages
) -> _HoldoutScores:
    """Both packages scored on the same held-out welds.

    The welds hold the union of both models' spec signals. A signal a model uses but the line no longer
    sends (all null on those days) is filled as the edge fills it, so the champion is judged as it would
    serve today's data (a champion that depends on a dropped signal scores badly rather than blocking
    every candidate forever). A signal with no column in `validated_telemetry` at all cannot be filled
    by anything the edge would see: refused, naming the signal, and a person decides."""
    mine = packages.candidate
    try:
        held_out = holdout_segments(
            store,
            line,
            spec_id=spec_id_of(mine.spec),
            telemetry_version=int(meta["telemetry_version"]),
            signals=packages.signals,
        )
    except (ValueError, LookupError) as exc:
        raise _Refused(f"the held-out welds cannot be read: {exc}") from exc
    try:
        scored = evaluate_package(mine, held_out.segments, held_out.signals)
    except (ValueError, LookupError) as exc:
        raise _Refused(
            f"the candidate v{mine.model_version} cannot be scored on the held-out welds: {exc}"
        ) from exc
    if packages.champion is None:
        return _HoldoutScores(held_out, scored, None)
    try:
        return _HoldoutScores(
            held_out, scored, evaluate_package(packages.champion, held_out.segments, held_out.signals)
        )
    except (ValueError, LookupError) as exc:
        raise _Refused(
            f"the champion v{packages.champion_version} cannot be scored on the held-out welds ({exc}); it "
            "cannot be compared, so nothing is promoted: decide by hand"
        ) from exc


def _new_regime_policy(meta: Mapping[str, Any]) -> NewRegimePolicy:
    """The new-regime rule's settings from `edge_model_package`'s metadata (the defaults for a package
    made before they existed); values out of range are a refusal."""
    default = NewRegimePolicy()
    try:
        return NewRegimePolicy(
            false_alarm_margin=float(meta.get("gate_false_alarm_margin", default.false_alarm_margin)),
            false_alarm_relative_margin=float(
                meta.get("gate_false_alarm_relative_margin", default.false_alarm_relative_margin)
            ),
            recall_tolerance=float(meta.get("gate_history_recall_tolerance", default.recall_tolerance)),
            recall_floor=float(meta.get("gate_history_recall_floor", default.recall_floor)),
        )
    except ValueError as exc:
        raise _Refused(f"new regime: {exc}", NEW_REGIME) from exc


def _new_regime_evidence(
    store: LakeStore,
    line: str,
    meta: Mapping[str, Any],
    packages: _Packages,
    champion: EdgePackage,
    scores: _HoldoutScores,
) -> NewRegimeEvidence:
    """False-alarm rates on the held-out welds (all normal or unknown), and both models' recall on the
    labelled bad welds of the line's history (weld labels at the version packaging recorded, telemetry
    at the candidate's lineage version). A champion that cannot be scored on the history is recorded
    (the floor applies); a candidate that cannot be, or a history that cannot be read, is a refusal."""
    level = scores.level
    labels_version = meta.get("labels_version")
    try:
        history = labelled_history(
            store,
            line,
            telemetry_version=int(meta["telemetry_version"]),
            labels_version=None if labels_version is None else int(labels_version),
            signals=packages.signals,
            max_welds=int(meta.get("gate_history_max_welds", DEFAULT_HISTORY_WELDS)),
        )
    except (ValueError, LookupError, FileNotFoundError) as exc:
        raise _Refused(f"new regime: the labelled history cannot be read: {exc}", NEW_REGIME) from exc
    mine: Scores = {}
    theirs: Scores = {}
    error = None
    if history.segments:
        try:
            mine = evaluate_package(packages.candidate, history.segments, history.signals)
        except (ValueError, LookupError) as exc:
            raise _Refused(
                f"new regime: the candidate cannot be scored on the labelled history: {exc}", NEW_REGIME
            ) from exc
        try:
            theirs = evaluate_package(champion, history.segments, history.signals)
        except (ValueError, LookupError) as exc:
            error = str(exc)
        if error is None and theirs.get(f"{level}_recall") is None:
            error = f"no {level} score on these welds"

    def rate(found: Scores | None, name: str) -> float | None:
        value = None if found is None else found.get(f"{level}_{name}")
        return None if value is None else float(value)

    return NewRegimeEvidence(
        level=level,
        holdout_welds=len(scores.held_out.segments),
        candidate_false_alarm_rate=rate(scores.candidate, "false_alarm_rate"),
        champion_false_alarm_rate=rate(scores.champion, "false_alarm_rate"),
        history_welds=len(history.segments),
        candidate_recall=rate(mine, "recall"),
        champion_recall=rate(theirs, "recall"),
        champion_history_error=error,
        labels_version=history.labels_version,
    )


def package_quality_gate(
    registry: ModelRegistry, store: LakeStore, line: str, meta: Mapping[str, Any], key: PlatformKey
) -> GateOutcome:
    """Parity first; then candidate and champion scored on the same held-out welds, each with its own
    package; the candidate is promoted when it passes. Tags the candidate version with the verdict, its
    reason and the rule applied (`quality_gate`, `quality_gate_reason`, `quality_gate_rule`).
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
    level, evidence, policy = "window", None, None
    try:
        # Parity again, next to `package_matches_torch_model`: checks may run concurrently or alone, and
        # the gate must never promote a package that is not the model it evaluated.
        _parity_first(registry, store, line, meta, key, candidate)
        with _verified_packages(registry, key, candidate, None if already else champion) as packages:
            scores = _score_holdout(store, line, meta, packages)
            level = scores.level
            value = scores.candidate.get(f"{level}_{metric}")
            if already:
                own = None if value is None else float(value)
                reason = f"v{candidate.version} is already champion: nothing to compare it with"
                decision = GateDecision(True, metric, own, own, tolerance, reason, ALREADY_CHAMPION)
            elif packages.champion is None or scores.bad_welds:
                theirs = (
                    None if scores.champion is None else {metric: scores.champion.get(f"{level}_{metric}")}
                )
                decision = decide({metric: value}, theirs, metric, tolerance)
            else:
                policy = _new_regime_policy(meta)
                evidence = _new_regime_evidence(store, line, meta, packages, packages.champion, scores)
                decision = decide_new_regime(evidence, policy)
    except _Refused as refused:
        decision = GateDecision(False, metric, None, None, tolerance, str(refused), refused.rule)
    registry.set_version_tags(
        candidate.name,
        candidate.version,
        {
            "quality_gate": "passed" if decision.passed else "failed",
            "quality_gate_reason": decision.reason,
            "quality_gate_rule": decision.rule,
        },
    )
    previous = None
    if decision.passed and not already:
        replaced = registry.promote(candidate.name, candidate.version)
        previous = replaced.version if replaced is not None else None
    return GateOutcome(decision, level, candidate, champion, previous, evidence, policy)
