"""MLflow for a training run: the experiment, what the run logs (parameters, label counts,
trials as nested runs, test-month metrics), and the registered version (the bundle of
artifacts classify loads, `pipelines.bundle.load_bundle`; the model with its signature,
registered as ``@challenger``)."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd

from features.derived import DerivedSpec
from models import calibration, gbm
from models.classes import ClassScheme, FittedBands
from models.config import ModelConfig
from pipelines.frames import SplitInfo
from pipelines.results import TrainMetrics, finite
from pipelines.train.card import model_card
from pipelines.train.data import Split
from pipelines.train.plots import plots
from pipelines.train.tuning import HYPER


def experiment(cfg: ModelConfig) -> str:
    """The id of the configuration's experiment, created on first use."""
    import mlflow

    mlflow.set_tracking_uri(cfg.mlflow.tracking_uri)
    exp = mlflow.get_experiment_by_name(cfg.mlflow.experiment)
    if exp is not None:
        return str(exp.experiment_id)
    return str(
        mlflow.create_experiment(
            cfg.mlflow.experiment,
            artifact_location=Path(cfg.mlflow.artifact_root).resolve().as_uri(),
        )
    )


def log_setup(
    cfg: ModelConfig,
    design: gbm.Design,
    scheme: ClassScheme,
    labelled: dict[str, int],
    split: SplitInfo | None = None,
) -> None:
    """The run's parameters (what the version was trained with: label months, label kinds,
    the split and, for a labelled snapshot, its file, SHA-256 and counts) and label counts."""
    import mlflow

    snapshot = split is not None and split.source.get("source") == "snapshot"
    mlflow.log_params(
        {
            "seed": cfg.seed,
            "label_months": f"{cfg.first_label_month}..{cfg.last_label_month}",
            "valid_months": cfg.valid_months,
            "test_months": cfg.test_months,
            "train_on": "snapshot" if snapshot else ",".join(cfg.train_on),
            "use_targeted": cfg.use_targeted and not snapshot,
            "weighting": "snapshot weights (1 if none)" if snapshot else "1/inclusion_probability",
            "features": len(design.features),
            "class_scheme": scheme.name,
            **(split.params() if split is not None else {}),
        }
    )
    mlflow.log_dict(labelled, "labels.json")


def log_cross_validation(cv: Mapping[str, Any]) -> None:
    """Grouped cross-validation's out-of-fold AUCs (`pipelines.train.crossval`)."""
    import mlflow

    figures = {"cv_auc_mean": cv["auc_mean"], "cv_auc_pooled": cv["auc_pooled"]}
    figures |= {f"cv_auc_fold_{i}": a for i, a in enumerate(cv["auc_per_fold"])}
    mlflow.log_metrics({k: float(v) for k, v in figures.items() if np.isfinite(v)})


def trial_logger(exp_id: str) -> Callable[[int, dict[str, Any], float, str], None]:
    """Each tuning trial as a nested run: its hyperparameters, state and validation loss."""
    import mlflow

    def log_trial(number: int, hyper: dict[str, Any], loss: float, state: str) -> None:
        with mlflow.start_run(experiment_id=exp_id, run_name=f"trial-{number:03d}", nested=True):
            mlflow.log_params({k: hyper[k] for k in HYPER})
            mlflow.set_tag("state", state)
            if state == "complete":
                mlflow.log_metric("valid_weighted_logloss", loss)

    return log_trial


def log_tuning(best: dict[str, Any], trials: int) -> None:
    import mlflow

    mlflow.log_params({f"best_{k}": best[k] for k in HYPER})
    mlflow.log_metric("trials", trials)


def log_test_metrics(metrics: TrainMetrics) -> None:
    """Every model's finite test-month figures as ``test_<model>_<figure>``; ``deployed``:
    what classify will run (the general model, with the sector models kept)."""
    import mlflow

    logged = {**metrics.models, "deployed": metrics.models[metrics.deployed]}
    for model, r in logged.items():
        for k in ("auc", "logloss", "brier", "auc_fraction_of_oracle"):
            value = getattr(r, k)
            if value is not None and np.isfinite(value):
                mlflow.log_metric(f"test_{model}_{k}", float(value))
        for c, v in r.hit_rates.items():
            if np.isfinite(v.hit_rate):
                mlflow.log_metric(f"test_{model}_hit_rate_{c}", v.hit_rate)
    if metrics.plain is not None:  # the judgement against the plain baseline (promote reads it)
        mlflow.log_metrics({k: v for k, v in metrics.plain.to_metrics().items() if np.isfinite(v)})
        mlflow.set_tag("plain_baseline", "lost" if metrics.plain.lost else "not worse")


