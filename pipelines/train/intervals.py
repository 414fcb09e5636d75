"""Every test-month AUC with its interval (issue 19): the deployed model, the plain baseline,
the indicator points regulators use today (加权评定) and, on the synthetic province, the
oracle (the simulator's true problem probability), judged on the same rows.

The same paired, seeded bootstrap as the plain baseline's judgement (`models.plain`): ``b``
resamples of the test rows with replacement, each row keeping its weight 1/p, from a generator
seeded with the config's seed; every score is ranked on the same resamples, so each AUC has
its percentile interval and each difference AUC(deployed) - AUC(other) its own. The deployed
model comes first and the plain GBM second, so their intervals are exactly those of
``plain_baseline`` (the resamples do not depend on how many scores are ranked).

Aggregates only: AUCs, interval bounds, the row count, the bootstrap's size and seed.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from models.metrics import weighted_auc
from models.plain import bootstrap_aucs

__all__ = ["auc_intervals"]


def auc_intervals(
    y: npt.ArrayLike,
    w: npt.ArrayLike,
    scores: dict[str, npt.ArrayLike],
    b: int,
    confidence: float,
    seed: int,
    reference: str = "deployed",
) -> dict[str, Any]:
    """AUC of each of ``scores`` (name -> score of each row; ``reference`` first) with its
    ``confidence`` percentile interval over ``b`` paired bootstrap resamples, and the interval
    of AUC(reference) - AUC(other) for every other score."""
    yy, ww = np.asarray(y, dtype=float), np.asarray(w, dtype=float)
    names = [reference, *(n for n in scores if n != reference)]
    arrays = [np.asarray(scores[n], dtype=float) for n in names]
    draws = bootstrap_aucs(yy, ww, arrays, b, seed)
    q = [(1 - confidence) / 2, (1 + confidence) / 2]

    def interval(v: npt.NDArray[np.float64]) -> tuple[float | None, float | None]:
        if not np.isfinite(v).any():
            return None, None
        lo, hi = np.nanquantile(v, q)
        return float(lo), float(hi)

    point = [weighted_auc(yy, a, ww) for a in arrays]
    models: dict[str, Any] = {}
    for j, name in enumerate(names):
        lo, hi = interval(draws[:, j])
        models[name] = {"auc": point[j], "low": lo, "high": hi}
    differences: dict[str, Any] = {}
    for j, name in enumerate(names[1:], start=1):
        lo, hi = interval(draws[:, 0] - draws[:, j])
        differences[f"{reference}_minus_{name}"] = {
            "diff": point[0] - point[j],
            "low": lo,
            "high": hi,
        }
    return {
        "rows": len(yy),
        "bootstrap": b,
        "confidence": confidence,
        "seed": seed,
        "models": models,
        "differences": differences,
    }
