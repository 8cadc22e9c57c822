"""A seal worker process: `python -m edge_agent.agent.spool.seal_worker` (see `seal_stage`).

Request: {"segment", "kind", "sealed_root", "default_site", "default_line", "fsync"} (JSON).
Reply: {"files": [{"path", "rows", "size"}]} (size 0: already there) or {"error": "..."}.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa

from edge_agent.agent.pipeline.worker_protocol import serve
from edge_agent.agent.spool.seal import seal_segment


def handle(body: bytes) -> dict[str, Any]:
    request = orjson.loads(body)
    try:
        files = seal_segment(
            Path(request["segment"]),
            request["kind"],
            Path(request["sealed_root"]),
            default_site=request["default_site"],
            default_line=request["default_line"],
            fsync=bool(request["fsync"]),
        )
    except Exception as exc:
        return {"error": repr(exc)}
    return {"files": [{"path": str(f.path), "rows": f.rows, "size": f.size} for f in files]}


def main() -> int:
    pa.array([0])  # pyarrow imports pandas on first use: pay for it before saying ready
    return serve(handle, {})


if __name__ == "__main__":
    raise SystemExit(main())
