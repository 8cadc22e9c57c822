"""The drift worker process: `python -m edge_agent.agent.drift.worker`, started by the drift monitor on
demand and stopped when idle.

One request at a time over the worker pipe (`state_codec` documents): `report` turns the windows sent
into drift profile rows (`window_profile` with the model's spec, the columns of the package's reference),
compares them with the package's `reference_profile.parquet` (Evidently, imported at the first report,
with the configured per-column method and threshold)
and answers the per-column drift, the drifted count and share, the report's JSON and its HTML (bytes).
It runs at a lower CPU priority (nice 10) than the agent and its scoring worker: a report gives way to
scoring on a busy core.
"""

from __future__ import annotations

import logging
import os
import sys
import traceback
from pathlib import Path
from typing import Any

import numpy as np

from edge_agent.agent.pipeline.worker_protocol import serve
from edge_agent.agent.scoring.state_codec import pack, unpack
from edge_agent.features import PROFILE_FILE, FeatureSpec, profile_columns, window_profile

log = logging.getLogger("edge_agent.agent.drift.worker")


def report(request: dict[str, Any]) -> dict[str, Any]:
    import pandas as pd

    from edge_agent.agent.drift.evidently_report import drift_report

    spec = FeatureSpec.from_json(request["spec"])
    names = profile_columns(spec)
    profile = window_profile(np.asarray(request["windows"]), spec)
    path = Path(request["package"]) / PROFILE_FILE
    reference = pd.read_parquet(path)
    missing = [c for c in names if c not in reference.columns]
    if missing:
        raise ValueError(f"the reference profile {path} lacks the columns {missing}")
    if reference.empty:
        raise ValueError(f"the reference profile {path} has no rows")
    current = pd.DataFrame({name: profile[name] for name in names})
    threshold = request.get("threshold")
    outcome = drift_report(
        current,
        reference[names],
        float(request["drift_share"]),
        method=str(request.get("method") or "psi"),
        threshold=None if threshold is None else float(threshold),
    )
    return {
        "columns": {
            name: {"drifted": c.drifted, "method": c.method, "score": c.score}
            for name, c in outcome.columns.items()
        },
        "drifted": outcome.drifted,
        "share": outcome.share,
        "reference_rows": len(reference),
        "report_json": outcome.report_json,
        "html": np.frombuffer(outcome.html.encode("utf-8"), dtype=np.uint8),
    }


def main() -> int:
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING)
    os.nice(10)

    def answer(body: bytes) -> bytes:
        request = unpack(body)
        try:
            if request.get("op") != "report":
                raise ValueError(f"unknown request {request.get('op')!r}")
            return pack(report(request))
        except Exception as exc:  # the monitor counts it and reports the next time
            log.error("drift report failed: %s", traceback.format_exc())
            return pack({"failed": f"{exc!r}"[:1500]})

    return serve(answer, {"worker": "drift"})


if __name__ == "__main__":
    raise SystemExit(main())
