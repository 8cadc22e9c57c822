"""PNG figures for the Dagster UI and MLflow (matplotlib, headless)."""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["loss_curve_png", "markdown_image", "roc_curve_png", "score_histogram_png"]


def _figure(width: float, height: float) -> tuple[Figure, Axes]:
    """A figure with one axis on the headless backend (no display in runs, tests or pods). matplotlib is
    imported here, not with this module: the code location imports this module, and matplotlib is slow."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=(width, height))


def _png(figure: Figure) -> bytes:
    import matplotlib.pyplot as plt  # loaded already: the figure was made by `_figure`

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    plt.close(figure)
    return buffer.getvalue()


def markdown_image(png: bytes, alt: str) -> str:
    """Markdown that embeds the PNG itself (the Dagster UI renders data URIs in markdown metadata)."""
    return f"![{alt}](data:image/png;base64,{base64.b64encode(png).decode()})"


def score_histogram_png(
    normal: np.ndarray,
    threshold: float,
    anomalous: np.ndarray | None = None,
    title: str = "",
    log_x: bool = True,
) -> bytes:
    figure, axis = _figure(7, 3.5)
    everything = np.concatenate([normal, anomalous if anomalous is not None else np.empty(0), [threshold]])
    positive = everything[everything > 0]
    if log_x and positive.size:
        bins = np.geomspace(positive.min(), positive.max() * 1.01, 60)
        axis.set_xscale("log")
    else:
        bins = np.linspace(everything.min(), everything.max(), 60)
    axis.hist(
        np.clip(normal, bins[0], None),
        bins=bins.tolist(),
        alpha=0.6,
        label=f"normal ({len(normal)})",
        density=True,
    )
    if anomalous is not None and len(anomalous):
        axis.hist(
            np.clip(anomalous, bins[0], None),
            bins=bins.tolist(),
            alpha=0.6,
            label=f"anomalous ({len(anomalous)})",
            density=True,
        )
    axis.axvline(threshold, color="red", linestyle="--", label=f"threshold {threshold:.4g}")
    axis.set_xlabel("anomaly score (mean squared reconstruction error)")
    axis.set_ylabel("density")
    axis.set_title(title)
    axis.legend()
    return _png(figure)


def loss_curve_png(train: Sequence[float], validation: Sequence[float], best_epoch: int) -> bytes:
    figure, axis = _figure(6, 3.2)
    epochs = np.arange(1, len(train) + 1)
    axis.plot(epochs, train, label="train")
    axis.plot(epochs, validation, label="validation")
    axis.axvline(best_epoch, color="grey", linestyle=":", label=f"best epoch {best_epoch}")
    axis.set_yscale("log")
    axis.set_xlabel("epoch")
    axis.set_ylabel("MSE")
    axis.legend()
    return _png(figure)


def roc_curve_png(y_true: np.ndarray, scores: np.ndarray, title: str = "") -> bytes | None:
    from sklearn.metrics import roc_auc_score, roc_curve

    if len(np.unique(y_true)) < 2:
        return None
    fpr, tpr, _ = roc_curve(y_true, scores)
    figure, axis = _figure(4, 4)
    axis.plot(fpr, tpr, label=f"ROC-AUC {roc_auc_score(y_true, scores):.3f}")
    axis.plot([0, 1], [0, 1], color="grey", linestyle=":")
    axis.set_xlabel("false alarm rate")
    axis.set_ylabel("detection rate")
    axis.set_title(title)
    axis.legend(loc="lower right")
    return _png(figure)
