"""The plots stored with every registered version: ROC and calibration of the tuned model,
and the hit rate by class of every model compared, on the test months (1/p weighted)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from models.classes import ClassScheme, class_order
from pipelines.results import ModelEvaluation
from pipelines.train.data import Split


def plots(
    folder: Path,
    test: Split,
    prob: np.ndarray,
    results: dict[str, ModelEvaluation],
    scheme: ClassScheme,
    scale: int,
) -> None:
    """``roc.png``, ``calibration.png`` and ``hit_rate_by_class.png`` in ``folder``."""
    # Figure objects, not pyplot: no global backend switch in the caller's process (a
    # notebook that trains keeps its inline plots)
    from matplotlib.figure import Figure
    from sklearn.metrics import roc_curve

    def subplots(size: tuple[float, float]) -> tuple[Figure, Any]:
        fig = Figure(figsize=size)
        return fig, fig.add_subplot()

    fig, ax = subplots((5, 5))
    fpr, tpr, _ = roc_curve(test.y, prob, sample_weight=test.w)
    ax.plot(fpr, tpr, label=f"LightGBM (AUC {results['lightgbm'].auc:.3f})")
    ax.plot([0, 1], [0, 1], ls=":", c="grey")
    ax.set(
        xlabel="false positive rate",
        ylabel="true positive rate",
        title="ROC, test months (1/p weighted)",
    )
    ax.legend(loc="lower right")
    fig.savefig(folder / "roc.png", dpi=100)

    fig, ax = subplots((5, 5))
    bins = np.quantile(prob, np.linspace(0, 1, 11))
    idx = np.clip(np.searchsorted(bins, prob, side="right") - 1, 0, 9)
    xs, ys = [], []
    for b in range(10):
        m = idx == b
        if m.any():
            xs.append(np.average(prob[m], weights=test.w[m]))
            ys.append(np.average(test.y[m], weights=test.w[m]))
    ax.plot(xs, ys, "o-", label="LightGBM")
    ax.plot([0, 1], [0, 1], ls=":", c="grey")
    ax.set(
        xlabel="predicted probability", ylabel="observed hit rate", title="Calibration, test months"
    )
    fig.savefig(folder / "calibration.png", dpi=100)

    order = class_order(scheme)
    fig, ax = subplots((6, 4))
    width = 0.8 / max(len(results), 1)
    for i, (name, r) in enumerate(results.items()):
        vals = [r.hit_rates[c].hit_rate for c in order]
        ax.bar(np.arange(len(order)) + i * width, np.nan_to_num(vals), width, label=name)
    ax.set_xticks(np.arange(len(order)) + width * (len(results) - 1) / 2, order)
    ax.set(ylabel="hit rate (1/p weighted)", title="Hit rate by class, test months")
    ax.legend(fontsize=7)
    fig.savefig(folder / "hit_rate_by_class.png", dpi=100)
