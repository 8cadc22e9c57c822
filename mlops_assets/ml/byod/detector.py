"""The detector of `mlops evaluate`: the asset graph's pieces (`dataset.fit_spec`, `windows_of`,
`train_autoencoder`, `score_windows`, `fit_threshold`) called in a row on the rows of a normal CSV; what
is particular to a CSV is only how rows become segments and how window scores go back onto rows."""

from __future__ import annotations

import itertools
import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from edge_agent.features import FeatureSpec, fill_missing, standardise
from mlops_assets.ml.autoencoder.dataset import Segment, fit_spec, windows_of
from mlops_assets.ml.autoencoder.model import AutoencoderConfig, WindowScorer
from mlops_assets.ml.autoencoder.scoring import rows_from_windows, score_windows
from mlops_assets.ml.autoencoder.thresholds import Threshold, ThresholdMethod, fit_threshold
from mlops_assets.ml.autoencoder.trainer import EpochReport, TrainResult, train_autoencoder

__all__ = [
    "DetectorOptions",
    "FittedDetector",
    "choose_window",
    "fit_detector",
    "row_segments",
    "score_rows",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DetectorOptions:
    window: int | None = None
    """Rows per window; None chooses from the data (`choose_window`)."""
    val_fraction: float = 0.2
    threshold_method: ThresholdMethod = "pot"
    threshold_params: dict[str, float] = field(default_factory=dict)
    max_train_windows: int = 50_000
    max_epochs: int = 60
    max_seconds: float = 600.0
    seed: int = 7


def row_segments(n_rows: int, times: np.ndarray | None, gap_factor: float = 20.0) -> list[tuple[int, int]]:
    """(first, stop) row ranges: a new one where time goes backwards or jumps by > gap_factor typical steps
    (concatenated exports, shutdowns); windows never cross segments."""
    if times is None or n_rows < 2:
        return [(0, n_rows)]
    steps = np.diff(np.asarray(times, dtype=np.float64))
    positive = steps[np.isfinite(steps) & (steps > 0)]
    if positive.size == 0:
        return [(0, n_rows)]
    typical = float(np.median(positive))
    breaks = np.flatnonzero(np.isfinite(steps) & ((steps < 0) | (steps > gap_factor * typical))) + 1
    bounds = [0, *breaks.tolist(), n_rows]
    return [(a, b) for a, b in itertools.pairwise(bounds) if b > a]


def _decorrelation_lag(values: np.ndarray, max_lag: int) -> int:
    """Lag where the autocorrelation of a standardised series first drops below 0.5 (max_lag if never)."""
    x = values - values.mean()
    if not np.any(x):
        return max_lag
    n = len(x)
    spectrum = np.fft.rfft(x, 2 * n)
    acf = np.fft.irfft(spectrum * np.conj(spectrum))[: max_lag + 1]
    acf = acf / acf[0]
    below = np.flatnonzero(acf < 0.5)
    return int(below[0]) if below.size else max_lag


def choose_window(
    train: Sequence[Segment], signals: Sequence[str], spec_hint: FeatureSpec, lo: int = 16, hi: int = 64
) -> int:
    """Four typical decorrelation lags of the signals (the lag at which a signal's autocorrelation falls
    below 0.5: the time scale on which the process changes; a window should see a shape, not a point),
    within [lo, hi] and short enough to leave enough windows."""
    longest = max(train, key=lambda s: s.n_rows)
    columns = [list(signals).index(name) for name in spec_hint.signals]
    rows = fill_missing(longest.values[:, columns])[-20_000:]
    z = standardise(rows, replace(spec_hint, window=1, stride=1)).astype(np.float64)
    lags = [_decorrelation_lag(z[:, i], hi) for i in range(z.shape[1])]
    window = int(np.clip(4 * np.median(lags), lo, hi))
    typical_len = int(np.median([s.n_rows for s in train]))
    total = sum(s.n_rows for s in train)
    # Enough windows to learn from (a segment should hold a few, the file 50 window lengths), and an input
    # layer of at most ~2,048 values.
    window = min(window, max(4, typical_len // 2), max(4, total // 50), max(4, 2048 // spec_hint.n_signals))
    return max(2, min(window, min(s.n_rows for s in train if s.n_rows >= 2) if total else window))


def _autoencoder_config(n_features: int, n_windows: int, options: DetectorOptions) -> AutoencoderConfig:
    hidden1 = int(min(256, max(16, n_features // 2)))
    hidden2 = int(max(8, hidden1 // 4))
    latent = int(max(2, min(16, n_features // 10, hidden2 // 2)))
    # Bound the passes over the data (~3 M window presentations), not just the epochs.
    epochs = int(min(options.max_epochs, max(8, math.ceil(3_000_000 / max(n_windows, 1)))))
    return AutoencoderConfig(
        hidden=(hidden1, hidden2),
        latent=latent,
        batch_size=256 if n_windows > 5_000 else 64,
        max_epochs=epochs,
        patience=6,
        seed=options.seed,
        max_train_windows=options.max_train_windows,
        max_seconds=options.max_seconds,
    )


@dataclass
class FittedDetector:
    spec: FeatureSpec
    signals: list[str]
    scorer: WindowScorer
    training: TrainResult
    threshold: Threshold
    options: DetectorOptions
    scale: float = 1.0
    """Row scores are divided by the median validation row score, so the threshold reads in multiples
    of a typical normal row whatever the data's units."""
    info: dict[str, Any] = field(default_factory=dict)


def _reconstruction_rows(detector: FittedDetector, segments: Sequence[Segment]) -> list[np.ndarray]:
    """Per segment, one reconstruction score per row (unscaled): the mean score of the stride-1 windows
    covering the row; a segment shorter than a window is padded with its first row."""
    spec = detector.spec
    windows = windows_of(segments, spec, detector.signals, stride=1, pad_short=True)
    scores, _ = score_windows(detector.scorer, windows.windows)
    out = []
    for index, segment in enumerate(segments):
        if segment.n_rows == 0:
            out.append(np.empty(0))
            continue
        padded_rows = segment.n_rows + max(0, spec.window - segment.n_rows)
        rows = rows_from_windows(scores[windows.segment == index], padded_rows, spec.window)
        out.append(rows[padded_rows - segment.n_rows :])
    return out


def score_rows(detector: FittedDetector, segments: Sequence[Segment]) -> list[np.ndarray]:
    """One score per row of each segment (higher = more anomalous), on the scale the threshold uses."""
    return [rows / detector.scale for rows in _reconstruction_rows(detector, segments)]


def fit_detector(
    train: Sequence[Segment],
    signals: Sequence[str],
    options: DetectorOptions = DetectorOptions(),
    on_epoch: Callable[[EpochReport], None] | None = None,
) -> FittedDetector:
    """Fit features, autoencoder and threshold on normal segments; the last `val_fraction` of rows validates.

    Defaults come from the data, never per dataset by hand: the window from `choose_window` (measured on
    synthetic development sets, never on the files being judged); the training stride for at most
    `max_train_windows`; at most `max_epochs` epochs with early stopping and a wall-time budget; the
    threshold from the row scores of the validation rows the model never trained on, never from the
    test file."""
    signals = list(signals)
    fit_part, val_part = _split_rows(train, options.val_fraction)
    provisional = fit_spec(fit_part, signals, 1, 1)
    window = options.window or choose_window(fit_part, signals, provisional)
    n_fit_rows = sum(s.n_rows for s in fit_part)
    stride = max(1, math.ceil(max(n_fit_rows - window + 1, 1) / options.max_train_windows))
    spec = fit_spec(fit_part, signals, window, stride)
    train_windows = windows_of(fit_part, spec, signals, pad_short=True)
    val_windows = windows_of(val_part, spec, signals, stride=max(1, stride // 2), pad_short=True)
    config = _autoencoder_config(spec.n_features, len(train_windows), options)
    result = train_autoencoder(train_windows.windows, val_windows.windows, spec.n_signals, config, on_epoch)
    detector = FittedDetector(
        spec=spec,
        signals=signals,
        scorer=result.scorer,
        training=result,
        threshold=Threshold(1.0, "pending"),
        options=options,
    )
    val_rows = np.concatenate(_reconstruction_rows(detector, val_part))
    detector.scale = _positive_median(val_rows)
    val_scores = val_rows / detector.scale
    detector.threshold = fit_threshold(val_scores, options.threshold_method, **options.threshold_params)
    detector.info = {
        "window": window,
        "train_stride": stride,
        "train_rows": n_fit_rows,
        "validation_rows": int(sum(s.n_rows for s in val_part)),
        "train_windows": result.train_windows,
        "validation_windows": result.val_windows,
        "epochs": len(result.history),
        "best_epoch": result.best_epoch,
        "stop_reason": result.stop_reason,
        "training_seconds": round(result.seconds, 1),
        "hidden": list(config.hidden),
        "latent": config.latent,
        "dropped_signals": dict(spec.dropped),
    }
    return detector


def _positive_median(values: np.ndarray) -> float:
    finite = values[np.isfinite(values)]
    median = float(np.median(finite)) if finite.size else 1.0
    return median if median > 1e-12 else max(float(finite.mean()) if finite.size else 1.0, 1e-12)


def _split_rows(train: Sequence[Segment], val_fraction: float) -> tuple[list[Segment], list[Segment]]:
    """Time-ordered: whole segments when there are several, else the tail of the single segment validates."""
    ordered = sorted(train, key=lambda s: (s.start, s.key))
    total = sum(s.n_rows for s in ordered)
    if total < 4:
        raise ValueError(f"the training data has {total} rows: too few to train on")
    target = total * val_fraction
    if len(ordered) >= 5:
        val: list[Segment] = []
        while ordered and sum(s.n_rows for s in val) < target and len(ordered) > 1:
            val.insert(0, ordered.pop())
        return ordered, val
    # Few segments: cut the last rows of each into validation, keeping time order.
    fit, val = [], []
    for s in ordered:
        cut = max(1, round(s.n_rows * (1 - val_fraction)))
        if s.n_rows - cut < 1:
            fit.append(s)
            continue
        fit.append(replace(s, values=s.values[:cut], key=s.key + ":fit"))
        val.append(
            replace(
                s, values=s.values[cut:], key=s.key + ":val", first_row=s.first_row + cut, start=s.start + cut
            )
        )
    if not val:
        raise ValueError("the training data is too short to keep validation rows")
    return fit, val
