"""LightGBM on the feature catalog: categorical levels, monotone constraints, deterministic."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import lightgbm as lgb
import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from features.catalog import Feature


@dataclass(frozen=True)
class Design:
    """What a model was trained on: feature names in order, levels of each categorical."""

    features: tuple[str, ...]
    levels: dict[str, tuple[str, ...]]

    def to_dict(self) -> dict[str, Any]:
        return {
            "features": list(self.features),
            "levels": {k: list(v) for k, v in self.levels.items()},
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Design:
        return cls(tuple(d["features"]), {k: tuple(v) for k, v in d["levels"].items()})


def fit_design(frame: pd.DataFrame, catalog: Sequence[Feature]) -> Design:
    """Model features of the catalog; categorical levels are those seen in ``frame``, sorted."""
    feats = tuple(f.name for f in catalog if f.role == "model")
    levels = {
        f.name: tuple(sorted(str(v) for v in frame[f.name].dropna().unique()))
        for f in catalog
        if f.role == "model" and f.kind == "category"
    }
    return Design(feats, levels)


def matrix(frame: pd.DataFrame, design: Design) -> pd.DataFrame:
    """The model input, all float64 (NaN = missing): a categorical is the index of its level
    in the training levels (a level never seen in training becomes missing, never a wrong
    code), so the model takes plain numbers (MLflow signature, any serving layer)."""
    missing = [c for c in design.features if c not in frame.columns]
    if missing:
        raise KeyError(f"features missing from the input: {missing[:5]}")
    cols = {}
    for name in design.features:
        if name in design.levels:
            codes = pd.Index(design.levels[name]).get_indexer(frame[name].astype("string"))
            cols[name] = np.where(codes < 0, np.nan, codes.astype("float64"))
        else:
            cols[name] = pd.to_numeric(frame[name], errors="raise").astype("float64")
    return pd.DataFrame(cols, index=frame.index)


def matrix_arrow(batch: pa.RecordBatch | pa.Table, design: Design) -> npt.NDArray[np.float64]:
    """`matrix` straight from Arrow, without pandas (the classify hot path): the same values,
    as one float64 array in the design's column order."""
    # column-major: each column is written contiguously (LightGBM takes either order)
    out = np.empty((batch.num_rows, len(design.features)), dtype=np.float64, order="F")
    names = set(batch.schema.names)
    missing = [c for c in design.features if c not in names]
    if missing:
        raise KeyError(f"features missing from the input: {missing[:5]}")
    for j, name in enumerate(design.features):
        out[:, j] = design_column(batch.column(name), name, design)
    return out


def design_column(
    col: pa.Array | pa.ChunkedArray, name: str, design: Design
) -> npt.NDArray[np.float64]:
    """One column of the design matrix from its Arrow column (`matrix_arrow`'s values): a
    level-coded feature as its level's index (NaN when unknown), any other as float64."""
    if name in design.levels:
        levels = pa.array(design.levels[name], pa.string())
        col = pc.index_in(pc.cast(col, pa.string()), value_set=levels)
    if col.type != pa.float64():
        col = pc.cast(col, pa.float64())
    return np.asarray(col.to_numpy(zero_copy_only=False), dtype=np.float64)


def monotone(design: Design, catalog: Sequence[Feature]) -> list[int]:
    by_name = {f.name: f for f in catalog}
    return [0 if n in design.levels else by_name[n].direction for n in design.features]


