"""Never lose to the plain baseline (issue 18): the training step that fits it and judges.

A user's data set showed a plain LightGBM on simple per-enterprise aggregates of the
delivered tables ranking inspections far better than the project's model. So every training
also fits that plain GBM (`models.plain`: fixed parameters, no tuning, no monotone
constraints) on the aggregates of `pipelines.aggregates` (read from the ingested folder, point
in time at each row's feature month), with the model's own training rows and 1/p weights;
calibrates it the same way on the validation rows; evaluates it on the same test rows with
the same `evaluate` (``plain_gbm`` in `TrainMetrics.models`); and judges the deployed model
against it with the paired, seeded bootstrap of `models.plain.compare`
(`TrainMetrics.plain`). The booster, its design and the aggregates it reads go into the
bundle (`tracking.register`: ``plain.txt``, ``plain_design.json``) so that verify can
rescore it, and promote refuses a version that lost (`pipelines.gates.plain_check`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from models import calibration, gbm, plain
from models.classes import ClassScheme
from models.config import ModelConfig
from pipelines import aggregates
from pipelines.results import TrainMetrics
from pipelines.train.data import Split
from pipelines.train.evaluation import evaluate

__all__ = ["aggregate_rows", "plain_baseline"]


def aggregate_rows(
    interim: Path, parts: tuple[Split, ...], spec: aggregates.AggregateSpec, threads: int
) -> list[pd.DataFrame]:
    """The aggregates of each part's rows (``uscc``, ``feature_month``), computed in one pass
    over the distinct enterprise-months of all of them."""
    keys = pd.concat([s.frame[["uscc", "feature_month"]] for s in parts], ignore_index=True)
    wide = aggregates.compute(interim, keys, spec, threads)
    out, start = [], 0
    for s in parts:
        part = wide.iloc[start : start + len(s.frame)]
        out.append(part.set_axis(s.frame.index, axis=0))
        start += len(s.frame)
    return out


def plain_baseline(
    cfg: ModelConfig,
    interim: Path,
    scheme: ClassScheme,
    data: tuple[Split, Split, Split],
    prob_deployed: np.ndarray,
    oracle_auc: float | None,
    metrics: TrainMetrics,
) -> np.ndarray | None:
    """Fit the plain GBM on the aggregates of ``data`` (train, valid, test), evaluate it and
    judge the deployed model (test probabilities ``prob_deployed``) against it; adds
    ``plain_gbm`` to ``metrics.models`` and sets ``metrics.plain`` and ``metrics.plain_model``.
    Nothing when ``plain_baseline.enabled`` is false, or when ``interim`` holds no table to
    aggregate (a model trained on a labelled snapshot alone): the card then says it was not
    fitted, and verify and promote report it as not available. Returns the plain GBM's
    calibrated test probabilities (None when it was not fitted)."""
    pc = cfg.plain_baseline
    if not pc.enabled:
        return None
    threads = cfg.lightgbm.threads
    spec = aggregates.plan(interim, threads)
    if not spec.columns():
        return None
    train, valid, test = data
    a_train, a_valid, a_test = aggregate_rows(interim, data, spec, threads)
    design = plain.design(a_train, spec.columns(), spec.categorical_columns())
    x_train, x_valid, x_test = (plain.matrix(a, design) for a in (a_train, a_valid, a_test))
    booster = plain.fit(x_train, train.y, train.w, cfg.seed, threads, list(design.levels))
    cal = calibration.fit(cfg.calibration, gbm.predict_raw(booster, x_valid), valid.y, valid.w)
    prob_test = cal(gbm.predict_raw(booster, x_test))
    metrics.models["plain_gbm"] = evaluate(
        "plain_gbm", test, prob_test, scheme, cfg.score_scale, oracle_auc
    )
    metrics.plain = plain.compare(
        metrics.deployed,
        test.y,
        test.w,
        prob_deployed,
        prob_test,
        pc.bootstrap,
        pc.confidence,
        cfg.seed,
    )
    metrics.plain_model = plain.PlainModel(booster, design, cal, spec.to_dict())
    return prob_test
