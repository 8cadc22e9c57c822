"""`drift_sensor` (a line's drift streak requests one retraining on the data since its onset),
`edge_fleet_sensor` (each agent's state as observations of `edge_fleet_status`, dead agents fail
`agents_are_alive`) and the automation sensor of the monitoring group. Intervals from the environment
(`mlops_assets.ml.monitoring.settings`), read when the definitions load."""

import functools
import time

import dagster as dg

from mlops_assets.defs.monitoring.assets import AGENTS_ARE_ALIVE, agents_are_alive_metadata
from mlops_assets.defs.monitoring.catalog import GROUP
from mlops_assets.defs.monitoring.resources import EdgeMonitoringResource
from mlops_assets.defs.training.jobs import model_training_job
from mlops_assets.environment import Environment, current_environment
from mlops_assets.ml.monitoring.drift_policy import (
    DriftState,
    completed_streaks,
    judge_line,
    observe,
    record_request,
)
from mlops_assets.ml.monitoring.drift_summaries import DRIFT_FILTER, drift_summaries
from mlops_assets.ml.monitoring.fleet import (
    EDGE_FLEET_STATUS,
    HEARTBEAT_FILTER,
    AgentStatus,
    Fleet,
    fleet_from_retained,
)
from mlops_assets.ml.monitoring.fleet_watch import FleetStep, watch_fleet
from mlops_assets.ml.monitoring.onset_data import welds_since
from mlops_assets.ml.monitoring.settings import LoopTimings, loop_timings_from_env
from mlops_assets.ml.rollout.uns_client import UnsRefused
from mlops_assets.partitions import line_partitions
from mlops_assets.resources import LakehouseResource
from mlops_assets.resources.uns import UnsResource

__all__ = ["build_drift_sensor", "build_edge_fleet_sensor", "monitoring_sensors"]

UNS_ERRORS = (OSError, TimeoutError, UnsRefused)
DRIFT_TRIGGER = {"mlops/trigger": "drift"}


def _last_drift_run_ms(instance: dg.DagsterInstance, line: str) -> int | None:
    """When the newest drift-triggered training run of `line` was created (the cooldown outlives a
    reset of the sensor's cursor)."""
    records = instance.get_run_records(
        filters=dg.RunsFilter(
            job_name=model_training_job.name, tags={**DRIFT_TRIGGER, "dagster/partition": line}
        ),
        limit=1,
    )
    return int(records[0].create_timestamp.timestamp() * 1000) if records else None


def _streak_notes(state: DriftState, consecutive: int) -> list[str]:
    return [
        f"{track.line}: {agent} {track.streak.reports} of {consecutive} drifting reports"
        for agent, track in sorted(state.agents.items())
        if track.streak is not None and track.streak.completed_by is None
    ]


def build_drift_sensor(interval_s: int) -> dg.SensorDefinition:
    @dg.sensor(
        name="drift_sensor",
        job=model_training_job,
        minimum_interval_seconds=interval_s,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=(
            "Reads the drift summaries the agents retain on the UNS; when one agent's reports drift "
            "(drift share >= edge_monitoring's threshold) so many times in a row, requests one "
            "model_training_job run for its line (run key: the report that completed the streak), "
            "trained on the welds since the drift onset (weld_features.since_ms), once silver holds "
            "enough of them; then not again for the line within the cooldown."
        ),
    )
    def drift_sensor(
        context: dg.SensorEvaluationContext,
        uns: UnsResource,
        lakehouse: LakehouseResource,
        edge_monitoring: EdgeMonitoringResource,
    ) -> dg.SensorResult:
        policy = edge_monitoring.drift_policy()
        state = DriftState.from_json(context.cursor)
        try:
            found = drift_summaries(uns.read_retained([DRIFT_FILTER]))
        except UNS_ERRORS as exc:
            context.log.error("the drift summaries cannot be read from the UNS: %r", exc)
            return dg.SensorResult(cursor=context.cursor, skip_reason=f"the UNS cannot be read: {exc}")
        for topic, why in found.refused.items():
            context.log.warning("drift summary on %s ignored: %s", topic, why)
        state = observe(state, found.summaries, policy)
        known = set(context.instance.get_dynamic_partitions(line_partitions.name or "line"))
        store, now_ms = lakehouse.store(), int(time.time() * 1000)
        requests, notes = [], []
        for line, (agent, streak) in completed_streaks(state).items():
            if line not in known:
                notes.append(f"{line}: drifts, but is not a line partition yet (no telemetry landed)")
                continue
            last = max(
                (
                    ms
                    for ms in (state.requested_ms.get(line), _last_drift_run_ms(context.instance, line))
                    if ms
                ),
                default=None,
            )
            verdict = judge_line(
                line,
                agent,
                streak,
                policy=policy,
                last_request_ms=last,
                now_ms=now_ms,
                welds_after=functools.partial(welds_since, store, line),
            )
            notes.append(verdict.note)
            if verdict.request is None:
                continue
            context.log.info("requesting a retraining: %s", verdict.note)
            requests.append(
                dg.RunRequest(
                    run_key=verdict.request.run_key,
                    partition_key=line,
                    run_config={"ops": {"weld_features": {"config": {"since_ms": verdict.request.since_ms}}}},
                    tags=verdict.request.tags,
                )
            )
            state = record_request(state, line, now_ms)
        notes += _streak_notes(state, policy.consecutive)
        return dg.SensorResult(
            run_requests=requests,
            cursor=state.to_json(),
            skip_reason=None if requests else "; ".join(notes) or "no line drifts",
        )

    return drift_sensor


