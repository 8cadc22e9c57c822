"""`edge_rollout_sensor`: per line with a deployment, decide its canary from the canary agents' retained
heartbeats (promote or roll back, `mlops_assets.ml.rollout.canary`), or deploy a champion the line does
not serve yet. Every decision is a run of `edge_rollout_job` (one per canary, by run key); the canary's
state while it soaks is recorded as observations of `deployed_edge_model` when it changes."""

import time

import dagster as dg

from edge_agent.contract import ContractValidator, load_contract
from mlops_assets.defs.rollout.history import DEPLOYED_EDGE_MODEL, latest_rollout
from mlops_assets.defs.rollout.jobs import edge_rollout_job
from mlops_assets.ml.monitoring.settings import loop_timings_from_env
from mlops_assets.ml.registry import CHAMPION
from mlops_assets.ml.rollout.records import RolloutRecord
from mlops_assets.ml.rollout.uns_client import UnsRefused
from mlops_assets.ml.rollout.watch import (
    LineStep,
    WatchState,
    cursor_from_json,
    cursor_to_json,
    heartbeat_topic,
    watch_canary,
    watch_champion,
)
from mlops_assets.partitions import line_partitions
from mlops_assets.resources import ModelRegistryResource
from mlops_assets.resources.uns import UnsResource

__all__ = ["build_edge_rollout_sensor", "rollout_sensors"]

HEARTBEAT_CHANNEL = "agentHeartbeat"


def _heartbeats(
    context: dg.SensorEvaluationContext, uns: UnsResource, record: RolloutRecord
) -> dict[str, dict | None]:
    """The canary agents' retained heartbeats that pass the contract (None: absent or refused)."""
    topics = {heartbeat_topic(record, agent): agent for agent in record.agents}
    retained = uns.read_retained(list(topics))
    validator = ContractValidator(load_contract(), channels=[HEARTBEAT_CHANNEL])
    beats: dict[str, dict | None] = {}
    for topic, agent in topics.items():
        payload = retained.get(topic)
        verdict = validator.check(topic, payload) if payload is not None else None
        if verdict is not None and not verdict.ok:
            context.log.warning("the heartbeat of %s breaks the contract, ignored: %s", agent, verdict.error)
        beats[agent] = verdict.data if verdict is not None and verdict.ok else None
    return beats


def _step(
    context: dg.SensorEvaluationContext,
    record: RolloutRecord,
    previous: WatchState | None,
    model_registry: ModelRegistryResource,
    uns: UnsResource,
) -> LineStep:
    if not record.canary_in_progress:
        champion = model_registry.registry().by_alias(record.model_name, CHAMPION)
        return watch_champion(record, champion.version if champion is not None else None)
    try:
        beats = _heartbeats(context, uns, record)
    except (OSError, TimeoutError, UnsRefused, ValueError) as exc:
        context.log.error(
            "%s: the canary's heartbeats cannot be read, no verdict: %r", record.address.line, exc
        )
        return LineStep(state=previous, note=f"{record.address.line}: heartbeats unreadable ({exc})")
    return watch_canary(record, beats, previous, int(time.time() * 1000))


def _observation(record: RolloutRecord, step: LineStep) -> dg.AssetObservation | None:
    decision = step.decision
    if decision is None or not step.changed:
        return None
    return dg.AssetObservation(
        DEPLOYED_EDGE_MODEL,
        partition=record.address.line,
        description=f"canary {record.version}: {decision.status}",
        metadata={
            "canary_version": record.version,
            "canary_published_ms": record.published_ms,
            "verdict": decision.verdict,
            "status": decision.status,
            "reason": decision.reason,
            "evidence": dg.MetadataValue.json(decision.evidence_dicts()),
        },
    )


def build_edge_rollout_sensor(interval_s: int = 30) -> dg.SensorDefinition:
    """`edge_rollout_sensor`, looking every `interval_s` seconds."""

    @dg.sensor(
        name="edge_rollout_sensor",
        job=edge_rollout_job,
        minimum_interval_seconds=interval_s,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=(
            "For each line with a canary in progress: reads its canary agents' retained heartbeats and, "
            "after the soak, requests its promotion to the whole line, or its rollback (registry and "
            "manifest) as soon as it misbehaves; records the canary's state as observations. For each "
            "other deployed line: requests the deployment of a champion the line does not serve yet."
        ),
    )
    def edge_rollout_sensor(
        context: dg.SensorEvaluationContext, model_registry: ModelRegistryResource, uns: UnsResource
    ) -> dg.SensorResult:
        states = cursor_from_json(context.cursor)
        requests, events, notes, kept = [], [], [], {}
        for line in context.instance.get_dynamic_partitions(line_partitions.name or "line"):
            record = latest_rollout(context.instance, line)
            if record is None:
                continue
            step = _step(context, record, states.get(line), model_registry, uns)
            notes.append(step.note)
            if step.state is not None:
                kept[line] = step.state
            if (observation := _observation(record, step)) is not None:
                events.append(observation)
            if step.request is not None:
                context.log.info("requesting %s: %s", step.request.action, step.note)
                requests.append(
                    dg.RunRequest(
                        run_key=step.request.run_key,
                        partition_key=line,
                        run_config={"ops": {"deployed_edge_model": {"config": step.request.config}}},
                        tags={"mlops/rollout_action": step.request.action},
                    )
                )
        return dg.SensorResult(
            run_requests=requests,
            asset_events=events,
            cursor=cursor_to_json(kept),
            skip_reason=None if requests else "; ".join(notes) or "no line has a deployed edge model yet",
        )

    return edge_rollout_sensor


@dg.definitions
def rollout_sensors() -> dg.Definitions:
    """Built when the definitions load: `MLOPS_ROLLOUT_SENSOR_INTERVAL_S` (default 30)."""
    return dg.Definitions(sensors=[build_edge_rollout_sensor(loop_timings_from_env().rollout_sensor_s)])
