"""Score bands that fit the bureau's data (configs/model.yaml ``class_bands``; issue 18).

A class scheme's score bands are a default, set on the synthetic province; on a real bureau's
scores they may put nearly every enterprise in the lowest class. With ``class_bands.fit``,
training scores the whole population of the latest feature month it used and puts the bands
where that population gives the target shares (`models.classes.fit_score_bands`, ties and
capacity as it says). The population is scored by the general model and its calibrator, the
model the run has when the bands are fitted (right after calibration, so that the test-month
class figures of the run are those of the bands deployed); the sector models, trained later,
move the scores of their sectors a little, so classify's shares can differ slightly from the
targets. The version carries the bands (`pipelines.train.tracking.register`, the model card,
MLflow params ``class_band_<code>``) and every stage that classes with it uses them
(`pipelines.bundle.Bundle.scheme`).

Only aggregates leave this module: the bounds and the shares of the classes.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import lightgbm as lgb
import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow.parquet as pq

from models import calibration, gbm
from models.classes import (
    BandFitError,
    ClassScheme,
    FittedBands,
    band_shares,
    check_targets,
    fit_score_bands,
    target_counts,
)
from models.config import ModelConfig
from pipelines.paths import features_file
from pipelines.train.data import TrainError

#: How the fitting population is scored (the card and the bundle meta say so).
SCORED_WITH = "general model and its calibrator (the sector models are trained after the fit)"


def check_class_bands(cfg: ModelConfig, scheme: ClassScheme) -> None:
    """Before training: the bands to fit must fit the scheme (`models.classes.check_targets`),
    so that a wrong ``class_bands`` fails at once, not after the tuning."""
    shares = cfg.class_bands.target_shares
    if not cfg.class_bands.fit or shares is None:
        return
    try:
        check_targets(scheme, shares)
    except BandFitError as exc:
        raise TrainError(f"train: class_bands: {exc}") from None


def fit_class_bands(
    cfg: ModelConfig,
    scheme: ClassScheme,
    features_dir: Path,
    frames: Iterable[pd.DataFrame],
    design: gbm.Design,
    model: tuple[lgb.Booster, calibration.Calibrator],
    batch_rows: int = 200_000,
) -> tuple[ClassScheme, FittedBands | None]:
    """The scheme the run classes with and the bands fitted for it: ``scheme`` and None
    unless ``class_bands.fit``; else the bands fitted on the population of the latest
    ``feature_month`` of ``frames`` (the labelled rows the run read), scored by ``model``
    (general booster, calibrator), logged as MLflow params."""
    shares = cfg.class_bands.target_shares
    if not cfg.class_bands.fit or shares is None:
        return scheme, None
    check_class_bands(cfg, scheme)
    month = max(str(m) for f in frames for m in f["feature_month"].unique())
    path = features_file(features_dir, month)
    scores = population_scores(path, design, model, cfg.score_scale, batch_rows)
    capacity = cfg.class_bands.capacity
    n = len(scores)
    try:
        bands = fit_score_bands(scores, scheme, shares, capacity=capacity)
        counts = target_counts(scheme.method_classes, shares, n, capacity)
    except BandFitError as exc:
        raise TrainError(
            f"train: class_bands: fitting the score bands on the {n:,} enterprises of "
            f"{month} ({path}): {exc}"
        ) from None
    fitted = FittedBands(
        scheme=scheme.name,
        bands=bands,
        target_shares={c: shares[c] for c in scheme.method_classes},
        capacity=capacity,
        targets={c: int(k) / n for c, k in zip(scheme.method_classes, counts, strict=True)},
        fitted_shares=band_shares(scores, bands),
        month=month,
        enterprises=n,
        scored_with=SCORED_WITH,
    )
    _log(fitted)
    return fitted.apply(scheme), fitted


def population_scores(
    path: Path,
    design: gbm.Design,
    model: tuple[lgb.Booster, calibration.Calibrator],
    scale: int,
    batch_rows: int = 200_000,
) -> npt.NDArray[np.float64]:
    """The 0-``scale`` score of every enterprise of a feature file, read in record batches
    of the model's columns only (memory: one batch and one score per enterprise)."""
    booster, cal = model
    if not path.is_file():
        raise TrainError(f"train: class_bands: no feature file {path} to fit the bands on")
    missing = sorted(set(design.features) - set(pq.read_schema(path).names))
    if missing:
        raise TrainError(f"train: class_bands: {path} lacks the columns {', '.join(missing[:10])}")
    parts = [
        calibration.to_score(cal(gbm.predict_raw(booster, gbm.matrix_arrow(batch, design))), scale)
        for batch in pq.ParquetFile(path).iter_batches(
            batch_size=batch_rows, columns=list(design.features)
        )
    ]
    return np.concatenate(parts) if parts else np.empty(0, dtype=np.float64)


def _log(bands: FittedBands) -> None:
    """The fitted bands as the run's parameters (aggregates only)."""
    import mlflow

    mlflow.log_params(
        {
            "class_bands": "fitted",
            "class_bands_month": bands.month,
            "class_bands_enterprises": bands.enterprises,
            "class_bands_capacity": "none" if bands.capacity is None else bands.capacity,
            **{f"class_band_{c}": v for c, v in bands.bands.items()},
            **{f"class_band_{c}_target_share": v for c, v in bands.targets.items()},
        }
    )
