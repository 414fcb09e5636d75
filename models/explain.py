"""Explanations: each enterprise's main risk points (主要风险点) from TreeSHAP.

LightGBM computes exact TreeSHAP contributions itself (``pred_contrib``): one value per
feature plus the expected value, summing to the model's margin (log-odds) for that row.
Never use shap's own tree parser on a LightGBM model with categorical splits (it returns
wrong values without an error; ``../shared/design.md``); `shap.TreeExplainer` hands off to
LightGBM by default, and a test checks that the two agree.

Province scale: many enterprises share the very same feature row (new, empty, dormant
firms), so `contributions` explains each distinct row once and copies the result: exact,
not an approximation.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import lightgbm as lgb
import numpy as np
import numpy.typing as npt

F = npt.NDArray[np.float64]


def _row_keys(x: F) -> npt.NDArray[np.void]:
    """Each row as one opaque value (bytes), so that identical rows compare equal (NaN too:
    the same bit pattern is the same key)."""
    c = np.ascontiguousarray(x, dtype=np.float64)
    return c.view(np.dtype((np.void, c.dtype.itemsize * c.shape[1]))).ravel()


def contributions(booster: lgb.Booster, x: F, dedupe: bool = True) -> F:
    """TreeSHAP contributions, shape (rows, features + 1); the last column is the expected
    value. With ``dedupe`` each distinct row is explained once (identical result)."""
    threads = booster.params.get("num_threads", 0)
    if not dedupe or len(x) == 0:
        return np.asarray(booster.predict(x, pred_contrib=True, num_threads=threads), dtype=float)
    _, first, inverse = np.unique(_row_keys(x), return_index=True, return_inverse=True)
    unique = np.asarray(
        booster.predict(np.ascontiguousarray(x[first]), pred_contrib=True, num_threads=threads),
        dtype=float,
    )
    return unique[inverse.ravel()]


def top_risk_points(contrib: F, k: int = 5) -> tuple[npt.NDArray[np.int64], F]:
    """Per row, the ``k`` features that raise the risk most (largest positive contributions,
    ties by feature order), as (feature indices, contributions); a slot with no positive
    contribution left is -1 / NaN: never a reason the model did not give."""
    c = contrib[:, :-1]
    k = min(k, c.shape[1])
    # stable descending order: argsort of the negated values, ties by feature position
    order = np.argsort(-c, axis=1, kind="stable")[:, :k]
    values = np.take_along_axis(c, order, axis=1)
    positive = values > 0
    return np.where(positive, order, -1), np.where(positive, values, np.nan)


def group_sums(
    contrib: F, features: Sequence[str], group_of: Mapping[str, str], groups: Sequence[str]
) -> F:
    """How much each information group pushes the risk (sum of its features' contributions),
    shape (rows, len(groups))."""
    c = contrib[:, :-1]
    out = np.zeros((len(c), len(groups)))
    index = {g: i for i, g in enumerate(groups)}
    for j, name in enumerate(features):
        out[:, index[group_of[name]]] += c[:, j]
    return out
