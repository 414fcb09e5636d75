"""Baselines the model must beat, trained on the same split with the same weights."""

from __future__ import annotations

from typing import Annotated

import numpy as np
import numpy.typing as npt
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from models.gbm import Design


class Indicator(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    feature: str
    points: float
    cap: Annotated[float, Field(gt=0)] | None = None


class IndicatorWeights(BaseModel):
    """加权评定: expert points per indicator (`configs/indicator_weights.yaml`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    indicators: tuple[Indicator, ...]


def indicator_score(frame: pd.DataFrame, weights: IndicatorWeights) -> npt.NDArray[np.float64]:
    """Sum of points x min(value, cap); a missing value scores 0, as on a paper points table."""
    total = np.zeros(len(frame))
    for ind in weights.indicators:
        v = pd.to_numeric(frame[ind.feature], errors="raise").to_numpy(dtype=float)
        v = np.nan_to_num(v, nan=0.0)
        if ind.cap is not None:
            v = np.minimum(v, ind.cap)
        total += ind.points * v
    return total


def logistic(design: Design, seed: int) -> Pipeline:
    """Logistic regression: numeric features median-imputed with missing indicators and
    scaled; categoricals (level codes, missing = -1) one-hot, unknown levels ignored."""
    numeric = [f for f in design.features if f not in design.levels]
    categorical = [f for f in design.features if f in design.levels]
    pre = ColumnTransformer(
        [
            (
                "num",
                make_pipeline(
                    SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True),
                    StandardScaler(),
                ),
                numeric,
            ),
            (
                "cat",
                make_pipeline(
                    # keep_empty_features: a categorical the data never gives (a registry
                    # of ids only) is a constant -1, not a column dropped with a warning
                    SimpleImputer(strategy="constant", fill_value=-1.0, keep_empty_features=True),
                    OneHotEncoder(handle_unknown="ignore", min_frequency=20),
                ),
                categorical,
            ),
        ]
    )
    return Pipeline(
        [("pre", pre), ("lr", LogisticRegression(C=0.1, max_iter=2000, random_state=seed))]
    )
