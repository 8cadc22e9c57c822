"""The demo's platform side: Dagster runs on the local instance (`$DAGSTER_HOME`, so `make dev` shows
them afterwards): ingestion of every (day, line) with new landing files, training, deployment."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import dagster as dg

from mlops_assets.definitions import build_definitions
from mlops_assets.lake import LakeStore
from mlops_assets.lake.pending import scan_pending
from mlops_assets.lake.tables import (
    PAYLOAD_COMPLIANCE,
    QUARANTINED_MESSAGES,
    RAW_UNS_CAPTURES,
    VALIDATED_TELEMETRY,
)
from mlops_assets.landing.zone import LocalLandingZone
from mlops_assets.partitions import day_line_key

__all__ = ["deploy_model", "run_ingestion", "run_training"]

QUIET = {
    "loggers": {"console": {"config": {"log_level": "INFO"}}}
}  # the run's story, not Dagster's debug events
LINE = "line-1"
Say = Callable[[str], None]


def _metadata(result: dg.ExecuteInProcessResult, keys: tuple[str, ...]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for node in result.dagster_run.step_keys_to_execute or []:
        for materialization in result.asset_materializations_for_node(node):
            for key, value in materialization.metadata.items():
                if key in keys:
                    found[f"{materialization.asset_key.to_user_string()}.{key}"] = getattr(
                        value, "value", value
                    )
    return found


def run_ingestion(home: Path, say: Say) -> int:
    defs = build_definitions()
    instance = dg.DagsterInstance.get()
    store = LakeStore(str(home / "lake"))
    scan = scan_pending(store, LocalLandingZone(home / "landing"), since=None)
    known = set(instance.get_dynamic_partitions("line"))
    instance.add_dynamic_partitions("line", [line for line in scan.lines if line not in known])
    say(
        f"dagster: instance in {os.environ.get('DAGSTER_HOME')}; {len(scan.partitions)} partition(s) to ingest"
    )
    ingestion = defs.resolve_job_def("ingestion_job")
    for pending in scan.partitions:
        partition = day_line_key(pending.day, pending.line)
        result = ingestion.execute_in_process(
            run_config=QUIET, instance=instance, partition_key=partition, raise_on_error=False
        )
        print(
            f"   ingestion_job [{partition}]: {'success' if result.success else 'FAILED'} ({len(pending.file_ids)} files)"
        )
        if not result.success:
            return 1
    for table in (RAW_UNS_CAPTURES, VALIDATED_TELEMETRY, QUARANTINED_MESSAGES, PAYLOAD_COMPLIANCE):
        rows = store.read(table, line=LINE).height if store.exists(table) else 0
        print(
            f"   {table.layer}/{table.name:<22} {rows:>9} rows for {LINE} (Delta version {store.version(table)})"
        )
    return 0


def run_training(say: Say) -> int:
    say(f"model_training_job [{LINE}]: features, autoencoder, threshold, evaluation, signed package")
    result = (
        build_definitions()
        .resolve_job_def("model_training_job")
        .execute_in_process(
            run_config=QUIET, instance=dg.DagsterInstance.get(), partition_key=LINE, raise_on_error=False
        )
    )
    wanted = ("windows", "epochs", "best_val_loss", "threshold", "roc_auc", "f1", "precision", "recall",
              "model_version", "package_uri", "mlflow_run_id")  # fmt: skip
    for key, value in _metadata(result, wanted).items():
        print(f"   {key:<40} {value}")
    for check in result.get_asset_check_evaluations():
        print(f"   check {check.check_name:<36} {'passed' if check.passed else 'FAILED'}")
    return 0 if result.success else 1


def deploy_model(say: Say, line: str, settings: dict[str, Any]) -> str | None:
    """`edge_rollout_job` for the line: the champion staged for the agents and its manifest published,
    with the line's rollout `settings` (canary agents, soak) for its next champions; the version
    deployed, or None when the run failed."""
    say(f"edge_rollout_job [{line}]: the champion to the line's agents (signed, retained manifest)")
    config = {**QUIET, "ops": {"deployed_edge_model": {"config": settings}}}
    job = build_definitions().resolve_job_def("edge_rollout_job")
    result = job.execute_in_process(
        run_config=config, instance=dg.DagsterInstance.get(), partition_key=line, raise_on_error=False
    )
    found = _metadata(result, ("model_version", "stage", "package_uri", "topic", "manifest_sha256"))
    for key, value in found.items():
        print(f"   {key:<40} {value}")
    if not result.success:
        print("   edge_rollout_job FAILED")
        return None
    return str(found["deployed_edge_model.model_version"])
