"""The scoring worker's state: the models it holds and every cell's stream, driven one request at a time.

The agent speaks to it in capture order, over one pipe, so "at a batch boundary" is simply "between two
requests": `load` builds and warms a model beside the serving one (`pending`), `activate` makes it the
active model (the previous one becomes the shadow during a canary, or is unloaded), `score` feeds batches.
`snapshot`/`restore` carry every cell's state into the agent's checkpoint and back. With rolling
windows, the newest windows the active model scored are kept for the drift monitor (`take_windows`);
they are derived data, not checkpointed.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from edge_agent.agent.drift.rolling_windows import RollingWindows
from edge_agent.agent.scoring.alerts import AlertPolicy
from edge_agent.agent.scoring.cell_stream import CellStream, StreamLimits
from edge_agent.agent.scoring.onnx_model import OnnxWindowModel
from edge_agent.features.telemetry_block import TelemetryBlock, block_from_payload, decode_block

__all__ = ["ScoreRecord", "ScoringEngine"]


@dataclass(frozen=True, slots=True)
class ScoreRecord:
    topic: str
    """The cell's telemetry topic (results go to its `weld/anomaly` sibling)."""
    capture_seq: int
    block: bytes | None = None
    """The batch decoded by validation (`encode_block`), or None to parse `payload`."""
    payload: bytes | None = None


@dataclass
class ScoringEngine:
    public_key: str
    key_id: str | None
    policy: AlertPolicy = field(default_factory=AlertPolicy)
    limits: StreamLimits = field(default_factory=StreamLimits)
    active: OnnxWindowModel | None = None
    shadow: OnnxWindowModel | None = None
    pending: dict[str, OnnxWindowModel] = field(default_factory=dict)
    cells: dict[str, CellStream] = field(default_factory=dict)
    windows: RollingWindows | None = None
    """The newest windows the active model scored, for the drift monitor (None: drift is off)."""

    # --- models ---

    def load(self, version: str, folder: Path) -> None:
        """Verify, load and warm `folder` as `version` beside the serving model; raises when it cannot serve."""
        model = OnnxWindowModel.load(folder, self.public_key, self.key_id)
        if model.version != version:
            raise ValueError(f"{folder} holds model {model.version}, not {version}")
        self.pending[version] = model

    def activate(self, version: str, keep_shadow: bool) -> None:
        model = self.pending.pop(version)
        previous = self.active
        self.active = model
        self.shadow = previous if keep_shadow and previous is not None else None
        if self.windows is not None:
            self.windows.reset(model.version, model.spec.n_features)

    def drop_shadow(self) -> None:
        self.shadow = None

    def discard(self, version: str) -> None:
        self.pending.pop(version, None)

    # --- scoring ---

    def score(self, records: Iterable[ScoreRecord], now: float) -> list[dict[str, Any]]:
        """One entry per record, in order: its result, or why it was not scored. A record that fails
        (a bug, never bad input: validation came first) is reported as unscored `error`."""
        out = []
        for record in records:
            try:
                out.append(self._score_one(record, now))
            except Exception as exc:
                out.append(
                    {"capture_seq": record.capture_seq, "topic": record.topic, "counts": {},
                     "unscored": "error", "error": repr(exc)[:500]}
                )  # fmt: skip
        return out

    def _score_one(self, record: ScoreRecord, now: float) -> dict[str, Any]:
        started = time.perf_counter()
        block = _block_of(record)
        stream = self.cells.get(record.topic)
        if stream is None:
            stream = self.cells[record.topic] = CellStream(_cell_of(record.topic), self.policy, self.limits)
        fed = stream.feed(block, self.active, self.shadow, now, keep_windows=self.windows is not None)
        if fed.scored is not None and self.windows is not None and self.active is not None:
            scored = fed.scored
            self.windows.append(
                self.active.version, stream.cell, scored.windows, scored.start_ms, scored.end_ms
            )
        entry: dict[str, Any] = {
            "capture_seq": record.capture_seq,
            "topic": record.topic,
            "counts": fed.counts,
        }
        if fed.result is not None:
            fed.result["latency_us"] = round((time.perf_counter() - started) * 1e6, 1)
            entry["result"] = fed.result
        else:
            entry["unscored"] = fed.unscored
            if fed.closed_weld is not None and self.active is not None:
                entry["weld_only"] = self._weld_result(fed.closed_weld)
        return entry

    def close_idle(self, now: float, idle_s: float) -> list[dict[str, Any]]:
        """Close the welds of cells silent for `idle_s`; a result per weld that got a verdict."""
        out = []
        for topic, stream in self.cells.items():
            if stream.segment is not None and stream.segment.weld_id and now - stream.last_fed_at >= idle_s:
                verdict = stream.close("idle", self.active)
                if verdict is not None:
                    out.append({"topic": topic, "weld_only": self._weld_result(verdict)})
        return out

    def _weld_result(self, verdict: dict[str, Any]) -> dict[str, Any]:
        """A result that carries only a weld's verdict (its weld closed without a scored batch)."""
        active = self.active
        assert active is not None
        return {
            "result_id": verdict["result_id"],
            "timestamp_ms": verdict["end_ms"],
            "window_end_seq": verdict["last_seq"],
            "windows": 0,
            "score": 0.0,
            "threshold": active.threshold,
            "is_anomaly": False,
            "contributions": dict.fromkeys(active.spec.signals, 0.0),
            "weld": verdict,
            "model_version": active.version,
        }

    def take_windows(self, min_new: int) -> dict[str, Any] | None:
        """The rolling windows with the active package's folder and spec, when `min_new` windows arrived
        since the last take (`RollingWindows.take`); None otherwise."""
        active = self.active
        if self.windows is None or active is None:
            return None
        taken = self.windows.take(min_new)
        if taken is None or taken["version"] != active.version:
            return None
        return {**taken, "package": str(active.package.root), "spec": active.spec.to_json()}

    # --- checkpoint ---

    def snapshot(self) -> dict[str, Any]:
        return {topic: stream.to_state() for topic, stream in self.cells.items()}

    def restore(self, state: dict[str, Any]) -> None:
        self.cells = {
            topic: CellStream.from_state(_cell_of(topic), data, self.policy, self.limits)
            for topic, data in state.items()
        }


def _block_of(record: ScoreRecord) -> TelemetryBlock:
    if record.block is not None:
        return decode_block(record.block)
    if record.payload is None:
        raise ValueError(f"record {record.capture_seq} carries neither a decoded block nor a payload")
    return block_from_payload(orjson.loads(record.payload))


def _cell_of(topic: str) -> str:
    """The cell of a `{enterprise}/{site}/{area}/{line}/{cell}/weld/telemetry` topic."""
    return topic.split("/")[4]
