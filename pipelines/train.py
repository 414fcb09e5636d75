"""Stage `train`: learn from double-random inspection outcomes, tune, calibrate, compare with
baselines, add sector models, and register the result in MLflow as the `challenger`.

Every inspection of month M is paired with the features of the month end before M and
weighted 1/p (p = its inclusion probability). Months are split out of time: training, then
`valid_months` (tuning, calibration), then `test_months` (every figure reported). The hidden
truth of the synthetic province is read only here, only for evaluation (oracle AUC), and
only when `--truth` is given.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from features.definitions import BY_NAME, CATALOG
from contract.months import months_between
from models import calibration, gbm
from models.baselines import IndicatorWeights, indicator_score, logistic
from models.classes import ClassScheme, assign, check_features, class_order
from models.config import ModelConfig
from models.data import label_frames, split_by_month
from models.metrics import hit_rates, increasing, weighted_auc, weighted_brier, weighted_logloss
from pipelines.config import load_config
from pipelines.io import write_json

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DO_NOT_TRACK", "1")

HYPER = (
    "num_leaves",
    "max_depth",
    "learning_rate",
    "n_estimators",
    "min_child_samples",
    "reg_lambda",
)


class TrainError(ValueError):
    """Training cannot proceed (missing feature months, too few labels ...)."""


@dataclass
class Split:
    frame: pd.DataFrame  # features + labels
    x: pd.DataFrame
    y: np.ndarray
    w: np.ndarray


@dataclass
class TrainResult:
    version: str
    run_id: str
    metrics: dict[str, Any]
    best_params: dict[str, Any]
    trials: int
    labelled: dict[str, int]
    seconds: float
    model_string: str = field(repr=False, default="")


# ------------------------------------------------------------------ data
def load_training_frame(
    features_dir: Path, labels: pd.DataFrame
) -> tuple[pd.DataFrame, dict[str, int], str | None]:
    """Labels joined to the features of their month; counts reconcile (every label is used or
    counted as having no feature row, e.g. an enterprise established in the label month).
    Also returns the catalog fingerprint the feature files were built with."""
    parts = []
    catalogs = set()
    for month, group in labels.groupby("feature_month", sort=True):
        path = Path(features_dir) / f"{month}.parquet"
        if not path.is_file():
            raise TrainError(
                f"train: features for {month} are missing ({path}); build them with "
                f"`riskclass features --from {labels['feature_month'].min()} --to {labels['feature_month'].max()}`"
            )
        meta = pq.read_schema(path).metadata or {}
        catalogs.add(meta.get(b"riskclass.catalog", b"").decode() or None)
        wanted = pc.is_in(
            ds.field("uscc"), value_set=pc.unique(pc.cast(group["uscc"].to_numpy(), "string"))
        )
        feats = ds.dataset(path).to_table(filter=wanted).to_pandas()
        parts.append(group.merge(feats, on="uscc", how="inner"))
    frame = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    counts = {
        "labels": len(labels),
        "used": len(frame),
        "without_features": len(labels) - len(frame),
    }
    if len(catalogs) > 1:
        raise TrainError(
            f"train: the feature files in {features_dir} were built by different catalogs "
            f"({sorted(map(str, catalogs))}); rebuild them with one `riskclass features` run"
        )
    frame = frame.sort_values(["month", "inspection_id"]).reset_index(drop=True)
    return frame, counts, next(iter(catalogs), None)


def _split(frame: pd.DataFrame, design: gbm.Design) -> Split:
    return Split(
        frame, gbm.matrix(frame, design), frame["y"].to_numpy(), frame["weight"].to_numpy()
    )


# ------------------------------------------------------------------ tuning
def tune(
    cfg: ModelConfig,
    train: Split,
    valid: Split,
    constraints: list[int],
    categorical: list[str],
    log_trial: Callable[[int, dict[str, Any], float, str], None],
) -> tuple[dict[str, Any], int]:
    """Optuna TPE (seeded) on the validation months' weighted log-loss, median pruning."""
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
                train.x, train.y, train.w, params, hyper["n_estimators"],
                valid=(valid.x, valid.y, valid.w), on_iteration=report,
            )  # fmt: skip
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