def register(
    cfg: ModelConfig,
    run_id: str,
    scheme: ClassScheme,
    metrics: TrainMetrics,
    design: gbm.Design,
    model: tuple[lgb.Booster, calibration.Calibrator, dict[str, lgb.Booster]],
    test: tuple[Split, np.ndarray],
    best: dict[str, Any],
    catalog: str | None,
    absent: Mapping[str, str] | None = None,
    derived: DerivedSpec | None = None,
    class_bands: FittedBands | None = None,
) -> str:
    """Log the bundle (boosters, calibrators, design, model card, plots) as the run's
    ``bundle`` artifacts and register the general model as ``@challenger``; its version.
    ``absent``: the contract tables the feature files lacked (table -> reason), for the card;
    ``class_bands``: the score bands fitted at training (meta ``class_bands``), if any."""
    import mlflow

    booster, cal, sector_boosters = model
    split, prob_test = test
    with tempfile.TemporaryDirectory() as tmp:
        bundle = Path(tmp) / "bundle"
        bundle.mkdir()
        (bundle / "general.txt").write_text(booster.model_to_string(), encoding="utf-8")
        meta: dict[str, Any] = {
            "design": design.to_dict(),
            "calibrator": cal.to_dict(),
            "score_scale": cfg.score_scale,
            "catalog_fingerprint": catalog,
            # the features derived from the bureau's own columns (their names, meaning, SQL)
            **({"derived": derived.to_json()} if derived else {}),
            "label_months": [cfg.first_label_month, cfg.last_label_month],
            # out_of_time or grouped_cv, the fold rule, the labels' source (a snapshot's SHA-256)
            "split": finite(metrics.split),
            "sector_rule": cfg.sector_rule,
            "sectors": [],  # in config order: classify applies them in this order
            "params": {k: best[k] for k in HYPER},
            # score bands fitted on the population (`pipelines.bundle.Bundle.scheme`)
            **({"class_bands": class_bands.model_dump(mode="json")} if class_bands else {}),
        }
        for name, sec in metrics.sectors.items():
            if sec.used:
                (bundle / f"sector_{name}.txt").write_text(
                    sector_boosters[name].model_to_string(), encoding="utf-8"
                )
                meta["sectors"].append(
                    {"name": name, "flag": sec.flag, "calibrator": sec.calibrator}
                )
        if metrics.plain_model is not None:  # the plain baseline: verify rescores it
            plain = metrics.plain_model
            (bundle / "plain.txt").write_text(plain.booster.model_to_string(), encoding="utf-8")
            (bundle / "plain_design.json").write_text(
                json.dumps(finite(plain.design_dict()), indent=2, sort_keys=True),
                encoding="utf-8",
            )
        if metrics.plain is not None:
            meta["plain_baseline"] = finite(metrics.plain.to_dict())
        (bundle / "meta.json").write_text(
            json.dumps(meta, indent=2, sort_keys=True), encoding="utf-8"
        )
        (bundle / "model_card.md").write_text(
            model_card(
                cfg, scheme, metrics.labelled, metrics, design, absent, derived, class_bands
            ),
            encoding="utf-8",
        )
        plots(bundle, split, prob_test, metrics.models, scheme, cfg.score_scale)
        mlflow.log_artifacts(str(bundle), "bundle")
        mlflow.log_artifact(str(bundle / "model_card.md"))
        return _register(cfg, booster, split.x, run_id)


def _register(cfg: ModelConfig, booster: lgb.Booster, x_test: pd.DataFrame, run_id: str) -> str:
    """Log the general model with signature and input example; register it as `challenger`."""
    import mlflow
    import mlflow.lightgbm
    from mlflow import MlflowClient
    from mlflow.models import infer_signature

    example = _example(x_test)
    signature = infer_signature(example, booster.predict(x_test.head(5)))
    info = mlflow.lightgbm.log_model(
        booster,
        name="model",
        signature=signature,
        input_example=example,
        registered_model_name=cfg.mlflow.registered_model,
    )
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
