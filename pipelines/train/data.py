"""The labelled rows of one training run, split out of time: design matrices, labels,
weights; the contract tables the feature files lacked; and the synthetic province's oracle
(evaluation only)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from models import gbm
from models.metrics import weighted_auc
from pipelines import paths
from pipelines.render.lacking import absent_tables, union


class TrainError(ValueError):
    """Training cannot proceed (missing feature months, too few labels ...)."""


@dataclass
class Split:
    """One part of the labelled rows (train, valid or test months)."""

    frame: pd.DataFrame  # features + labels
    x: pd.DataFrame
    y: np.ndarray
    w: np.ndarray


def split(frame: pd.DataFrame, design: gbm.Design) -> Split:
    """The rows of ``frame`` as the model sees them: design matrix, outcome, weight 1/p."""
    return Split(
        frame, gbm.matrix(frame, design), frame["y"].to_numpy(), frame["weight"].to_numpy()
    )


def oracle_scores(truth: Path, test: Split) -> np.ndarray:
    """The simulator's true problem probability of each test inspection, in row order."""
    t = pq.read_table(
        Path(truth) / "inspections", columns=["inspection_id", "p_problem"]
    ).to_pandas()
    p = test.frame[["inspection_id"]].merge(t, on="inspection_id", how="left")["p_problem"]
    if p.isna().any():
        raise TrainError("train: --truth does not cover every test inspection (another province?)")
    out: np.ndarray = p.to_numpy(dtype=float)
    return out


def oracle(truth: Path, test: Split) -> float:
    """Weighted AUC of the simulator's true problem probability on the test inspections."""
    return weighted_auc(test.y, oracle_scores(truth, test), test.w)


def absent_in(features_dir: Path, months: Iterable[str]) -> dict[str, str]:
    """table -> reason: the contract tables the feature files of ``months`` lacked (their
    ``riskclass.absent_tables`` metadata, united over the months); empty when none did."""
    return union(
        absent_tables(pq.read_schema(paths.features_file(features_dir, m)).metadata)
        for m in sorted(set(months))
    )
