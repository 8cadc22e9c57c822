"""The canary verdict: from the canary agents' heartbeats, promote, roll back, or wait.

Counters in a heartbeat run since the agent started, so each agent's counters are compared with a
baseline: the first heartbeat seen serving the canary (taken again when the agent restarted). From
there the new model and its shadow (the previous model, scoring the same batches unpublished) have
seen the same traffic. Reasons to roll back: the agent refused the version; it did not serve it within
the soak; the new model failed to score batches; its alert rate exploded against the shadow's (or
against a fixed bound without a shadow); its p99 scoring latency is over the bound. Promotion needs the
soak to be over and every canary agent to have scored `min_batches` with the new model, healthy.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from mlops_assets.ml.rollout.policy import CanaryPolicy

__all__ = [
    "AgentBaseline",
    "AgentEvidence",
    "Canary",
    "CanaryDecision",
    "CanaryVerdict",
    "VersionCounts",
    "decide_canary",
]

CanaryVerdict = Literal["wait", "promote", "rollback"]
ERROR_REASONS = ("error", "missing_signal")
"""`scoring.unscored` reasons that mean the serving model could not score a batch."""


@dataclass(frozen=True)
class VersionCounts:
    batches: int = 0
    windows: int = 0
    alerts: int = 0

    def since(self, earlier: VersionCounts) -> VersionCounts:
        return VersionCounts(
            max(0, self.batches - earlier.batches),
            max(0, self.windows - earlier.windows),
            max(0, self.alerts - earlier.alerts),
        )

    @property
    def alert_rate(self) -> float:
        """Alerts (windows over the threshold) per window."""
        return self.alerts / self.windows if self.windows else 0.0


@dataclass(frozen=True)
class AgentBaseline:
    """An agent's counters when it was first seen serving the canary."""

    started_ms: int
    counts: Mapping[str, VersionCounts]
    errors: int

    @classmethod
    def of(cls, heartbeat: Mapping[str, Any]) -> AgentBaseline:
        scoring = heartbeat.get("scoring") or {}
        counts = {
            str(v): VersionCounts(int(c["batches"]), int(c["windows"]), int(c["alerts"]))
            for v, c in (scoring.get("by_version") or {}).items()
        }
        unscored = scoring.get("unscored") or {}
        errors = sum(int(unscored.get(reason, 0)) for reason in ERROR_REASONS)
        return cls(int(heartbeat.get("started_ms") or 0), counts, errors)

    def count(self, version: str) -> VersionCounts:
        return self.counts.get(version, VersionCounts())

    def to_dict(self) -> dict[str, Any]:
        return {
            "started_ms": self.started_ms,
            "errors": self.errors,
            "counts": {v: [c.batches, c.windows, c.alerts] for v, c in self.counts.items()},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AgentBaseline:
        counts = {str(v): VersionCounts(*(int(x) for x in c)) for v, c in data["counts"].items()}
        return cls(int(data["started_ms"]), counts, int(data["errors"]))


@dataclass(frozen=True)
class Canary:
    version: str
    agents: tuple[str, ...]
    published_ms: int

    def __post_init__(self) -> None:
        if not self.agents:
            raise ValueError(f"canary {self.version} names no agent")


@dataclass(frozen=True)
class AgentEvidence:
    agent: str
    serving: str = ""
    batches: int = 0
    """Scored by the new model since the baseline."""
    alert_rate: float | None = None
    shadow_version: str | None = None
    shadow_alert_rate: float | None = None
    p99_latency_us: float | None = None
    scoring_errors: int = 0
    problem: str | None = None
    """A reason to roll back."""
    waiting: str | None = None
    """Why this agent gives no verdict yet."""
    waiting_for: str | None = None
    """The kind of wait: `serving`, `traffic`."""


@dataclass(frozen=True)
class CanaryDecision:
    verdict: CanaryVerdict
    reason: str
    evidence: tuple[AgentEvidence, ...]
    baselines: dict[str, AgentBaseline] = field(default_factory=dict)
    status: str = ""
    """A short state that changes only when the situation does (`wait: soak, traffic`, `rollback`)."""

    def evidence_dicts(self) -> list[dict[str, Any]]:
        return [{k: v for k, v in asdict(e).items() if v is not None} for e in self.evidence]


def _not_serving(
    agent: str, beat: Mapping[str, Any] | None, canary: Canary, soak_s: float, soaked: bool
) -> AgentEvidence:
    model = (beat or {}).get("model") or {}
    serving = str(model.get("version") or "")
    refusal = model.get("last_refusal") or {}
    if refusal.get("version") == canary.version:
        return AgentEvidence(
            agent, serving, problem=f"{agent} refused version {canary.version}: {refusal.get('reason')}"
        )
    if beat is None:
        state = "sent no heartbeat"
    else:
        state = f"serves {serving or 'nothing'}" + (" (OFFLINE)" if beat.get("status") == "OFFLINE" else "")
    if soaked:
        problem = f"{agent} did not serve version {canary.version} within the soak of {soak_s:g} s ({state})"
        return AgentEvidence(agent, serving, problem=problem)
    return AgentEvidence(
        agent, serving, waiting=f"{agent} {state}, not {canary.version} yet", waiting_for="serving"
    )


def _assess(
    agent: str, beat: Mapping[str, Any], canary: Canary, baseline: AgentBaseline, policy: CanaryPolicy
) -> AgentEvidence:
    """An agent serving the canary: its counters since `baseline` against the policy."""
    model, scoring = beat.get("model") or {}, beat.get("scoring") or {}
    now = AgentBaseline.of(beat)
    new = now.count(canary.version).since(baseline.count(canary.version))
    shadow = model.get("shadow_version") or None
    shadow_counts = now.count(shadow).since(baseline.count(shadow)) if shadow else None
    errors = max(0, now.errors - baseline.errors)
    p99 = (scoring.get("latency_us") or {}).get("p99")
    evidence = AgentEvidence(
        agent, canary.version, new.batches, new.alert_rate, shadow,
        shadow_counts.alert_rate if shadow_counts else None, p99, errors,
    )  # fmt: skip
    problems = []
    if errors > policy.max_scoring_errors:
        problems.append(
            f"{agent}: version {canary.version} could not score {errors} batches "
            f"(more than {policy.max_scoring_errors})"
        )
    if new.batches < policy.min_batches and not problems:
        waiting = (
            f"{agent} scored {new.batches} of {policy.min_batches} batches with version {canary.version}"
        )
        return _with(evidence, waiting=waiting, waiting_for="traffic")
    if new.batches >= policy.min_batches:
        problems += _judged(agent, canary.version, new, shadow, shadow_counts, p99, policy)
    return _with(evidence, problem="; ".join(problems)) if problems else evidence


def _judged(
    agent: str,
    version: str,
    new: VersionCounts,
    shadow: str | None,
    shadow_counts: VersionCounts | None,
    p99: float | None,
    policy: CanaryPolicy,
) -> list[str]:
    """What is wrong with a canary that scored enough batches to be judged: latency, alert rate."""
    problems = []
    if p99 is not None and float(p99) > policy.max_p99_latency_us:
        problems.append(
            f"{agent}: p99 scoring latency {float(p99):g} us is over {policy.max_p99_latency_us:g} us"
        )
    if shadow_counts is not None:
        rate = shadow_counts.alert_rate
        bound = max(policy.alert_rate_ratio * rate, rate + policy.alert_rate_margin)
        against = f"shadow {shadow}: {rate:.4f} on the same batches"
    else:
        bound, against = policy.max_alert_rate, "no shadow to compare with"
    if new.alert_rate > bound:
        problems.append(
            f"{agent}: alert rate of version {version} {new.alert_rate:.4f} over {new.windows} windows "
            f"is above {bound:.4f} ({against})"
        )
    return problems


def _healthy(evidence: AgentEvidence) -> str:
    shadow = evidence.shadow_alert_rate
    compared = f" (shadow {evidence.shadow_version}: {shadow:.4f})" if shadow is not None else ""
    return f"{evidence.agent} alert rate {evidence.alert_rate or 0.0:.4f}{compared} over {evidence.batches} batches"


def _with(evidence: AgentEvidence, **changes: Any) -> AgentEvidence:
    return AgentEvidence(**{**asdict(evidence), **changes})


def decide_canary(
    canary: Canary,
    heartbeats: Mapping[str, Mapping[str, Any] | None],
    baselines: Mapping[str, AgentBaseline],
    policy: CanaryPolicy,
    now_ms: int,
) -> CanaryDecision:
    """The verdict on `canary` from its agents' latest heartbeats (None: none received), with the
    baselines to keep for the next look."""
    elapsed_s = max(0.0, (now_ms - canary.published_ms) / 1000)
    soaked = elapsed_s >= policy.soak_s
    evidence, kept = [], {}
    for agent in canary.agents:
        beat = heartbeats.get(agent)
        model = (beat or {}).get("model") or {}
        serving = beat is not None and beat.get("status") != "OFFLINE" and bool(model.get("ready"))
        if not serving or model.get("version") != canary.version:
            evidence.append(_not_serving(agent, beat, canary, policy.soak_s, soaked))
            continue
        assert beat is not None
        baseline = baselines.get(agent)
        if baseline is None or baseline.started_ms != int(beat.get("started_ms") or 0):
            baseline = AgentBaseline.of(beat)  # first look, or the agent restarted: count from here
        kept[agent] = baseline
        evidence.append(_assess(agent, beat, canary, baseline, policy))
    problems = [e.problem for e in evidence if e.problem]
    if problems:
        return CanaryDecision("rollback", "; ".join(problems), tuple(evidence), kept, "rollback")
    waiting = [e.waiting for e in evidence if e.waiting]
    kinds = sorted({e.waiting_for for e in evidence if e.waiting_for})
    if not soaked:
        waiting.insert(0, f"soaking: {elapsed_s:.0f} of {policy.soak_s:g} s")
        kinds.insert(0, "soak")
    if waiting:
        return CanaryDecision("wait", "; ".join(waiting), tuple(evidence), kept, f"wait: {', '.join(kinds)}")
    summary = ", ".join(_healthy(e) for e in evidence)
    reason = f"canary {canary.version} healthy for {elapsed_s:.0f} s: {summary}"
    return CanaryDecision("promote", reason, tuple(evidence), kept, "promote")
