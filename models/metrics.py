"""Metrics that respect the sampling design: every estimate is weighted by 1/p.

The bottom of the model metrics: `models.verification` (intervals, calibration, drift) builds
on these, never the other way round.
"""

from __future__ import annotations

import itertools

import numpy as np
import numpy.typing as npt
from sklearn.metrics import roc_auc_score

F = npt.NDArray[np.float64]


def weighted_auc(y: npt.ArrayLike, score: npt.ArrayLike, w: npt.ArrayLike | None = None) -> float:
    y = np.asarray(y)
    if len(np.unique(y)) < 2:
        return float("nan")
    return float(roc_auc_score(y, np.asarray(score, dtype=float), sample_weight=w))


def weighted_logloss(y: npt.ArrayLike, p: npt.ArrayLike, w: npt.ArrayLike | None = None) -> float:
    yy: F = np.asarray(y, dtype=float)
    pp: F = np.clip(np.asarray(p, dtype=float), 1e-6, 1 - 1e-6)
    ww: F = np.ones_like(yy) if w is None else np.asarray(w, dtype=float)
    return float(-np.sum(ww * (yy * np.log(pp) + (1 - yy) * np.log(1 - pp))) / np.sum(ww))


def weighted_brier(y: npt.ArrayLike, p: npt.ArrayLike, w: npt.ArrayLike | None = None) -> float:
    yy: F = np.asarray(y, dtype=float)
    pp: F = np.asarray(p, dtype=float)
    ww: F = np.ones_like(yy) if w is None else np.asarray(w, dtype=float)
    return float(np.sum(ww * (pp - yy) ** 2) / np.sum(ww))


def weighted_rate(y: npt.ArrayLike, w: npt.ArrayLike) -> float:
    """The weighted share of ``y`` = 1 (problems found per inspection, each inspection
    standing for 1/p enterprises); NaN without rows. With its interval:
    `models.verification.rate`.

    >>> weighted_rate([1, 0, 0], [1.0, 1.0, 2.0]), weighted_rate([], [])
    (0.25, nan)
    """
    yy: F = np.asarray(y, dtype=float)
    ww: F = np.asarray(w, dtype=float)
    if len(yy) == 0:
        return float("nan")
    return float(np.sum(ww * yy) / np.sum(ww))


def hit_rates(
    y: npt.ArrayLike, classes: npt.ArrayLike, w: npt.ArrayLike, order: list[str]
) -> dict[str, dict[str, float]]:
    """Per class: inspections, weighted hit rate (problems found / inspections); with
    intervals: `models.verification.hit_rates`.

    >>> rates = hit_rates([1, 0, 1], ["A", "A", "B"], [1.0, 3.0, 1.0], ["A", "B", "C"])
    >>> rates["A"], rates["C"]
    ({'inspections': 2, 'hit_rate': 0.25}, {'inspections': 0, 'hit_rate': nan})
    """
    yy, cc, ww = np.asarray(y, dtype=float), np.asarray(classes), np.asarray(w, dtype=float)
    return {
        c: {
            "inspections": int((cc == c).sum()),
            "hit_rate": weighted_rate(yy[cc == c], ww[cc == c]),
        }
        for c in order
    }


def increasing(rates: dict[str, dict[str, float]], order: list[str]) -> bool:
    """Hit rates rise strictly along the class order (classes without inspections skipped)."""
    seq = [rates[c]["hit_rate"] for c in order if rates[c]["inspections"] > 0]
    return all(a < b for a, b in itertools.pairwise(seq))