# ------------------------------------------------------------------ evaluation
def evaluate(
    name: str,
    test: Split,
    prob: np.ndarray,
    scheme: ClassScheme,
    scale: int,
    oracle_auc: float | None,
    rank_score: np.ndarray | None = None,
) -> dict[str, Any]:
    """Test-month metrics of one model: weighted AUC, log-loss, Brier, hit rate by class."""
    score = calibration.to_score(prob, scale)
    classes = assign(
        pd.DataFrame({"uscc": test.frame["uscc"], "score": score, "probability": prob}),
        scheme.model_copy(update={"overrides": ()}),
    )["class_model"].to_numpy()
    order = class_order(scheme)
    auc = weighted_auc(test.y, prob if rank_score is None else rank_score, test.w)
    rates = hit_rates(test.y, classes, test.w, order)
    out: dict[str, Any] = {
        "model": name,
        "auc": auc,
        "logloss": weighted_logloss(test.y, prob, test.w),
        "brier": weighted_brier(test.y, prob, test.w),
        "hit_rates": rates,
        "hit_rates_increasing": increasing(rates, order),
    }
    if oracle_auc is not None:
        out["auc_fraction_of_oracle"] = auc / oracle_auc
    return out


def oracle(truth: Path, test: Split) -> float:
    """Weighted AUC of the simulator's true problem probability on the test inspections."""
    t = pq.read_table(
        Path(truth) / "inspections", columns=["inspection_id", "p_problem"]
    ).to_pandas()
    p = test.frame[["inspection_id"]].merge(t, on="inspection_id", how="left")["p_problem"]
    if p.isna().any():
        raise TrainError("train: --truth does not cover every test inspection (another province?)")
    return weighted_auc(test.y, p.to_numpy(), test.w)


# ------------------------------------------------------------------ the stage
def labelled_frames(
    cfg: ModelConfig, features_dir: Path, inspections: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, int], str | None]:
    """The double-random inspections of the label months with the features of the month
    before, each row tagged ``split`` (train / valid / test, out of time); the training rows
    (targeted inspections added when the config says so); counts that reconcile; and the
    catalog fingerprint of the feature files."""
    random, targeted = label_frames(inspections, cfg.first_label_month, cfg.last_label_month)
    if random.empty:
        raise TrainError(
            f"train: no double-random inspection between {cfg.first_label_month} and {cfg.last_label_month}"
        )
    frame, counts, catalog = load_training_frame(features_dir, random)
    split = split_by_month(
        months_between(cfg.first_label_month, cfg.last_label_month),
        cfg.valid_months,
        cfg.test_months,
    )
    frame["split"] = frame["month"].map(split)
    train_frame = frame[frame["split"] == "train"]
    if cfg.use_targeted:
        tframe, _, _ = load_training_frame(features_dir, targeted)
        tframe = tframe[tframe["month"].map(split) == "train"]
        train_frame = pd.concat([train_frame, tframe], ignore_index=True)
        counts["targeted_used"] = len(tframe)
    counts["targeted_available"] = len(targeted)
    return frame, train_frame, counts, catalog


