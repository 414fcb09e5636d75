"""Explanations: each enterprise's main risk points (主要风险点) from TreeSHAP.

LightGBM computes exact TreeSHAP contributions itself (``pred_contrib``): one value per
feature plus the expected value, summing to the model's margin (log-odds) for that row.
Never use shap's own tree parser on a LightGBM model with categorical splits (it returns
wrong values without an error; ``../shared/design.md``); `shap.TreeExplainer` hands off to
LightGBM by default, and a test checks that the two agree.

TreeSHAP values depend on a row only through the way it goes at each node of each tree, so
`contributions` can explain each distinct decision pattern once and copy the result to
every enterprise that shares it: exact, not an approximation (`decision_keys`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import lightgbm as lgb
import numpy as np
import numpy.typing as npt

F = npt.NDArray[np.float64]


def split_points(booster: lgb.Booster) -> tuple[dict[int, F], set[int]]:
    """Per feature index, the sorted thresholds of its numerical splits, and the features
    with categorical splits, read from the model text (exact doubles, as LightGBM uses them)."""
    thresholds: dict[int, list[float]] = {}
    categorical: set[int] = set()
    trees: list[dict[str, list[str]]] = []
    for line in booster.model_to_string().splitlines():
        if line.startswith("Tree="):
            trees.append({})
        elif trees and line.startswith(("split_feature=", "decision_type=", "threshold=")):
            key, values = line.split("=", 1)
            trees[-1][key] = values.split()
    for tree in trees:
        if "split_feature" not in tree:  # a single leaf
            continue
        for f, kind, t in zip(
            tree["split_feature"], tree["decision_type"], tree["threshold"], strict=True
        ):
            if int(kind) & 1:  # categorical split: membership of the raw code
                categorical.add(int(f))
            else:
                thresholds.setdefault(int(f), []).append(float(t))
    return {f: np.unique(np.asarray(v)) for f, v in thresholds.items()}, categorical


def decision_keys(booster: lgb.Booster, x: F) -> npt.NDArray[np.void]:
    """One key per row such that rows with equal keys go the same way at every node of every
    tree, hence get the same TreeSHAP values exactly. A numerical value is replaced by its
    position among the model's thresholds for that feature (``v <= t`` is decided the same
    for all ``v`` between two neighbouring thresholds); a categorical value stays itself;
    missing is its own key."""
    thresholds, categorical = split_points(booster)
    keys = np.empty(x.shape, dtype=np.float64)
    for j in range(x.shape[1]):
        col = x[:, j]
        if j in categorical:
            keys[:, j] = col
        elif j in thresholds:
            keys[:, j] = np.searchsorted(thresholds[j], col, side="left")
        else:
            keys[:, j] = 0.0  # never split on: no decision depends on it
        keys[np.isnan(col), j] = -1.0
    c = np.ascontiguousarray(keys)
    return c.view(np.dtype((np.void, c.dtype.itemsize * c.shape[1]))).ravel()


def contributions(booster: lgb.Booster, x: F, dedupe: bool = False) -> F:
    """TreeSHAP contributions, shape (rows, features + 1); the last column is the expected
    value. With ``dedupe``, rows that take the same decisions everywhere in the model are
    explained once (`decision_keys`): the result is identical. It pays only for small models:
    for the demo's tuned model (300 trees, ~26 leaves, 122 features) 99.9% of the 1M
    province's enterprises have a decision pattern of their own, so it is off by default."""
    threads = booster.params.get("num_threads", 0)
    if not dedupe or len(x) == 0:
        return np.asarray(booster.predict(x, pred_contrib=True, num_threads=threads), dtype=float)
    _, first, inverse = np.unique(decision_keys(booster, x), return_index=True, return_inverse=True)
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
