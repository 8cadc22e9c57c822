"""What the demo prints about scoring at the edge: the results on `.../weld/anomaly`, set beside the
simulator's ground truth (which welds carried a defect)."""

from __future__ import annotations

from typing import Any

from edge_agent.simulator import PublishReport
from mlops_assets.demo.edge import Subscription

__all__ = ["print_loop", "print_scoring", "wait_for_results"]


def _batch_results(results: Subscription) -> dict[tuple[str, int], dict[str, Any]]:
    return {(topic.split("/")[4], r["seq"]): r for topic, r in results.messages if "seq" in r}


def wait_for_results(results: Subscription, report: PublishReport, timeout_s: float = 120.0) -> None:
    wanted = {(s.cell, s.seq) for s in report.sent}
    results.wait_for(lambda: wanted <= _batch_results(results).keys(), timeout_s, "a result for every batch")


def print_scoring(results: Subscription, report: PublishReport, heartbeat: dict[str, Any]) -> None:
    sent = {(s.cell, s.seq): s for s in report.sent}
    batches = {k: r for k, r in _batch_results(results).items() if k in sent}
    welds = {
        r["weld"]["weld_id"]: r["weld"]
        for _, r in results.messages
        if "weld" in r and r["weld"].get("weld_id") in {s.weld_id for s in report.sent}
    }
    truth = {s.weld_id: s.label for s in report.sent}
    alarms = {w for w, v in welds.items() if v["is_anomaly"]}
    bad = {w for w in welds if truth.get(w)}
    scoring = heartbeat.get("scoring") or {}
    latency = scoring.get("latency_us") or {}
    print(f"   results on weld/anomaly: {len(batches):,} of {len(sent):,} batches, one each, "
          f"{sum(r['windows'] for r in batches.values()):,} windows, "
          f"{sum(r['is_anomaly'] for r in batches.values()):,} batches with a window over the threshold")  # fmt: skip
    print(f"   scoring in the agent's worker: p50 {latency.get('p50', 0):.0f} us, p99 {latency.get('p99', 0):.0f} us "
          f"per batch; results published {scoring.get('results_published', 0):,}")  # fmt: skip
    print(f"   welds judged when they closed: {len(welds)}; defective (simulator truth) {len(bad)}, "
          f"alarmed {len(alarms)}, both {len(alarms & bad)} (the last weld of each cell is still open)")  # fmt: skip
    for weld_id in sorted(alarms)[:3]:
        verdict = welds[weld_id]
        print(f"     {weld_id}: weld score {verdict['score']:.2f} {verdict['fired']} "
              f"(simulated: {truth.get(weld_id) or 'normal'})")  # fmt: skip


def print_loop(outcome: Any, results: Subscription) -> None:
    """The loop's outcome: the retraining runs, the time from the drift onset to the new model scoring,
    and every batch published during the loop scored exactly once, by the old model or the new one."""
    sent = {(s.cell, s.seq) for s in outcome.published.sent}
    counts: dict[tuple[str, int], int] = {}
    versions: dict[str, int] = {}
    for topic, result in results.messages:
        key = (topic.split("/")[4], result.get("seq"))
        if key in sent:
            counts[key] = counts.get(key, 0) + 1
            versions[result["model_version"]] = versions.get(result["model_version"], 0) + 1
    once = sum(1 for n in counts.values() if n == 1)
    print(f"   retraining runs requested by drift_sensor: {len(outcome.retrained)}")
    if outcome.onset_to_scoring_s is not None:
        print(f"   drift onset to the new model scoring: {outcome.onset_to_scoring_s:.1f} s")
    print(f"   batches published during the loop: {len(sent):,}; scored exactly once: {once:,}; "
          f"missing: {len(sent - counts.keys()):,}; more than once: {sum(1 for n in counts.values() if n > 1):,}")  # fmt: skip
    print("   results per model version: " + ", ".join(f"{v}: {n:,}" for v, n in sorted(versions.items())))
