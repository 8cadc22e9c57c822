"""`make demo` end to end, as a user runs it: a fresh MLOPS_HOME, the whole loop from the simulated line to
a model scoring at the edge (a real agent process, a real broker, Dagster, MLflow, Delta)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from mlops_assets.environment import HOME_VAR


def _run_demo(home: Path) -> subprocess.CompletedProcess[str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("MLOPS_", "DAGSTER_", "MLFLOW_", "AWS_"))
    }
    env |= {HOME_VAR: str(home), "DAGSTER_HOME": str(home / "dagster_home")}
    return subprocess.run(
        [sys.executable, "-m", "mlops_assets.demo", "--welds-per-cell", "20", "--scoring-welds", "4"],
        cwd=home,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
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
    assert (
        received == published + 3 + scored + 1
    )  # the bad payloads, and the deployment manifest (captured too)
    assert received == uploaded and captured == valid