def _observation(agent: AgentStatus) -> dg.AssetObservation:
    return dg.AssetObservation(
        EDGE_FLEET_STATUS.name,
        description=agent.summary(),
        metadata={
            "agent": agent.agent,
            "line": agent.line,
            "status": agent.status,
            "alive": agent.alive,
            "problem": agent.problem or "",
            "model_version": agent.model_version,
            "refused_model": str((agent.last_refusal or {}).get("version", "")),
            "refusal_reason": str((agent.last_refusal or {}).get("reason", "")),
            "heartbeat_age_s": round(agent.age_s, 1),
            "heartbeat": dg.MetadataValue.json(dict(agent.message.data)),
        },
    )


def _fleet_events(
    fleet: Fleet, step: FleetStep, stale_after_s: float
) -> list[dg.AssetObservation | dg.AssetCheckEvaluation]:
    """An observation per agent whose state changed (or whose retained heartbeat was cleared), and an
    evaluation of `agents_are_alive` when the set of dead agents changed."""
    events: list[dg.AssetObservation | dg.AssetCheckEvaluation] = [_observation(a) for a in step.changed]
    events += [
        dg.AssetObservation(
            EDGE_FLEET_STATUS.name,
            description=f"{agent}: no retained heartbeat any more",
            metadata={"agent": agent, "status": "GONE"},
        )
        for agent in step.gone
    ]
    if step.verdict_changed:
        events.append(
            dg.AssetCheckEvaluation(
                asset_key=dg.AssetKey(EDGE_FLEET_STATUS.name),
                check_name=AGENTS_ARE_ALIVE,
                passed=not fleet.dead,
                severity=dg.AssetCheckSeverity.ERROR,
                metadata=agents_are_alive_metadata(fleet, stale_after_s),
            )
        )
    return events


def build_edge_fleet_sensor(interval_s: int) -> dg.SensorDefinition:
    @dg.sensor(
        name="edge_fleet_sensor",
        minimum_interval_seconds=interval_s,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=(
            "Reads the heartbeats the agents retain on the UNS; records each agent's state (status, "
            "liveness, model) as an observation of edge_fleet_status when it changes, and evaluates "
            "agents_are_alive whenever the set of dead agents changes: an agent whose Will marked it "
            "OFFLINE, or whose heartbeat is older than edge_monitoring.heartbeat_stale_after_s, fails it."
        ),
    )
    def edge_fleet_sensor(
        context: dg.SensorEvaluationContext, uns: UnsResource, edge_monitoring: EdgeMonitoringResource
    ) -> dg.SensorResult:
        stale_after_s = edge_monitoring.heartbeat_stale_after_s
        try:
            retained = uns.read_retained([HEARTBEAT_FILTER])
        except UNS_ERRORS as exc:
            context.log.error("the heartbeats cannot be read from the UNS: %r", exc)
            return dg.SensorResult(cursor=context.cursor, skip_reason=f"the UNS cannot be read: {exc}")
        fleet = fleet_from_retained(retained, now_ms=int(time.time() * 1000), stale_after_s=stale_after_s)
        for topic, why in fleet.refused.items():
            context.log.warning("retained heartbeat on %s ignored: %s", topic, why)
        step = watch_fleet(fleet, context.cursor)
        if step.verdict_changed:
            for dead in fleet.dead:
                context.log.error("edge agent %s of %s is dead: %s", dead.agent, dead.line, dead.problem)
        events = _fleet_events(fleet, step, stale_after_s)
        status = f"{len(fleet.agents)} agents, {len(fleet.dead)} dead" + (
            f" ({', '.join(a.agent for a in fleet.dead)})" if fleet.dead else ""
        )
        return dg.SensorResult(
            asset_events=events, cursor=step.cursor, skip_reason=None if events else status
        )

    return edge_fleet_sensor


def _automation_sensor(
    timings: LoopTimings, environment: Environment
) -> dg.AutomationConditionSensorDefinition:
    return dg.AutomationConditionSensorDefinition(
        "monitoring_automation_sensor",
        target=dg.AssetSelection.groups(GROUP),
        default_status=dg.DefaultSensorStatus.RUNNING
        if environment is Environment.PROD
        else dg.DefaultSensorStatus.STOPPED,
        minimum_interval_seconds=min(30, timings.fleet_sensor_s),
        description=(
            "Declarative automation of the monitoring group: refreshes edge_fleet_status on its cron. "
            "Running by default in PROD, stopped in LOCAL (start it in the UI)."
        ),
    )


@dg.definitions
def monitoring_sensors() -> dg.Definitions:
    timings = loop_timings_from_env()
    return dg.Definitions(
        sensors=[
            build_drift_sensor(timings.drift_sensor_s),
            build_edge_fleet_sensor(timings.fleet_sensor_s),
            _automation_sensor(timings, current_environment()),
        ]
    )