def lgb_params(
    hyper: dict[str, Any],
    seed: int,
    threads: int,
    constraints: list[int] | None,
    categorical: Sequence[str] = (),
) -> dict[str, Any]:
    """Full LightGBM parameters: deterministic given the seed and the thread count.
    ``categorical`` names the level-coded columns (`matrix`)."""
    params: dict[str, Any] = {
        "categorical_feature": list(categorical),
        "objective": "binary",
        "verbosity": -1,
        "seed": seed,
        "bagging_seed": seed,
        "feature_fraction_seed": seed,
        "data_random_seed": seed,
        "deterministic": True,
        "force_row_wise": True,
        "num_threads": threads,
        "num_leaves": hyper["num_leaves"],
        "max_depth": hyper["max_depth"],
        "learning_rate": hyper["learning_rate"],
        "min_child_samples": hyper["min_child_samples"],
        "bagging_fraction": hyper["subsample"],
        "bagging_freq": 1 if hyper["subsample"] < 1 else 0,
        "feature_fraction": hyper["colsample_bytree"],
        "lambda_l2": hyper["reg_lambda"],
        "max_cat_to_onehot": 8,
        "cat_smooth": 10.0,
    }
    if constraints is not None and any(constraints):
        params["monotone_constraints"] = constraints
        params["monotone_constraints_method"] = "basic"
    return params


def train(
    x: pd.DataFrame,
    y: np.ndarray,
    w: np.ndarray | None,
    params: dict[str, Any],
    rounds: int,
    valid: tuple[pd.DataFrame, np.ndarray, np.ndarray] | None = None,
    on_iteration: Callable[[int, float], None] | None = None,
    every: int = 25,
    init_score: np.ndarray | None = None,
) -> lgb.Booster:
    """Train; ``on_iteration(i, weighted valid logloss)`` every ``every`` rounds (pruning).
    ``init_score``: margins to boost from (a sector model on top of the general one)."""
    params = dict(params)
    categorical = params.pop("categorical_feature", [])
    dtrain = lgb.Dataset(
        x,
        label=y,
        weight=w,
        init_score=init_score,
        categorical_feature=categorical,
        free_raw_data=True,
    )
    callbacks = []
    valid_sets = []
    if valid is not None:
        xv, yv, wv = valid
        valid_sets = [lgb.Dataset(xv, label=yv, weight=wv, reference=dtrain)]
        params = {**params, "metric": "binary_logloss"}
        if on_iteration is not None:

            def _cb(env: Any) -> None:
                i = env.iteration + 1
                if i % every == 0:
                    on_iteration(i, float(env.evaluation_result_list[0][2]))

            callbacks.append(_cb)
    return lgb.train(
        params, dtrain, num_boost_round=rounds, valid_sets=valid_sets, callbacks=callbacks
    )


#: A cap on LightGBM's threads in this process (`cap_threads`); None: the booster's own setting.
_THREAD_CAP: int | None = None


def cap_threads(n: int | None) -> None:
    """Cap the threads LightGBM predicts with in this process (None: lift the cap). A process
    forked from one that loaded a booster must predict with one thread: LightGBM's OpenMP
    pool does not survive the fork, and a parallel region in the child waits for it forever."""
    global _THREAD_CAP
    _THREAD_CAP = n


def threads_of(booster: lgb.Booster) -> int:
    """The threads to predict with: the booster's ``num_threads`` (0: OpenMP's default),
    within the process's cap."""
    own = int(booster.params.get("num_threads", 0))
    if _THREAD_CAP is None:
        return own
    return _THREAD_CAP if own <= 0 else min(own, _THREAD_CAP)


def predict_margin(booster: lgb.Booster, x: pd.DataFrame | npt.NDArray[np.float64]) -> np.ndarray:
    """The model's log-odds (what a sector model boosts from)."""
    return np.asarray(
        booster.predict(x, raw_score=True, num_threads=threads_of(booster)), dtype=float
    )


def sigmoid(z: npt.ArrayLike) -> npt.NDArray[np.float64]:
    p: npt.NDArray[np.float64] = 1.0 / (1.0 + np.exp(-np.asarray(z, dtype=float)))
    return p


def predict_raw(booster: lgb.Booster, x: pd.DataFrame | npt.NDArray[np.float64]) -> np.ndarray:
    """Uncalibrated probability."""
    return np.asarray(booster.predict(x, num_threads=threads_of(booster)), dtype=float)
