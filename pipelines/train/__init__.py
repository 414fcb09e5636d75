"""Stage `train`: learn from double-random inspection outcomes, tune, calibrate, compare with
baselines, add sector models, and register the result in MLflow as the `challenger`.

Every inspection of month M is paired with the features of the month end before M and
weighted 1/p (p = its inclusion probability; `pipelines.frames`). Months are split out of
time: training, then `valid_months` (tuning, calibration), then `test_months` (every figure
reported); when the months allow no such split (or the labels are one external snapshot,
`labels`), enterprises are split into folds instead (grouped cross-validation, `crossval`:
the out-of-fold AUC over every fold beside the test fold's figures). The hidden truth of the synthetic province is read only here, only for
evaluation (oracle AUC), and only when `--truth` is given.

This package: `run_train` (the steps in order, below); `labels` (inspections or a labelled
snapshot); `data` (the split rows, the oracle); `crossval` (grouped cross-validation);
`tuning` (Optuna); `evaluation` (test-month figures, baselines); `sectors` (sector models);
`tracking` (MLflow: parameters, metrics, the bundle, registration); `card` (the model card,
which also names the information groups the feature files lacked);
`plots`. The figures: `pipelines.results.TrainMetrics`, written as ``train_metrics.json``
(`pipelines.results.TrainFigures`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from features.definitions import BY_NAME, full_catalog
from models import calibration, gbm
from models.baselines import IndicatorWeights, indicator_score
from models.classes import ClassScheme, check_features
from models.config import ModelConfig
from models.metrics import weighted_auc
from pipelines import paths
from pipelines.config import load_config
from pipelines.frames import file_derived
from pipelines.io import write_json
from pipelines.results import TrainMetrics
from pipelines.snapshot import LabelsFile
from pipelines.train import tracking
from pipelines.train.bands import check_class_bands, fit_class_bands
from pipelines.train.crossval import out_of_fold
from pipelines.train.data import Split, TrainError, absent_in, oracle_scores, split
from pipelines.train.evaluation import baselines, evaluate
from pipelines.train.intervals import auc_intervals
from pipelines.train.labels import labelled_rows
from pipelines.train.plain import plain_baseline
from pipelines.train.sectors import sector_models
from pipelines.train.tuning import HYPER, tune

__all__ = ["HYPER", "TrainError", "TrainResult", "run_train"]


@dataclass
class TrainResult:
    version: str
    run_id: str
    metrics: TrainMetrics
    best_params: dict[str, Any]
    trials: int
    labelled: dict[str, int]
    seconds: float
    model_string: str = field(repr=False, default="")


def run_train(
    cfg: ModelConfig,
    features_dir: Path,
    interim: Path,
    truth: Path | None = None,
    metrics_out: Path | None = None,
    progress: Callable[[str], None] | None = None,
    labels: LabelsFile | None = None,
) -> TrainResult:
    """Train, evaluate and register a version (see the package doc); ``metrics_out``: where
    to write ``train_metrics.json``; ``progress(step)`` as each step starts; ``labels``: an
    external labelled snapshot instead of the inspections (`pipelines.train.labels`)."""
    import mlflow

    t_start = time.perf_counter()
    say = progress or (lambda _msg: None)
    scheme = load_config(cfg.class_scheme, ClassScheme)
    check_features(scheme, set(BY_NAME))
    if not scheme.chunkable:
        raise TrainError(
            f"train: class scheme {scheme.name} assigns classes by shares of the whole population, "
            "which the inspected test rows are not; give configs/model.yaml a score-band or "
            "threshold scheme (classify can still use the shares scheme with --scheme)"
        )
    check_class_bands(cfg, scheme)  # class_bands.fit: the target shares fit the scheme
    weights = load_config(cfg.indicator_weights, IndicatorWeights)

    say("reading features")
    cfg, rows = labelled_rows(cfg, features_dir, interim, labels, truth, metrics_out)
    frame, train_frame, counts, catalog = rows.frame, rows.train_frame, rows.counts, rows.catalog
    if rows.split.why:
        say(f"grouped cross-validation by enterprise: {rows.split.why}")
    # the tables the feature files trained on lacked (their features are NaN): the card says so
    absent = absent_in(
        features_dir,
        {str(m) for f in (frame, train_frame) for m in f["feature_month"].unique()},
    )
    # the catalog the feature files were built with: the shipped one, plus the features
    # derived from the bureau's own indicators and columns (`features.derived`)
    if frame.empty:
        raise TrainError(
            f"train: none of the {counts.get('labels', 0)} labels has a feature row "
            "(the enterprises are not in the feature files of their month)"
        )
    derived = file_derived(paths.features_file(features_dir, str(frame["feature_month"].iloc[0])))
    model_catalog = full_catalog(derived)
    design = gbm.fit_design(train_frame, model_catalog)
    constraints = gbm.monotone(design, model_catalog)
    train = split(train_frame, design)
    valid = split(frame[frame["split"] == "valid"], design)
    test = split(frame[frame["split"] == "test"], design)
    labelled = {**counts, "train": len(train.y), "valid": len(valid.y), "test": len(test.y)}
    _check_outcomes({"train": train, "valid": valid, "test": test})

    exp_id = tracking.experiment(cfg)
    with mlflow.start_run(experiment_id=exp_id, run_name=f"train-{cfg.last_label_month}") as run:
        tracking.log_setup(cfg, design, scheme, labelled, rows.split)

        say("tuning")
        log_trial = tracking.trial_logger(exp_id)
        best, n_trials = tune(cfg, train, valid, constraints, list(design.levels), log_trial)
        tracking.log_tuning(best, n_trials)

        say("final model")
        params = gbm.lgb_params(
            best, cfg.seed, cfg.lightgbm.threads, constraints, list(design.levels)
        )
        booster = gbm.train(train.x, train.y, train.w, params, best["n_estimators"])
        cal = calibration.fit(cfg.calibration, gbm.predict_raw(booster, valid.x), valid.y, valid.w)
        # class_bands.fit: bands fitted on the population's scores; the test figures use them
        scheme, fitted = fit_class_bands(
            cfg, scheme, features_dir, (frame, train_frame), design, (booster, cal)
        )
        prob_valid = cal(gbm.predict_raw(booster, valid.x))
        prob_test = cal(gbm.predict_raw(booster, test.x))
        oracle_p = oracle_scores(truth, test) if truth is not None else None
        oracle_auc = weighted_auc(test.y, oracle_p, test.w) if oracle_p is not None else None
        split_figures = rows.split.to_dict()
        if rows.split.mode == "grouped_cv":
            say("cross-validation")
            split_figures["cv"] = out_of_fold(cfg, rows, design, best, constraints)
            tracking.log_cross_validation(split_figures["cv"])

        say("baselines")
        results = {
            "lightgbm": evaluate("lightgbm", test, prob_test, scheme, cfg.score_scale, oracle_auc)
        }
        results |= baselines(
            cfg,
            scheme,
            weights,
            design,
            params,
            best["n_estimators"],
            (train, valid, test),
            oracle_auc,
        )

        say("sector models")
        sectors, kept, prob_final = sector_models(
            cfg,
            best,
            constraints,
            list(design.levels),
            booster,
            (train, valid, test),
            prob_valid,
            prob_test,
        )
        if kept:
            results["general_plus_sector"] = evaluate(
                "general_plus_sector", test, prob_final, scheme, cfg.score_scale, oracle_auc
            )

        metrics = TrainMetrics(
            labelled=labelled,
            trials=n_trials,
            oracle_auc=oracle_auc,
            models=results,
            sectors=sectors,
            class_scheme=scheme.name,
            deployed="general_plus_sector" if "general_plus_sector" in results else "lightgbm",
        )
        metrics.split = split_figures  # the card and the bundle's meta say how it was split
        say("plain baseline")  # issue 18: never lose to a plain GBM on simple aggregates
        prob_plain = plain_baseline(
            cfg, interim, scheme, (train, valid, test), prob_final, oracle_auc, metrics
        )
        # issue 19: every test AUC with its interval, on the plain baseline's resamples
        metrics.intervals = auc_intervals(
            test.y,
            test.w,
            {
                "deployed": prob_final,
                **({"plain_gbm": prob_plain} if prob_plain is not None else {}),
                "indicator_score": indicator_score(test.frame, weights),
                **({"oracle": oracle_p} if oracle_p is not None else {}),
            },
            cfg.plain_baseline.bootstrap,
            cfg.plain_baseline.confidence,
            cfg.seed,
        )
        tracking.log_test_metrics(metrics)

        say("registering")
        version = tracking.register(
            cfg,
            run.info.run_id,
            scheme,
            metrics,
            design,
            (booster, cal, kept),
            (test, prob_test),
            best,
            catalog,
            absent,
            derived,
            class_bands=fitted,
        )
        mlflow.set_tag("model_version", version)

    metrics.model_version = version
    if metrics_out is not None:
        write_json(metrics.figures().to_dict(), metrics_out)
    return TrainResult(
        version,
        run.info.run_id,
        metrics,
        {k: best[k] for k in HYPER},
        n_trials,
        labelled,
        time.perf_counter() - t_start,
        booster.model_to_string(),
    )


def _check_outcomes(parts: dict[str, Split]) -> None:
    """Each part of the split must hold both outcomes (AUC, calibration need them)."""
    for name, s in parts.items():
        if len(np.unique(s.y)) < 2:
            raise TrainError(
                f"train: the {name} months hold {len(s.y)} inspections of one outcome only"
            )
