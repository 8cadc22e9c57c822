"""The canary verdict, from heartbeats written by hand (pure logic)."""

from __future__ import annotations

from typing import Any

import pytest

from mlops_assets.ml.rollout.canary import AgentBaseline, Canary, VersionCounts, decide_canary
from mlops_assets.ml.rollout.policy import CanaryPolicy

T0 = 1_765_000_000_000
CANARY = Canary("2", ("edge-a",), T0)
POLICY = CanaryPolicy(soak_s=60, min_batches=100, alert_rate_ratio=3.0, alert_rate_margin=0.02,
                      max_alert_rate=0.5, max_p99_latency_us=5_000, max_scoring_errors=0)  # fmt: skip
SOAKED = T0 + 61_000


def heartbeat(
    version: str = "2",
    *,
    shadow: str | None = "1",
    counts: dict[str, tuple[int, int, int]] | None = None,
    unscored: dict[str, int] | None = None,
    p99: float = 800.0,
    started_ms: int = T0 - 3_600_000,
    status: str = "ONLINE",
    refusal: dict[str, Any] | None = None,
) -> dict[str, Any]:
    model: dict[str, Any] = {"version": version, "ready": bool(version), "desired_version": "2",
                             "last_refusal": refusal}  # fmt: skip
    if shadow:
        model["shadow_version"] = shadow
    by_version = {v: {"batches": b, "windows": w, "alerts": a} for v, (b, w, a) in (counts or {}).items()}
    return {
        "agent": "edge-a",
        "status": status,
        "started_ms": started_ms,
        "model": model,
        "scoring": {"batches": 0, "windows": 0, "alerts": 0, "unscored": unscored or {},
                    "latency_us": {"p50": p99 / 4, "p99": p99}, "by_version": by_version},
    }  # fmt: skip


def baseline_of(beat: dict[str, Any]) -> dict[str, AgentBaseline]:
    return {"edge-a": AgentBaseline.of(beat)}


BEFORE = heartbeat(counts={"1": (5000, 20000, 200), "2": (0, 0, 0)})


def test_a_refusal_rolls_back_at_once_even_before_the_soak() -> None:
    refused = heartbeat("1", shadow=None, refusal={"version": "2", "reason": "signature does not verify",
                                                   "at_ms": T0 + 500})  # fmt: skip
    decision = decide_canary(CANARY, {"edge-a": refused}, {}, POLICY, T0 + 1_000)
    assert decision.verdict == "rollback"
    assert "edge-a refused version 2: signature does not verify" in decision.reason


def test_a_canary_that_never_serves_waits_during_the_soak_and_is_rolled_back_after_it() -> None:
    still_old = heartbeat("1", shadow=None)
    waiting = decide_canary(CANARY, {"edge-a": still_old}, {}, POLICY, T0 + 10_000)
    assert waiting.verdict == "wait" and waiting.status == "wait: soak, serving"
    late = decide_canary(CANARY, {"edge-a": still_old}, {}, POLICY, SOAKED)
    assert late.verdict == "rollback" and "did not serve version 2 within the soak of 60 s" in late.reason
    silent = decide_canary(CANARY, {"edge-a": None}, {}, POLICY, SOAKED)
    assert silent.verdict == "rollback" and "sent no heartbeat" in silent.reason
    offline = decide_canary(CANARY, {"edge-a": heartbeat(status="OFFLINE")}, {}, POLICY, SOAKED)
    assert offline.verdict == "rollback" and "(OFFLINE)" in offline.reason


def test_the_first_look_at_a_serving_canary_takes_its_baseline_and_waits_for_traffic() -> None:
    decision = decide_canary(CANARY, {"edge-a": BEFORE}, {}, POLICY, SOAKED)
    assert decision.verdict == "wait" and decision.status == "wait: traffic"
    assert decision.baselines == baseline_of(BEFORE)
    assert decision.evidence[0].batches == 0 and "scored 0 of 100 batches" in decision.reason


def test_an_alert_rate_exploding_against_the_shadow_on_the_same_batches_rolls_back() -> None:
    # Since the baseline, both scored the same 150 batches (600 windows): the shadow alarmed on 6.
    now = heartbeat(counts={"1": (5150, 20600, 206), "2": (150, 600, 540)})
    decision = decide_canary(CANARY, {"edge-a": now}, baseline_of(BEFORE), POLICY, T0 + 5_000)
    assert decision.verdict == "rollback"  # before the soak is over: a bad canary is not kept waiting
    assert "alert rate of version 2 0.9000 over 600 windows is above 0.0300" in decision.reason
    evidence = decision.evidence[0]
    assert evidence.alert_rate == pytest.approx(0.9) and evidence.shadow_alert_rate == pytest.approx(0.01)


