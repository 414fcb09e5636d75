"""Test-month evaluation of a model, and the baselines the model is compared with.

Every figure is weighted by 1/p on the test months (never seen by training, tuning or
calibration). The baselines: (a) the weighted indicator score regulators use today
(加权评定), made a probability on the validation months; (b) logistic regression on scaled
features; (c) the same LightGBM ignoring the sampling design (no 1/p weights anywhere).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from models import calibration, gbm
from models.baselines import IndicatorWeights, indicator_score, logistic
from models.classes import ClassScheme, assign, class_order
from models.config import ModelConfig
from models.metrics import hit_rates, increasing, weighted_auc, weighted_brier, weighted_logloss
from pipelines.results import ClassHitRate, ModelEvaluation
from pipelines.train.data import Split


def evaluate(
    name: str,
    test: Split,
    prob: np.ndarray,
    scheme: ClassScheme,
    scale: int,
    oracle_auc: float | None,
    rank_score: np.ndarray | None = None,
) -> ModelEvaluation:
    """Test-month metrics of one model: weighted AUC, log-loss, Brier, hit rate by class."""
    score = calibration.to_score(prob, scale)
    classes = assign(
        pd.DataFrame({"uscc": test.frame["uscc"], "score": score, "probability": prob}),
        scheme.model_copy(update={"overrides": ()}),
    )["class_model"].to_numpy()
    order = class_order(scheme)
    auc = weighted_auc(test.y, prob if rank_score is None else rank_score, test.w)
    rates = hit_rates(test.y, classes, test.w, order)
    return ModelEvaluation(
        model=name,
        auc=auc,
        logloss=weighted_logloss(test.y, prob, test.w),
        brier=weighted_brier(test.y, prob, test.w),
        hit_rates={c: ClassHitRate(int(r["inspections"]), r["hit_rate"]) for c, r in rates.items()},
        hit_rates_increasing=increasing(rates, order),
        auc_fraction_of_oracle=auc / oracle_auc if oracle_auc is not None else None,
    )


def baselines(
    cfg: ModelConfig,
    scheme: ClassScheme,
    weights: IndicatorWeights,
    design: gbm.Design,
    params: dict[str, Any],
    rounds: int,
    data: tuple[Split, Split, Split],
    oracle_auc: float | None,
) -> dict[str, ModelEvaluation]:
    """The three baselines on the test months, in this order: indicator score, logistic
    regression, unweighted LightGBM (``params`` and ``rounds``: the tuned model's)."""
    train, valid, test = data
    out: dict[str, ModelEvaluation] = {}
    # (a) the weighted indicator score, made a probability on the validation months
    ind_cal = calibration.fit("isotonic", indicator_score(valid.frame, weights), valid.y, valid.w)
    ind_test = indicator_score(test.frame, weights)
    out["indicator_score"] = evaluate(
        "indicator_score", test, ind_cal(ind_test), scheme, cfg.score_scale, oracle_auc, ind_test
    )
    # (b) logistic regression on scaled features
    lr = logistic(design, cfg.seed).fit(train.x, train.y, lr__sample_weight=train.w)
    lr_cal = calibration.fit(cfg.calibration, lr.predict_proba(valid.x)[:, 1], valid.y, valid.w)
    out["logistic"] = evaluate(
        "logistic",
        test,
        lr_cal(lr.predict_proba(test.x)[:, 1]),
        scheme,
        cfg.score_scale,
        oracle_auc,
    )
    # (c) the same LightGBM ignoring the sampling design (no 1/p weights anywhere)
    unw = gbm.train(train.x, train.y, None, params, rounds)
    unw_cal = calibration.fit(
        cfg.calibration, gbm.predict_raw(unw, valid.x), valid.y, np.ones(len(valid.y))
    )
    out["lightgbm_unweighted"] = evaluate(
        "lightgbm_unweighted",
        test,
        unw_cal(gbm.predict_raw(unw, test.x)),
        scheme,
        cfg.score_scale,
        oracle_auc,
    )
    return out
