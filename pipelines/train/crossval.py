"""Grouped cross-validation by enterprise, when the label months allow no out-of-time split
(`pipelines.frames.choose_split`): the out-of-fold AUC over all k folds.

The tuned hyperparameters are refit k times, each time on every fold but one (the other
label kinds the config trains on included, outside the held-out fold only), and the held-out
fold is scored: the weighted AUC of each fold, their mean, and the AUC of all out-of-fold
scores together. The folds are those of training (`models.data.folds_of`: a seeded hash of
the enterprise id), so no enterprise is ever on both sides. The hyperparameters were tuned
on fold 1 (validation): its figure, and so the mean and the pooled AUC, lean slightly
optimistic; the test fold's figures (fold 0, with their bootstrap intervals) are the
unbiased ones the model card leads with.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from models import gbm
from models.config import ModelConfig
from models.metrics import weighted_auc
from pipelines.frames import Labelled
from pipelines.train.data import split


def out_of_fold(
    cfg: ModelConfig,
    labelled: Labelled,
    design: gbm.Design,
    best: dict[str, Any],
    constraints: list[int],
) -> dict[str, Any]:
    """``auc_per_fold`` (fold order; NaN where a fold holds one outcome only), ``auc_mean``
    (over the folds with a figure), ``auc_pooled`` (every out-of-fold score at once) and
    ``folds``; weighted like the test figures (1/p, or the snapshot's weights)."""
    params = gbm.lgb_params(best, cfg.seed, cfg.lightgbm.threads, constraints, list(design.levels))
    frame, extra = labelled.frame, labelled.extra
    k = int(labelled.split.folds or cfg.cv_folds)
    oof = np.full(len(frame), np.nan)
    per_fold: list[float] = []
    for fold in range(k):
        held = (frame["fold"] == fold).to_numpy()
        learn = pd.concat(
            [frame[~held], extra[(extra["fold"] != fold).to_numpy()]], ignore_index=True
        )
        test = split(frame[held], design)
        if len(test.y) == 0 or len(np.unique(learn["y"])) < 2:
            per_fold.append(float("nan"))
            continue
        train = split(learn, design)
        booster = gbm.train(train.x, train.y, train.w, params, best["n_estimators"])
        oof[held] = gbm.predict_raw(booster, test.x)
        per_fold.append(
            weighted_auc(test.y, oof[held], test.w) if len(np.unique(test.y)) > 1 else float("nan")
        )
    scored = ~np.isnan(oof)
    y, w = frame["y"].to_numpy(), frame["weight"].to_numpy()
    pooled = (
        weighted_auc(y[scored], oof[scored], w[scored])
        if len(np.unique(y[scored])) > 1
        else float("nan")
    )
    figures = [a for a in per_fold if np.isfinite(a)]
    return {
        "folds": k,
        "auc_per_fold": per_fold,
        "auc_mean": float(np.mean(figures)) if figures else float("nan"),
        "auc_pooled": float(pooled),
        "rows_per_fold": [int((frame["fold"] == f).sum()) for f in range(k)],
    }