@pytest.mark.parametrize(
    ("new_alerts", "verdict"),
    [(18, "promote"), (19, "rollback")],  # bound: max(3 x 0.01, 0.01 + 0.02) = 0.03 of 600 windows = 18
)
def test_the_alert_rate_bound_is_ratio_or_margin_over_the_shadow(new_alerts: int, verdict: str) -> None:
    now = heartbeat(counts={"1": (5150, 20600, 206), "2": (150, 600, new_alerts)})
    assert decide_canary(CANARY, {"edge-a": now}, baseline_of(BEFORE), POLICY, SOAKED).verdict == verdict


def test_without_a_shadow_the_alert_rate_has_a_fixed_bound() -> None:
    alone = heartbeat(shadow=None, counts={"2": (150, 600, 360)})
    decision = decide_canary(CANARY, {"edge-a": alone}, {"edge-a": AgentBaseline.of(heartbeat(shadow=None))},
                             POLICY, SOAKED)  # fmt: skip
    assert decision.verdict == "rollback" and "no shadow to compare with" in decision.reason


def test_scoring_errors_and_latency_roll_back() -> None:
    errors = heartbeat(counts={"1": (5010, 20040, 200), "2": (10, 40, 0)}, unscored={"missing_signal": 3})
    failing = decide_canary(CANARY, {"edge-a": errors}, baseline_of(BEFORE), POLICY, T0 + 5_000)
    assert failing.verdict == "rollback" and "could not score 3 batches" in failing.reason
    slow = heartbeat(counts={"1": (5150, 20600, 206), "2": (150, 600, 6)}, p99=9_000.0)
    late = decide_canary(CANARY, {"edge-a": slow}, baseline_of(BEFORE), POLICY, SOAKED)
    assert late.verdict == "rollback" and "p99 scoring latency 9000 us is over 5000 us" in late.reason
    slow_and_noisy = heartbeat(counts={"1": (5150, 20600, 206), "2": (150, 600, 300)}, p99=9_000.0)
    both = decide_canary(CANARY, {"edge-a": slow_and_noisy}, baseline_of(BEFORE), POLICY, SOAKED)
    assert "p99 scoring latency" in both.reason and "alert rate of version 2 0.5000" in both.reason


def test_a_healthy_canary_is_promoted_only_once_soaked() -> None:
    healthy = heartbeat(counts={"1": (5150, 20600, 206), "2": (150, 600, 7)})
    early = decide_canary(CANARY, {"edge-a": healthy}, baseline_of(BEFORE), POLICY, T0 + 30_000)
    assert early.verdict == "wait" and early.reason.startswith("soaking: 30 of 60 s")
    decision = decide_canary(CANARY, {"edge-a": healthy}, baseline_of(BEFORE), POLICY, SOAKED)
    assert decision.verdict == "promote" and decision.status == "promote"
    assert "edge-a alert rate 0.0117 (shadow 1: 0.0100) over 150 batches" in decision.reason


def test_every_canary_agent_must_be_healthy() -> None:
    canary = Canary("2", ("edge-a", "edge-c"), T0)
    healthy = heartbeat(counts={"1": (5150, 20600, 206), "2": (150, 600, 7)})
    baselines = {"edge-a": AgentBaseline.of(BEFORE), "edge-c": AgentBaseline.of(BEFORE)}
    waiting = decide_canary(canary, {"edge-a": healthy, "edge-c": BEFORE}, baselines, POLICY, SOAKED)
    assert waiting.verdict == "wait" and "edge-c scored 0 of 100 batches" in waiting.reason
    done = decide_canary(canary, {"edge-a": healthy, "edge-c": healthy}, baselines, POLICY, SOAKED)
    assert done.verdict == "promote"


def test_a_restarted_agent_is_counted_again_from_its_restart() -> None:
    restarted = heartbeat(shadow=None, started_ms=T0 + 20_000, counts={"2": (40, 160, 1)})
    decision = decide_canary(CANARY, {"edge-a": restarted}, baseline_of(BEFORE), POLICY, SOAKED)
    assert decision.verdict == "wait" and decision.baselines["edge-a"].started_ms == T0 + 20_000
    assert decision.baselines["edge-a"].count("2") == VersionCounts(40, 160, 1)


def test_baselines_survive_a_round_trip() -> None:
    baseline = AgentBaseline.of(heartbeat(counts={"1": (1, 2, 3)}, unscored={"error": 2, "no_model": 9}))
    assert AgentBaseline.from_dict(baseline.to_dict()) == baseline and baseline.errors == 2


def test_a_policy_out_of_range_is_refused() -> None:
    with pytest.raises(ValueError, match="alert_rate_ratio >= 1"):
        CanaryPolicy(alert_rate_ratio=0.5)
    with pytest.raises(ValueError, match="names no agent"):
        Canary("2", (), T0)
