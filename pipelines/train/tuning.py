"""Hyperparameter tuning: Optuna TPE (seeded) on the validation months' weighted log-loss,
median pruning; the configured starting point is the first trial."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from models import gbm
from models.config import ModelConfig
from models.metrics import weighted_logloss
from pipelines.train.data import Split

#: The hyperparameters tuned (and logged, and stored with the bundle).
HYPER = (
    "num_leaves",
    "max_depth",
    "learning_rate",
    "n_estimators",
    "min_child_samples",
    "reg_lambda",
)


def tune(
    cfg: ModelConfig,
    train: Split,
    valid: Split,
    constraints: list[int],
    categorical: list[str],
    log_trial: Callable[[int, dict[str, Any], float, str], None],
) -> tuple[dict[str, Any], int]:
    """The best hyperparameters (the config's with the tuned ones over them) and the number of
    trials run; ``log_trial(number, hyperparameters, loss, state)`` after each trial."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    base = cfg.lightgbm.model_dump()
    if cfg.tuning.trials == 0:
        return base, 0
    t = cfg.tuning

    def objective(trial: optuna.Trial) -> float:
        hyper = {
            **base,
            "num_leaves": trial.suggest_int("num_leaves", *t.num_leaves),
            "max_depth": trial.suggest_int("max_depth", *t.max_depth),
            "learning_rate": trial.suggest_float("learning_rate", *t.learning_rate, log=True),
            "n_estimators": trial.suggest_int("n_estimators", *t.n_estimators, step=25),
            "min_child_samples": trial.suggest_int(
                "min_child_samples", *t.min_child_samples, log=True
            ),
            "reg_lambda": trial.suggest_float("reg_lambda", *t.reg_lambda),
        }

        def report(i: int, loss: float) -> None:
            trial.report(loss, i)
            if trial.should_prune():
                raise optuna.TrialPruned()

        params = gbm.lgb_params(hyper, cfg.seed, cfg.lightgbm.threads, constraints, categorical)
        try:
            booster = gbm.train(
                train.x,
                train.y,
                train.w,
                params,
                hyper["n_estimators"],
                valid=(valid.x, valid.y, valid.w),
                on_iteration=report,
            )
        except optuna.TrialPruned:
            log_trial(trial.number, hyper, float("nan"), "pruned")
            raise
        loss = weighted_logloss(valid.y, gbm.predict_raw(booster, valid.x), valid.w)
        log_trial(trial.number, hyper, loss, "complete")
        return loss

    sampler = optuna.samplers.TPESampler(seed=cfg.seed)
    pruner = optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=50)
    study = optuna.create_study(direction="minimize", sampler=sampler, pruner=pruner)
    study.enqueue_trial({k: base[k] for k in HYPER})  # the configured starting point first
    study.optimize(objective, n_trials=t.trials, timeout=t.timeout_seconds)  # None: trials decide
    return {**base, **study.best_params}, len(study.trials)