def run_train(
    cfg: ModelConfig,
    features_dir: Path,
    interim: Path,
    truth: Path | None = None,
    metrics_out: Path | None = None,
    progress: Callable[[str], None] | None = None,
) -> TrainResult:
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
    weights = load_config(cfg.indicator_weights, IndicatorWeights)

    inspections = pq.read_table(Path(interim) / "inspections.parquet").to_pandas()
    say("reading features")
    frame, train_frame, counts, catalog = labelled_frames(cfg, features_dir, inspections)
    design = gbm.fit_design(train_frame, CATALOG)
    constraints = gbm.monotone(design, CATALOG)
    train = _split(train_frame, design)
    valid = _split(frame[frame["split"] == "valid"], design)
    test = _split(frame[frame["split"] == "test"], design)
    labelled = {**counts, "train": len(train.y), "valid": len(valid.y), "test": len(test.y)}
    for name, s in (("train", train), ("valid", valid), ("test", test)):
        if len(np.unique(s.y)) < 2:
            raise TrainError(
                f"train: the {name} months hold {len(s.y)} inspections of one outcome only"
            )

    mlflow.set_tracking_uri(cfg.mlflow.tracking_uri)
    exp = mlflow.get_experiment_by_name(cfg.mlflow.experiment)
    exp_id = (
        exp.experiment_id
        if exp is not None
        else mlflow.create_experiment(
            cfg.mlflow.experiment,
            artifact_location=Path(cfg.mlflow.artifact_root).resolve().as_uri(),
        )
    )
    with mlflow.start_run(experiment_id=exp_id, run_name=f"train-{cfg.last_label_month}") as run:
        mlflow.log_params(
            {
                "seed": cfg.seed,
                "label_months": f"{cfg.first_label_month}..{cfg.last_label_month}",
                "valid_months": cfg.valid_months,
                "test_months": cfg.test_months,
                "use_targeted": cfg.use_targeted,
                "weighting": "1/inclusion_probability",
                "features": len(design.features),
                "class_scheme": scheme.name,
            }
        )
        mlflow.log_dict(labelled, "labels.json")

        def log_trial(number: int, hyper: dict[str, Any], loss: float, state: str) -> None:
            with mlflow.start_run(
                experiment_id=exp_id, run_name=f"trial-{number:03d}", nested=True
            ):
                mlflow.log_params({k: hyper[k] for k in HYPER})
                mlflow.set_tag("state", state)
                if state == "complete":
                    mlflow.log_metric("valid_weighted_logloss", loss)

        say("tuning")
        best, n_trials = tune(cfg, train, valid, constraints, list(design.levels), log_trial)
        mlflow.log_params({f"best_{k}": best[k] for k in HYPER})
        mlflow.log_metric("trials", n_trials)

        say("final model")
        params = gbm.lgb_params(
            best, cfg.seed, cfg.lightgbm.threads, constraints, list(design.levels)
        )
        booster = gbm.train(train.x, train.y, train.w, params, best["n_estimators"])
        cal = calibration.fit(cfg.calibration, gbm.predict_raw(booster, valid.x), valid.y, valid.w)
        prob_valid = cal(gbm.predict_raw(booster, valid.x))
        prob_test = cal(gbm.predict_raw(booster, test.x))
        oracle_auc = oracle(truth, test) if truth is not None else None

        say("baselines")
        results = {}
        results["lightgbm"] = evaluate(
            "lightgbm", test, prob_test, scheme, cfg.score_scale, oracle_auc
        )
        # (a) the weighted indicator score, made a probability on the validation months
        ind_cal = calibration.fit(
            "isotonic", indicator_score(valid.frame, weights), valid.y, valid.w
        )
        ind_test = indicator_score(test.frame, weights)
        results["indicator_score"] = evaluate(
            "indicator_score",
            test,
            ind_cal(ind_test),
            scheme,
            cfg.score_scale,
            oracle_auc,
            ind_test,
        )
        # (b) logistic regression on scaled features
        lr = logistic(design, cfg.seed).fit(train.x, train.y, lr__sample_weight=train.w)
        lr_cal = calibration.fit(cfg.calibration, lr.predict_proba(valid.x)[:, 1], valid.y, valid.w)
        results["logistic"] = evaluate(
            "logistic",
            test,
            lr_cal(lr.predict_proba(test.x)[:, 1]),
            scheme,
            cfg.score_scale,
            oracle_auc,
        )
        # (c) the same LightGBM ignoring the sampling design (no 1/p weights anywhere)
        unw = gbm.train(train.x, train.y, None, params, best["n_estimators"])
        unw_cal = calibration.fit(
            cfg.calibration, gbm.predict_raw(unw, valid.x), valid.y, np.ones(len(valid.y))
        )
        results["lightgbm_unweighted"] = evaluate(
            "lightgbm_unweighted",
            test,
            unw_cal(gbm.predict_raw(unw, test.x)),
            scheme,
            cfg.score_scale,
            oracle_auc,
        )

        say("sector models")
        sectors, prob_final = _sector_models(
            cfg, best, constraints, list(design.levels), booster, train, valid, test,
            prob_valid, prob_test,
        )  # fmt: skip
        if any(s["used"] for s in sectors.values()):
            results["general_plus_sector"] = evaluate(
                "general_plus_sector", test, prob_final, scheme, cfg.score_scale, oracle_auc
            )

        metrics = {
            "labelled": labelled,
            "trials": n_trials,
            "oracle_auc": oracle_auc,
            "models": results,
            "sectors": {
                k: {kk: vv for kk, vv in v.items() if kk != "booster"} for k, v in sectors.items()
            },
            "class_scheme": scheme.name,
            "deployed": "general_plus_sector" if "general_plus_sector" in results else "lightgbm",
        }
        # what classify will run: the general model, with the sector models kept
        results_logged = {
            **results,
            "deployed": results.get("general_plus_sector", results["lightgbm"]),
        }
        for model, r in results_logged.items():
            for k in ("auc", "logloss", "brier", "auc_fraction_of_oracle"):
                if k in r and r[k] is not None and np.isfinite(r[k]):
                    mlflow.log_metric(f"test_{model}_{k}", float(r[k]))
            for c, v in r["hit_rates"].items():
                if np.isfinite(v["hit_rate"]):
                    mlflow.log_metric(f"test_{model}_hit_rate_{c}", v["hit_rate"])

        say("registering")
        with tempfile.TemporaryDirectory() as tmp:
            bundle = Path(tmp) / "bundle"
            bundle.mkdir()
            (bundle / "general.txt").write_text(booster.model_to_string(), encoding="utf-8")
            meta: dict[str, Any] = {
                "design": design.to_dict(),
                "calibrator": cal.to_dict(),
                "score_scale": cfg.score_scale,
                "catalog_fingerprint": catalog,
                "label_months": [cfg.first_label_month, cfg.last_label_month],
                "sector_rule": cfg.sector_rule,
                "sectors": [],  # in config order: classify applies them in this order
                "params": {k: best[k] for k in HYPER},
            }
            for name, sec in sectors.items():
                if sec["used"]:
                    (bundle / f"sector_{name}.txt").write_text(
                        sec["booster"].model_to_string(), encoding="utf-8"
                    )
                    meta["sectors"].append(
                        {"name": name, "flag": sec["flag"], "calibrator": sec["calibrator"]}
                    )
            (bundle / "meta.json").write_text(
                json.dumps(meta, indent=2, sort_keys=True), encoding="utf-8"
            )
            (bundle / "model_card.md").write_text(
                model_card(cfg, scheme, labelled, metrics, design), encoding="utf-8"
            )
            _plots(bundle, test, prob_test, results, scheme, cfg.score_scale)
            mlflow.log_artifacts(str(bundle), "bundle")
            mlflow.log_artifact(str(bundle / "model_card.md"))
            version = _register(cfg, booster, test.x, run.info.run_id)
        mlflow.set_tag("model_version", version)

    metrics["model_version"] = version
    if metrics_out is not None:
        write_json(_for_dvc(metrics), metrics_out)
    return TrainResult(
        version, run.info.run_id, metrics, {k: best[k] for k in HYPER}, n_trials, labelled,
        time.perf_counter() - t_start, booster.model_to_string(),
    )  # fmt: skip


