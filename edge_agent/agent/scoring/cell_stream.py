"""One cell's telemetry, scored as it arrives: segments cut by the shared rule, the windows ending in
each batch scored once by the serving model (and the shadow), a weld's verdict when it closes; on
request, the windows the serving model scored with their times (for the drift monitor)."""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from edge_agent.agent.scoring.alerts import AlertPolicy, AlertState
from edge_agent.agent.scoring.segment_buffer import BatchSpan, SegmentBuffer
from edge_agent.features import FeatureSpec, WeldScorer, standardise, window_matrix
from edge_agent.features.segments import segment_break
from edge_agent.features.telemetry_block import TelemetryBlock

__all__ = ["CellStream", "FeedResult", "ScoredWindows", "StreamLimits", "WindowModel"]


class WindowModel(Protocol):
    version: str
    spec: FeatureSpec
    threshold: float
    weld_scorer: WeldScorer | None

    def score(self, windows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(scores (m,), per-signal errors (m, n_signals)) of flattened standardised windows."""
        ...


@dataclass(frozen=True)
class StreamLimits:
    max_weld_samples: int = 200_000
    """A weld longer than this is closed (`too_long`) and the rest scored as a new segment."""
    context_rows: int = 4096
    """Rows a segment without weld id keeps for the windows of a model swapped in later."""
    recent_seqs: int = 4096
    """Batches remembered per cell to recognise one captured twice."""


@dataclass
class _Segment:
    first_seq: int
    first_ms: int
    weld_id: str | None
    last_seq: int
    last_ms: int
    buffer: SegmentBuffer = field(default_factory=SegmentBuffer)
    next_start: dict[str, int] = field(default_factory=dict)
    weld_scores: dict[str, list[float]] = field(default_factory=dict)
    """Per model version that scored this weld from its first window: its window scores, in order."""


@dataclass(frozen=True)
class ScoredWindows:
    """The windows the serving model scored in one batch (standardised, flattened, as scored), with the
    times of their first and last samples."""

    windows: np.ndarray
    start_ms: np.ndarray
    end_ms: np.ndarray


@dataclass
class FeedResult:
    result: dict[str, Any] | None
    """The anomaly payload of this batch (None when unscored)."""
    unscored: str | None = None
    closed_weld: dict[str, Any] | None = None
    counts: dict[str, tuple[int, int, int]] = field(default_factory=dict)
    """Per model version (the shadow too): (batches, windows, windows over the threshold)."""
    scored: ScoredWindows | None = None
    """With `feed(..., keep_windows=True)`: the windows the active model scored."""


class CellStream:
    """Per captured batch (`feed`), in capture order: a batch seen before (same seq) is not scored again;
    one that starts before the cell's last sample closes the open segment (`out_of_order`); the rule of
    `edge_agent.features.segments` decides whether the batch continues the open segment or closes it.
    The windows that END in the batch (starts 0, stride, 2 x stride... from the segment's first sample,
    as in training) are scored by the active model, and by the shadow during a canary; a model swapped
    in mid-segment scores from its first batch on, with the earlier samples as context. A weld's verdict
    is the active model's weld score over all its windows (scored again when another model scored part)."""

    def __init__(self, cell: str, policy: AlertPolicy, limits: StreamLimits) -> None:
        self.cell = cell
        self.policy = policy
        self.limits = limits
        self.segment: _Segment | None = None
        self.alert = AlertState()
        self._recent: deque[int] = deque()
        self._recent_set: set[int] = set()
        self.last_fed_at = 0.0

    # --- feeding ---

    def feed(
        self,
        block: TelemetryBlock,
        active: WindowModel | None,
        shadow: WindowModel | None,
        now: float,
        *,
        keep_windows: bool = False,
    ) -> FeedResult:
        if block.seq in self._recent_set:
            return FeedResult(None, unscored="duplicate")
        self._remember(block.seq)
        self.last_fed_at = now
        closed = self._close_if_broken(block, active)
        if self.segment is None:
            self.segment = _Segment(
                block.seq, block.timestamp_ms, block.weld_id, block.seq, block.timestamp_ms
            )
        segment = self.segment
        n_before = segment.buffer.n
        segment.buffer.append(block)
        segment.last_seq, segment.last_ms = block.seq, block.last_ms
        if active is None:
            self._trim(segment, ())
            return FeedResult(None, unscored="no_model", closed_weld=closed)
        missing = [s for s in active.spec.signals if s not in segment.buffer.names]
        if missing:
            self._trim(segment, ())
            return FeedResult(None, unscored="missing_signal", closed_weld=closed)
        counts: dict[str, tuple[int, int, int]] = {}
        starts, scores, errors, windows = self._score_due(segment, active, n_before)
        counts[active.version] = (1, len(scores), int(np.sum(scores > active.threshold)))
        scored = self._scored(segment, active.spec, starts, windows) if keep_windows and len(starts) else None
        if shadow is not None and all(s in segment.buffer.names for s in shadow.spec.signals):
            _, shadow_scores, _, _ = self._score_due(segment, shadow, n_before)
            counts[shadow.version] = (1, len(shadow_scores), int(np.sum(shadow_scores > shadow.threshold)))
        changed = self.alert.update(scores, active.threshold, block.seq, self.policy)
        result = self._result(block, segment, active, starts, scores, errors, changed)
        if closed is not None:
            result["weld"] = closed
        too_long = segment.weld_id is not None and segment.buffer.n >= self.limits.max_weld_samples
        self._trim(segment, (active, shadow))
        if too_long:
            late = self.close("too_long", active)
            if late is not None and "weld" not in result:
                result["weld"] = late
        return FeedResult(result, closed_weld=closed, counts=counts, scored=scored)

    def _remember(self, seq: int) -> None:
        self._recent.append(seq)
        self._recent_set.add(seq)
        if len(self._recent) > self.limits.recent_seqs:
            self._recent_set.discard(self._recent.popleft())

    def _close_if_broken(self, block: TelemetryBlock, active: WindowModel | None) -> dict[str, Any] | None:
        segment = self.segment
        if segment is None:
            return None
        if block.timestamp_ms < segment.last_ms:
            return self.close("out_of_order", active)
        reason = segment_break(
            segment.weld_id, segment.last_ms, block.weld_id, block.timestamp_ms, block.sample_interval_ms
        )
        return self.close(reason, active) if reason is not None else None

    def _score_due(
        self, segment: _Segment, model: WindowModel, n_before: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Score the windows of `model` that end within this batch: (starts, scores, signal errors, the
        standardised windows)."""
        spec = model.spec
        buffer = segment.buffer
        first = segment.next_start.get(model.version)
        if first is None:  # the model's first batch of this segment
            k = max(0, math.ceil((n_before - spec.window + 1) / spec.stride))
            first = k * spec.stride
            if first == 0:
                segment.weld_scores[model.version] = []
        if first < buffer.offset:  # context already trimmed (a much larger window swapped in)
            first += math.ceil((buffer.offset - first) / spec.stride) * spec.stride
            segment.weld_scores.pop(model.version, None)
        last = buffer.n - spec.window
        if last < first:
            segment.next_start[model.version] = first
            empty = np.empty((0, spec.n_features), np.float32)
            return np.empty(0, np.int64), np.empty(0), np.empty((0, spec.n_signals)), empty
        starts = np.arange(first, last + 1, spec.stride, dtype=np.int64)
        z = standardise(buffer.rows(first, int(starts[-1]) + spec.window, spec.signals), spec)
        windows = window_matrix(z, spec.window, starts=starts - first)
        scores, errors = model.score(windows)
        segment.next_start[model.version] = int(starts[-1]) + spec.stride
        kept = segment.weld_scores.get(model.version)
        if kept is not None:
            kept.extend(np.asarray(scores, dtype=np.float64).tolist())
        return starts, np.asarray(scores, dtype=np.float64), np.asarray(errors, dtype=np.float64), windows

    @staticmethod
    def _scored(
        segment: _Segment, spec: FeatureSpec, starts: np.ndarray, windows: np.ndarray
    ) -> ScoredWindows:
        buffer = segment.buffer
        return ScoredWindows(windows, buffer.samples_ms(starts), buffer.samples_ms(starts + spec.window - 1))

    def _trim(self, segment: _Segment, models: tuple[WindowModel | None, ...]) -> None:
        if segment.weld_id is not None:
            return  # a weld keeps its samples for its verdict
        buffer = segment.buffer
        keep = buffer.n - self.limits.context_rows
        for model in models:
            if model is not None:
                keep = min(keep, segment.next_start.get(model.version, buffer.n))
        buffer.trim(max(keep, buffer.offset))

    # --- results ---

    def _result(
        self,
        block: TelemetryBlock,
        segment: _Segment,
        model: WindowModel,
        starts: np.ndarray,
        scores: np.ndarray,
        errors: np.ndarray,
        changed: bool,
    ) -> dict[str, Any]:
        buffer, spec = segment.buffer, model.spec
        result: dict[str, Any] = {
            "result_id": f"{self.cell}:{block.seq}:{model.version}",
            "seq": block.seq,
            "timestamp_ms": block.timestamp_ms,
            "windows": len(scores),
            "threshold": model.threshold,
            "model_version": model.version,
        }
        if block.weld_id:
            result["weld_id"] = block.weld_id
        if len(scores):
            worst = int(np.argmax(scores))
            first_span, last_span = (
                buffer.span_of(int(starts[0])),
                buffer.span_of(int(starts[-1]) + spec.window - 1),
            )
            result.update(
                window_start_seq=first_span.seq,
                window_end_seq=last_span.seq,
                window_start_ms=first_span.sample_ms(int(starts[0])),
                window_end_ms=last_span.sample_ms(int(starts[-1]) + spec.window - 1),
                score=_finite(scores[worst]),
                is_anomaly=bool(scores[worst] > model.threshold),
                contributions={
                    s: _finite(e) for s, e in zip(spec.signals, errors[worst].tolist(), strict=True)
                },
            )
        else:
            result.update(
                window_start_seq=block.seq,
                window_end_seq=block.seq,
                score=0.0,
                is_anomaly=False,
                contributions=dict.fromkeys(spec.signals, 0.0),
            )
        result["alert"] = self.alert.to_payload(changed)
        return result

    def close(self, reason: str, active: WindowModel | None) -> dict[str, Any] | None:
        """Close the open segment; the verdict of a weld when the active model has a weld score."""
        segment, self.segment = self.segment, None
        if segment is None or segment.weld_id is None or active is None or active.weld_scorer is None:
            return None
        if any(s not in segment.buffer.names for s in active.spec.signals):
            return None
        scores = segment.weld_scores.get(active.version)
        if (
            scores is None
            or segment.next_start.get(active.version, 0) + active.spec.window <= segment.buffer.n
        ):
            scores = self._all_window_scores(segment, active)
        verdict = active.weld_scorer.verdict(np.asarray(scores, dtype=np.float64), segment.buffer.n)
        if not math.isfinite(verdict.score):
            return None
        return {
            "result_id": f"{self.cell}:weld:{segment.first_seq}:{active.version}",
            "weld_id": segment.weld_id,
            "first_seq": segment.first_seq,
            "last_seq": segment.last_seq,
            "start_ms": segment.first_ms,
            "end_ms": segment.last_ms,
            "n_samples": segment.buffer.n,
            "windows": len(scores),
            "score": _finite(verdict.score),
            "components": {c: _finite(v) for c, v in verdict.components.items() if math.isfinite(v)},
            "fired": list(verdict.fired),
            "is_anomaly": verdict.alarm,
            "closed_by": reason,
        }

    def _all_window_scores(self, segment: _Segment, model: WindowModel) -> list[float]:
        spec, buffer = model.spec, segment.buffer
        if buffer.n < spec.window:
            return []
        z = standardise(buffer.rows(0, buffer.n, spec.signals), spec)
        scores, _ = model.score(window_matrix(z, spec.window, spec.stride))
        return [float(v) for v in np.asarray(scores, dtype=np.float64)]

    # --- checkpoint ---

    def to_state(self) -> dict[str, Any]:
        """Everything needed to go on exactly where this stream is (arrays stay numpy: `state_codec`)."""
        segment = self.segment
        data: dict[str, Any] = {
            "alert": self.alert.to_state(),
            "recent": np.fromiter(self._recent, dtype=np.int64),
            "segment": None,
        }
        if segment is not None:
            buffer = segment.buffer
            data["segment"] = {
                "first_seq": segment.first_seq,
                "first_ms": segment.first_ms,
                "weld_id": segment.weld_id,
                "last_seq": segment.last_seq,
                "last_ms": segment.last_ms,
                "next_start": segment.next_start,
                "weld_scores": {v: np.asarray(s, dtype=np.float64) for v, s in segment.weld_scores.items()},
                "names": buffer.names,
                "values": buffer.values[: buffer.held].copy(),
                "offset": buffer.offset,
                "n": buffer.n,
                "spans": [
                    [s.seq, s.start, s.n_samples, s.timestamp_ms, s.sample_interval_ms] for s in buffer.spans
                ],
                "last_valid": buffer.last_valid,
            }
        return data

    @classmethod
    def from_state(
        cls, cell: str, data: dict[str, Any], policy: AlertPolicy, limits: StreamLimits
    ) -> CellStream:
        stream = cls(cell, policy, limits)
        stream.alert = AlertState.from_state(data["alert"])
        for seq in np.asarray(data["recent"]).tolist():
            stream._remember(int(seq))
        saved = data["segment"]
        if saved is not None:
            names = [str(n) for n in saved["names"]]
            buffer = SegmentBuffer(
                names=names,
                values=np.array(saved["values"], dtype=np.float64).reshape(-1, len(names)),
                offset=int(saved["offset"]),
                n=int(saved["n"]),
                spans=[
                    BatchSpan(int(a), int(b), int(c), int(d), float(e)) for a, b, c, d, e in saved["spans"]
                ],
                last_valid={str(k): float(v) for k, v in saved["last_valid"].items()},
            )
            stream.segment = _Segment(
                first_seq=int(saved["first_seq"]),
                first_ms=int(saved["first_ms"]),
                weld_id=saved["weld_id"],
                last_seq=int(saved["last_seq"]),
                last_ms=int(saved["last_ms"]),
                buffer=buffer,
                next_start={str(k): int(v) for k, v in saved["next_start"].items()},
                weld_scores={str(k): np.asarray(v).tolist() for k, v in saved["weld_scores"].items()},
            )
        return stream


def _finite(value: float) -> float:
    """JSON has no NaN or infinity: a score that is not finite is reported as 0 (never expected)."""
    value = float(value)
    return value if math.isfinite(value) and value >= 0 else 0.0
