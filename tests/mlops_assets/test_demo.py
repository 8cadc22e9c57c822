"""`make demo` end to end, as a user runs it: a fresh MLOPS_HOME, the whole loop from the simulated line to
a model scoring at the edge, then the closed loop with a real Dagster daemon evaluating the real sensors:
normal production (no retraining), the line's drift, exactly one retraining, the new model scoring, every
batch scored exactly once across the swap (a real agent process, a real broker, Dagster, MLflow, Delta)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import dagster as dg

from mlops_assets.environment import HOME_VAR


def _run_demo(home: Path) -> subprocess.CompletedProcess[str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("MLOPS_", "DAGSTER_", "MLFLOW_", "AWS_"))
    }
    env |= {HOME_VAR: str(home), "DAGSTER_HOME": str(home / "dagster_home")}
    demo = ["-m", "mlops_assets.demo", "--welds-per-cell", "30", "--scoring-welds", "4", "--normal-s", "45"]
    return subprocess.run(
        [sys.executable, *demo],
        cwd=home,
        env=env,
        capture_output=True,
        text=True,
        timeout=1200,
        check=False,
    )


def _counts(line: str) -> list[int]:
    return [int(n.replace(",", "")) for n in line.split()[-5:]]


def test_the_demo_runs_the_loop_and_reports_every_topic(tmp_path: Path) -> None:
    done = _run_demo(tmp_path)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    out = done.stdout
    captured_table = out.split("== edge agent: captured")[1].split("== weld labels")[0]
    rows = [line for line in captured_table.splitlines() if "/weld/telemetry " in line]
    assert len(rows) == 3  # one per simulated cell
    received, valid, quarantined, captured, uploaded = _counts(
        next(line for line in captured_table.splitlines() if line.strip().startswith("all topics"))
    )
    assert received == valid + quarantined == uploaded and captured == valid
    assert quarantined == 3  # the three malformed payloads the demo sends on purpose
    assert sum(_counts(row)[0] for row in rows) == received
    published = int(re.search(r"published (\d+) telemetry messages", out).group(1))  # type: ignore[union-attr]
    assert valid == published
    assert re.search(r"ingestion_job \[\S+\]: success", out)
    assert "check package_matches_torch_model          passed" in out
    assert "check package_passes_quality_gate          passed" in out
    assert (tmp_path / "lake" / "silver" / "validated_telemetry" / "_delta_log").is_dir()
    # the trained model reaches the agent and scores every new batch once
    assert "edge agent: serving model 1" in out
    scored = int(re.search(r"simulator: (\d+) more telemetry messages", out).group(1))  # type: ignore[union-attr]
    assert f"results on weld/anomaly: {scored:,} of {scored:,} batches, one each" in out
    assert "edge agent stopped (exit code 0)" in out
    final = out.split("== edge agent stopped")[1]
    received, valid, quarantined, captured, uploaded = _counts(
        next(line for line in final.splitlines() if line.strip().startswith("all topics"))
    )
    looped = int(re.search(r"batches published during the loop: ([\d,]+)", out).group(1).replace(",", ""))  # type: ignore[union-attr]
    manifests = _counts(next(line for line in final.splitlines() if "/_model/manifest" in line))[0]
    assert manifests == 3  # model 1 to the line, model 2 as a canary, model 2 to the whole line
    assert received == published + 3 + scored + looped + manifests  # and the three bad payloads
    assert received == uploaded and captured == valid

    # the closed loop: no retraining in normal production, exactly one after the drift, the new model
    # serving and every batch of the loop scored exactly once, by the old model or the new one
    normal = re.search(
        r"of normal production: (\d+) drift reports, (\d+) drifted, (\d+) retraining runs", out
    )
    assert normal is not None and int(normal.group(1)) >= 10 and int(normal.group(3)) == 0
    assert "retraining runs requested by drift_sensor: 1" in out
    assert re.search(r"edge agent serving model 2 \(canary\)", out)
    assert "canary promoted: model 2 serves the whole line" in out
    loop = re.search(r"batches published during the loop: ([\d,]+); scored exactly once: ([\d,]+); "
                     r"missing: 0; more than once: 0", out)  # fmt: skip
    assert loop is not None and loop.group(1) == loop.group(2)
    # the daemon was stopped without cutting a run short: no run failed, what was queued stays queued
    with dg.DagsterInstance.from_config(str(tmp_path / "dagster_home")) as instance:
        failed = instance.get_runs(filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.FAILURE]))
        assert [(run.job_name, run.run_id) for run in failed] == []