def _sector_models(
    cfg: ModelConfig,
    best: dict[str, Any],
    constraints: list[int],
    categorical: list[str],
    general: Any,
    train: Split,
    valid: Split,
    test: Split,
    prob_valid: np.ndarray,
    prob_test: np.ndarray,
) -> tuple[dict[str, dict[str, Any]], np.ndarray]:
    """Train each sector model on its sector's inspections; keep it only if it beats the
    general model on the sector's validation months (weighted AUC; the test months only
    report the result); combine by `sector_rule` (``boost``: trees grown on the general
    model's margin; ``replace``; ``average`` with the general probability). Sectors apply
    in config order: an enterprise in two sectors gets the later one."""
    out: dict[str, dict[str, Any]] = {}
    prob = prob_test.copy()
    oof: np.ndarray | None = None  # general-model margins on training rows, out of fold
    for sector in cfg.sectors:
        m_tr, m_va, m_te = (s.frame[sector.flag].to_numpy() == 1 for s in (train, valid, test))
        row: dict[str, Any] = {"flag": sector.flag, "train_inspections": int(m_tr.sum()),
                               "test_inspections": int(m_te.sum()), "used": False}  # fmt: skip
        least = sector.min_holdout_inspections
        if (
            m_tr.sum() < sector.min_inspections
            or m_va.sum() < least
            or m_te.sum() < least
            or len(np.unique(train.y[m_tr])) < 2
            or len(np.unique(valid.y[m_va])) < 2
        ):
            row["reason"] = (
                f"too few inspections (needs {sector.min_inspections} in training, "
                f"{least} in each of validation and test)"
            )
            out[sector.name] = row
            continue
        params = gbm.lgb_params(best, cfg.seed, cfg.lightgbm.threads, constraints, categorical)
        if cfg.sector_rule == "boost":
            if oof is None:
                oof = _out_of_fold_margin(train, params, best["n_estimators"])
            booster = gbm.train(
                train.x[m_tr], train.y[m_tr], train.w[m_tr], params, cfg.sector_rounds,
                init_score=oof[m_tr],
            )  # fmt: skip

            def raw(x: pd.DataFrame, b: Any = booster) -> np.ndarray:
                return gbm.sigmoid(gbm.predict_margin(general, x) + gbm.predict_margin(b, x))
        else:
            booster = gbm.train(
                train.x[m_tr], train.y[m_tr], train.w[m_tr], params, best["n_estimators"]
            )

            def raw(x: pd.DataFrame, b: Any = booster) -> np.ndarray:
                return gbm.predict_raw(b, x)

        cal = calibration.fit(cfg.calibration, raw(valid.x[m_va]), valid.y[m_va], valid.w[m_va])

        def blend(p_sec: np.ndarray, p_gen: np.ndarray) -> np.ndarray:
            return (p_sec + p_gen) / 2 if cfg.sector_rule == "average" else p_sec

        # the choice is made on the validation months; the test months only report it
        yv, wv = valid.y[m_va], valid.w[m_va]
        p_valid = blend(cal(raw(valid.x[m_va])), prob_valid[m_va])
        p_sector = blend(cal(raw(test.x[m_te])), prob_test[m_te])
        y, w = test.y[m_te], test.w[m_te]
        row.update(
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
        row["used"] = bool(row["valid_sector_auc"] > row["valid_general_auc"])
        row["reason"] = (
            "beats the general model on the validation months"
            if row["used"]
            else "does not beat the general model on the validation months"
        )
        if row["used"]:
            row["booster"] = booster
            row["calibrator"] = cal.to_dict()
            prob[m_te] = p_sector
        out[sector.name] = row
    return out, prob


def _out_of_fold_margin(
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


def _register(cfg: ModelConfig, booster: Any, x_test: pd.DataFrame, run_id: str) -> str:
    """Log the general model with signature and input example; register it as `challenger`."""
    import mlflow
    import mlflow.lightgbm
    from mlflow import MlflowClient
    from mlflow.models import infer_signature

    example = _example(x_test)
    signature = infer_signature(example, booster.predict(x_test.head(5)))
    info = mlflow.lightgbm.log_model(
        booster, name="model", signature=signature, input_example=example,
        registered_model_name=cfg.mlflow.registered_model,
    )  # fmt: skip
    version = str(info.registered_model_version)
    client = MlflowClient()
    client.set_model_version_tag(cfg.mlflow.registered_model, version, "run_id", run_id)
    client.set_registered_model_alias(cfg.mlflow.registered_model, "challenger", version)
    return version


def _example(x: pd.DataFrame) -> pd.DataFrame:
    """A few real rows in which every column has a value at least once (a column that is all
    missing would round-trip through JSON as text, and the example would not validate)."""
    rows = [0]
    for col in x.columns:
        have = x[col].notna().to_numpy()
        if have.any() and not have[rows].any():
            rows.append(int(np.argmax(have)))
    return x.iloc[sorted(set(rows))]


def _for_dvc(metrics: dict[str, Any]) -> dict[str, Any]:
    """The figures `dvc metrics show` lists: flat numbers per model."""
    flat: dict[str, Any] = {"trials": metrics["trials"], "oracle_auc": metrics["oracle_auc"]}
    flat["labelled"] = metrics["labelled"]
    for model, r in metrics["models"].items():
        flat[model] = {
            "auc": r["auc"],
            "logloss": r["logloss"],
            "auc_fraction_of_oracle": r.get("auc_fraction_of_oracle"),
            "hit_rates": {c: v["hit_rate"] for c, v in r["hit_rates"].items()},
        }
    return _finite(flat)


def _finite(x: Any) -> Any:
    """NaN and infinities become null (JSON has no NaN)."""
    if isinstance(x, dict):
        return {k: _finite(v) for k, v in x.items()}
    if isinstance(x, (float, np.floating)):
        return float(x) if np.isfinite(x) else None
    return x


def model_card(
    cfg: ModelConfig,
    scheme: ClassScheme,
    labelled: dict[str, int],
    metrics: dict[str, Any],
    design: gbm.Design,
) -> str:
    order = class_order(scheme)
    lines = [
        "# Model card: enterprise credit risk (企业信用风险分类)",
        "",
        "内部参考，不作为对企业的信用评价，不得对外公开 / internal reference only.",
        "",
        "## Data",
        f"- Labels: double-random inspections of {cfg.first_label_month} .. {cfg.last_label_month}; "
        "label = a problem was found; features of the month end before each inspection.",
        f"- Weighting: 1 / inclusion probability of each draw (Horvitz-Thompson); targeted inspections "
        f"{'also used in training (weight 1)' if cfg.use_targeted else 'not used'}; never used for evaluation.",
        f"- Split, out of time: the last {cfg.test_months} months are the test set (every figure below), "
        f"the {cfg.valid_months} before them tune and calibrate.",
        f"- Inspections: {json.dumps(labelled)}",
        f"- Features: {len(design.features)} from the five information groups (docs/features.md); "
        "monotone constraints from the catalog's directions; missing values native.",
        "",
        "## Test-month results (weighted by 1/p)",
        "",
        "| model | AUC | of oracle | log-loss | "
        + " | ".join(f"hit rate {c}" for c in order)
        + " |",
        "| --- | --- | --- | --- | " + " | ".join("---" for _ in order) + " |",
    ]
    for name, r in metrics["models"].items():
        frac = r.get("auc_fraction_of_oracle")
        rates = " | ".join(
            "–" if r["hit_rates"][c]["inspections"] == 0
            else f"{r['hit_rates'][c]['hit_rate']:.1%} (n={r['hit_rates'][c]['inspections']})"
            for c in order
        )  # fmt: skip
        lines.append(
            f"| {name} | {r['auc']:.3f} | {'' if frac is None else f'{frac:.1%}'} | {r['logloss']:.3f} | {rates} |"
        )
    lines += [
        "",
        "## Sector models (一般 + 专业)",
        "",
    ]
    for name, s in metrics["sectors"].items():
        lines.append(
            f"- {name}: {s.get('reason')} ({json.dumps({k: v for k, v in s.items() if k != 'reason'}, default=str)})"
        )
    lines += [
        "",
        "## Limitations",
        "- Hit rates are estimated from the inspections drawn; classes with few inspections have wide intervals.",
        "- The synthetic province's figures are not a real bureau's; check them on your own verification report.",
        "- The score ranks enterprises for inspection; it is not a credit rating and must not be published.",
    ]
    return "\n".join(lines) + "\n"


def _plots(
    folder: Path,
    test: Split,
    prob: np.ndarray,
    results: dict[str, Any],
    scheme: ClassScheme,
    scale: int,
) -> None:
    # Figure objects, not pyplot: no global backend switch in the caller's process (a
    # notebook that trains keeps its inline plots)
    from matplotlib.figure import Figure
    from sklearn.metrics import roc_curve

    def subplots(size: tuple[float, float]) -> tuple[Figure, Any]:
        fig = Figure(figsize=size)
        return fig, fig.add_subplot()

    fig, ax = subplots((5, 5))
    fpr, tpr, _ = roc_curve(test.y, prob, sample_weight=test.w)
    ax.plot(fpr, tpr, label=f"LightGBM (AUC {results['lightgbm']['auc']:.3f})")
    ax.plot([0, 1], [0, 1], ls=":", c="grey")
    ax.set(
        xlabel="false positive rate",
        ylabel="true positive rate",
        title="ROC, test months (1/p weighted)",
    )
    ax.legend(loc="lower right")
    fig.savefig(folder / "roc.png", dpi=100)

    fig, ax = subplots((5, 5))
    bins = np.quantile(prob, np.linspace(0, 1, 11))
    idx = np.clip(np.searchsorted(bins, prob, side="right") - 1, 0, 9)
    xs, ys = [], []
    for b in range(10):
        m = idx == b
        if m.any():
            xs.append(np.average(prob[m], weights=test.w[m]))
            ys.append(np.average(test.y[m], weights=test.w[m]))
    ax.plot(xs, ys, "o-", label="LightGBM")
    ax.plot([0, 1], [0, 1], ls=":", c="grey")
    ax.set(
        xlabel="predicted probability", ylabel="observed hit rate", title="Calibration, test months"
    )
    fig.savefig(folder / "calibration.png", dpi=100)

    order = class_order(scheme)
    fig, ax = subplots((6, 4))
    width = 0.8 / max(len(results), 1)
    for i, (name, r) in enumerate(results.items()):
        vals = [r["hit_rates"][c]["hit_rate"] for c in order]
        ax.bar(np.arange(len(order)) + i * width, np.nan_to_num(vals), width, label=name)
    ax.set_xticks(np.arange(len(order)) + width * (len(results) - 1) / 2, order)
    ax.set(ylabel="hit rate (1/p weighted)", title="Hit rate by class, test months")
    ax.legend(fontsize=7)
    fig.savefig(folder / "hit_rate_by_class.png", dpi=100)
