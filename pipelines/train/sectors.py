"""Sector models (一般 + 专业): one per configured sector, kept only if it ranks the sector's
validation inspections better than the general model, by more than their noise (in at least
``sector_confidence`` of paired bootstrap resamples).

Each is trained on its sector's inspections and combined with the general model by the
configuration's ``sector_rule`` (`models.sectors`: ``boost`` grows trees on the general
model's out-of-fold margin; ``replace``; ``average`` with the general probability). The
choice is made on the validation months (weighted AUC); the test months only report it.
Sectors apply in config order: an enterprise in two sectors gets the later one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd

from models import calibration, gbm
from models.config import ModelConfig
from models.metrics import weighted_auc, weighted_logloss
from models.plain import bootstrap_aucs
from models.sectors import blend_probability, sector_raw
from pipelines.results import SectorFigures, SectorOutcome
from pipelines.train.data import Split


def sector_scorer(
    rule: str, general: lgb.Booster, booster: lgb.Booster
) -> Callable[[pd.DataFrame], np.ndarray]:
    """The sector model's uncalibrated probability of some rows (`models.sectors.sector_raw`:
    under ``boost`` from the general model's margin on the same rows)."""

    def raw(x: pd.DataFrame) -> np.ndarray:
        margin = gbm.predict_margin(general, x) if rule == "boost" else None
        return sector_raw(rule, booster, x, margin)

    return raw


def sector_models(
    cfg: ModelConfig,
    best: dict[str, Any],
    constraints: list[int],
    categorical: list[str],
    general: lgb.Booster,
    data: tuple[Split, Split, Split],
    prob_valid: np.ndarray,
    prob_test: np.ndarray,
) -> tuple[dict[str, SectorOutcome], dict[str, lgb.Booster], np.ndarray]:
    """Each sector's outcome (config order), the boosters kept, and the deployed model's
    test-month probability (the general one with the kept sector models applied)."""
    train, valid, test = data
    out: dict[str, SectorOutcome] = {}
    kept: dict[str, lgb.Booster] = {}
    prob = prob_test.copy()
    oof: np.ndarray | None = None  # general-model margins on training rows, out of fold
    for sector in cfg.sectors:
        m_tr, m_va, m_te = (s.frame[sector.flag].to_numpy() == 1 for s in (train, valid, test))
        counts = (sector.flag, int(m_tr.sum()), int(m_te.sum()))
        least = sector.min_holdout_inspections
        if (
            m_tr.sum() < sector.min_inspections
            or m_va.sum() < least
            or m_te.sum() < least
            or len(np.unique(train.y[m_tr])) < 2
            or len(np.unique(valid.y[m_va])) < 2
        ):
            reason = (
                f"too few inspections (needs {sector.min_inspections} in training, "
                f"{least} in each of validation and test)"
            )
            out[sector.name] = SectorOutcome(*counts, used=False, reason=reason)
            continue
        params = gbm.lgb_params(best, cfg.seed, cfg.lightgbm.threads, constraints, categorical)
        if cfg.sector_rule == "boost":
            if oof is None:
                oof = out_of_fold_margin(train, params, best["n_estimators"])
            booster = gbm.train(
                train.x[m_tr],
                train.y[m_tr],
                train.w[m_tr],
                params,
                cfg.sector_rounds,
                init_score=oof[m_tr],
            )
        else:
            booster = gbm.train(
                train.x[m_tr], train.y[m_tr], train.w[m_tr], params, best["n_estimators"]
            )
        raw = sector_scorer(cfg.sector_rule, general, booster)
        cal = calibration.fit(cfg.calibration, raw(valid.x[m_va]), valid.y[m_va], valid.w[m_va])

        # the choice is made on the validation months; the test months only report it
        yv, wv = valid.y[m_va], valid.w[m_va]
        p_valid = blend_probability(cfg.sector_rule, cal(raw(valid.x[m_va])), prob_valid[m_va])
        p_sector = blend_probability(cfg.sector_rule, cal(raw(test.x[m_te])), prob_test[m_te])
        y, w = test.y[m_te], test.w[m_te]
        figures = SectorFigures(
            valid_general_auc=weighted_auc(yv, prob_valid[m_va], wv),
            valid_sector_auc=weighted_auc(yv, p_valid, wv),
            valid_general_logloss=weighted_logloss(yv, prob_valid[m_va], wv),
            valid_sector_logloss=weighted_logloss(yv, p_valid, wv),
            general_logloss=weighted_logloss(y, prob_test[m_te], w),
            sector_logloss=weighted_logloss(y, p_sector, w),
            general_auc=weighted_auc(y, prob_test[m_te], w),
            sector_auc=weighted_auc(y, p_sector, w),
        )
        # ranking, not log-loss: the sector calibrator was fit on these very rows, so its
        # validation log-loss would flatter it; AUC does not depend on the calibration
        draws = bootstrap_aucs(yv, wv, [p_valid, prob_valid[m_va]], 1000, cfg.seed)
        wins = float(np.nanmean(draws[:, 0] > draws[:, 1]))
        used = bool(
            figures.valid_sector_auc > figures.valid_general_auc and wins >= cfg.sector_confidence
        )
        reason = (
            f"beats the general model on the validation months ({wins:.0%} of resamples)"
            if used
            else "does not beat the general model on the validation months by more than "
            f"their noise ({wins:.0%} of resamples, needs {cfg.sector_confidence:.0%})"
        )
        out[sector.name] = SectorOutcome(
            *counts, used, reason, figures, cal.to_dict() if used else None
        )
        if used:
            kept[sector.name] = booster
            prob[m_te] = p_sector
    return out, kept, prob


def out_of_fold_margin(
    train: Split, params: dict[str, Any], rounds: int, folds: int = 3
) -> np.ndarray:
    """The general model's margin on each training row from a model that did not see that
    row's months (month folds): sector trees boost from margins like those of new data, not
    from the smaller in-sample residuals."""
    months = np.array(sorted(train.frame["month"].unique()))
    if len(months) < 2:  # nothing to hold out: in-sample margins
        return gbm.predict_margin(gbm.train(train.x, train.y, train.w, params, rounds), train.x)
    margin = np.empty(len(train.y))
    for group in np.array_split(months, min(folds, len(months))):
        hold = train.frame["month"].isin(group).to_numpy()
        model = gbm.train(train.x[~hold], train.y[~hold], train.w[~hold], params, rounds)
        margin[hold] = gbm.predict_margin(model, train.x[hold])
    return margin
