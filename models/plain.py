"""The plain baseline (issue 18): a plain LightGBM the deployed model must never lose to.

A data scientist handed the delivered tables would, in ten minutes, aggregate them per
enterprise (`pipelines.aggregates`: counts, mean / min / max / sum / latest value of every
number, counts per value of every low-cardinality text column, the registry's columns) and
fit LightGBM with its usual parameters. Training fits exactly that (`fit`, fixed `PARAMS`, no
tuning, no monotone constraints, no domain logic) on the same rows and 1/p weights as the
model, calibrates it the same way, and judges the deployed model against it (`compare`):

- a paired bootstrap of the test rows: ``b`` resamples of the rows with replacement (a
  seeded generator; each row keeps its weight 1/p, so each resample's AUC is the weighted
  AUC of `models.metrics.weighted_auc` on the rows drawn), the same resamples for both models;
- each model's AUC with its percentile interval, and the interval of the difference
  AUC(model) - AUC(plain);
- the model **loses** (`PlainComparison.lost`) when the whole interval of the difference lies
  below 0: worse than the plain baseline by more than the noise of the test set.

No I/O here: the aggregates are read by `pipelines.aggregates`, the booster stored in the
bundle by `pipelines.train`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import lightgbm as lgb
import numpy as np
import numpy.typing as npt
import pandas as pd

from models import calibration, gbm
from models.metrics import weighted_auc

F = npt.NDArray[np.float64]

#: The plain GBM's parameters, fixed (never tuned): LightGBM's usual defaults (31 leaves, no
#: depth limit, 20 rows per leaf) with a slower learning rate over a fixed number of rounds,
#: row and column subsampling and a little L2; deterministic given the seed (`gbm.lgb_params`).
PARAMS: dict[str, Any] = {
    "num_leaves": 31,
    "max_depth": -1,
    "learning_rate": 0.05,
    "min_child_samples": 20,
    "subsample": 0.8,
    "colsample_bytree": 0.8,
    "reg_lambda": 1.0,
}
ROUNDS = 300

#: MLflow metric of the training run -> field of `PlainComparison` (``plain_lost`` besides).
METRICS: dict[str, str] = {
    "plain_gbm_auc": "plain_auc",
    "plain_gbm_auc_low": "plain_low",
    "plain_gbm_auc_high": "plain_high",
    "plain_model_auc": "model_auc",
    "plain_model_auc_low": "model_low",
    "plain_model_auc_high": "model_high",
    "plain_auc_diff": "diff",
    "plain_auc_diff_low": "diff_low",
    "plain_auc_diff_high": "diff_high",
    "plain_confidence": "confidence",
    "plain_bootstrap": "bootstrap",
    "plain_rows": "rows",
    "plain_seed": "seed",
}

#: The judgement, in words (the model card, the reports).
RULE = (
    "paired bootstrap of the test rows ({b} resamples with replacement, each row keeping its "
    "weight 1/p, seeded): the model loses when the whole {c:.0%} interval of "
    "AUC(model) - AUC(plain) lies below 0"
)


def params(seed: int, threads: int, categorical: Sequence[str] = ()) -> dict[str, Any]:
    """The full LightGBM parameters of the plain GBM (`PARAMS`, no monotone constraints)."""
    return gbm.lgb_params(PARAMS, seed, threads, None, categorical)


def design(frame: pd.DataFrame, columns: Sequence[str], categorical: Sequence[str]) -> gbm.Design:
    """The plain GBM's inputs: ``columns`` in order; the levels of each ``categorical`` column
    are those seen in ``frame`` (the training rows), sorted."""
    levels = {c: tuple(sorted(str(v) for v in frame[c].dropna().unique())) for c in categorical}
    return gbm.Design(tuple(columns), levels)


def fit(
    x: pd.DataFrame,
    y: npt.ArrayLike,
    w: npt.ArrayLike | None,
    seed: int,
    threads: int,
    categorical: Sequence[str] = (),
) -> lgb.Booster:
    """The plain GBM on the design matrix ``x`` (`matrix`); ``categorical``: its level-coded
    columns (the design's levels)."""
    return gbm.train(
        x,
        np.asarray(y),
        None if w is None else np.asarray(w, dtype=float),
        params(seed, threads, categorical),
        ROUNDS,
    )


def matrix(frame: pd.DataFrame, d: gbm.Design) -> pd.DataFrame:
    """`gbm.matrix` of the aggregates; a column ``frame`` lacks is missing (NaN) throughout
    (a table delivered at training but not now)."""
    missing = [c for c in d.features if c not in frame.columns]
    if missing:
        frame = frame.assign(**dict.fromkeys(missing, np.nan))
    return gbm.matrix(frame, d)


@dataclass
class PlainModel:
    """The plain GBM of a registered version (``bundle/plain.txt`` and its design): the
    booster, its inputs, its calibrator and the aggregates it reads (`pipelines.aggregates`
    spec, as stored)."""

    booster: lgb.Booster
    design: gbm.Design
    calibrator: calibration.Calibrator
    spec: dict[str, Any]

    def probability(self, frame: pd.DataFrame) -> F:
        """Calibrated probability of the aggregates ``frame`` (one row per enterprise-month)."""
        return self.calibrator(gbm.predict_raw(self.booster, matrix(frame, self.design)))

    def design_dict(self) -> dict[str, Any]:
        """What ``bundle/plain_design.json`` holds."""
        return {
            "design": self.design.to_dict(),
            "calibrator": self.calibrator.to_dict(),
            "aggregates": self.spec,
            "params": {**PARAMS, "rounds": ROUNDS},
        }

    @classmethod
    def from_files(cls, model: str, design: dict[str, Any]) -> PlainModel:
        return cls(
            lgb.Booster(model_str=model),
            gbm.Design.from_dict(design["design"]),
            calibration.Calibrator.from_dict(design["calibrator"]),
            design["aggregates"],
        )


# ------------------------------------------------------------------ the judgement
@dataclass(frozen=True)
class PlainComparison:
    """The model against the plain GBM on the same rows: point AUCs (weighted), percentile
    intervals from the paired bootstrap, and the interval of the difference."""

    model: str  # what was compared (the deployed model's name)
    model_auc: float
    model_low: float
    model_high: float
    plain_auc: float
    plain_low: float
    plain_high: float
    diff: float  # AUC(model) - AUC(plain)
    diff_low: float
    diff_high: float
    confidence: float
    bootstrap: int
    rows: int
    seed: int

    @property
    def lost(self) -> bool:
        """The rule: the whole interval of the difference lies below 0 (NaN: cannot tell, so
        not lost)."""
        return bool(self.diff_high < 0)

    def rule(self) -> str:
        return RULE.format(b=self.bootstrap, c=self.confidence)

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "model_auc": self.model_auc,
            "model_low": self.model_low,
            "model_high": self.model_high,
            "plain_auc": self.plain_auc,
            "plain_low": self.plain_low,
            "plain_high": self.plain_high,
            "diff": self.diff,
            "diff_low": self.diff_low,
            "diff_high": self.diff_high,
            "confidence": self.confidence,
            "bootstrap": self.bootstrap,
            "rows": self.rows,
            "seed": self.seed,
            "lost": self.lost,
            "rule": self.rule(),
        }

    def to_metrics(self) -> dict[str, float]:
        """The figures as MLflow metrics of the training run (`METRICS`; promote reads them)."""
        d = self.to_dict()
        out = {m: float(d[k]) for m, k in METRICS.items()}
        out["plain_lost"] = float(self.lost)
        return out

    @classmethod
    def from_metrics(
        cls, metrics: dict[str, float], model: str = "deployed"
    ) -> PlainComparison | None:
        """Back from a run's metrics (`to_metrics`; a figure not logged, being NaN, is NaN);
        None when the run logged no plain baseline."""
        if "plain_auc_diff" not in metrics and "plain_gbm_auc" not in metrics:
            return None
        d: dict[str, Any] = {k: metrics.get(m, float("nan")) for m, k in METRICS.items()}
        return cls.from_dict(
            {
                **d,
                "model": model,
                "bootstrap": int(metrics.get("plain_bootstrap", 0)),
                "rows": int(metrics.get("plain_rows", 0)),
                "seed": int(metrics.get("plain_seed", 0)),
            }
        )

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> PlainComparison:
        """Back from `to_dict`: ``lost`` is recomputed from the figures, never read."""

        def num(key: str) -> float:
            v = d[key]
            return float("nan") if v is None else float(v)

        return cls(
            model=str(d["model"]),
            model_auc=num("model_auc"),
            model_low=num("model_low"),
            model_high=num("model_high"),
            plain_auc=num("plain_auc"),
            plain_low=num("plain_low"),
            plain_high=num("plain_high"),
            diff=num("diff"),
            diff_low=num("diff_low"),
            diff_high=num("diff_high"),
            confidence=float(d["confidence"]),
            bootstrap=int(d["bootstrap"]),
            rows=int(d["rows"]),
            seed=int(d["seed"]),
        )


def bootstrap_aucs(
    y: npt.ArrayLike,
    w: npt.ArrayLike,
    scores: Sequence[npt.ArrayLike],
    b: int,
    seed: int,
    chunk: int = 100,
) -> F:
    """Weighted AUC of each of ``scores`` on ``b`` paired bootstrap resamples of the rows
    (shape ``(b, len(scores))``; NaN where a resample holds one outcome only). Resample ``i``
    draws ``n`` rows with replacement from a generator seeded with ``seed``; a row drawn ``k``
    times counts ``k`` times its weight, which gives the weighted AUC of the rows drawn."""
    yy = np.asarray(y, dtype=float)
    ww = np.asarray(w, dtype=float)
    n = len(yy)
    rng = np.random.default_rng(seed)
    prepared = [_prepare(np.asarray(s, dtype=float)) for s in scores]
    out = np.full((b, len(prepared)), np.nan)
    for start in range(0, b, chunk):
        k = min(chunk, b - start)
        idx = rng.integers(0, n, size=(k, n)) if n else np.zeros((k, 0), dtype=int)
        counts = np.bincount((idx + n * np.arange(k)[:, None]).ravel(), minlength=k * n)
        weights = counts.reshape(k, n) * ww
        for j, (order, starts) in enumerate(prepared):
            out[start : start + k, j] = _auc_rows(yy[order], weights[:, order], starts)
    return out


def _prepare(score: F) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]:
    """Rows in ascending score, and where each run of tied scores starts."""
    order = np.argsort(score, kind="stable")
    s = score[order]
    starts = np.flatnonzero(np.r_[True, s[1:] != s[:-1]]) if len(s) else np.zeros(0, np.intp)
    return order, starts


def _auc_rows(y: F, weights: F, starts: npt.NDArray[np.intp]) -> F:
    """Weighted AUC for each row of ``weights`` (rows sorted by score, ``starts`` the tie
    groups): the weighted share of (problem, no problem) pairs ranked right, ties half."""
    if weights.shape[1] == 0:
        return np.full(weights.shape[0], np.nan)
    pos = np.add.reduceat(weights * y, starts, axis=1)
    neg = np.add.reduceat(weights * (1 - y), starts, axis=1)
    below = np.cumsum(neg, axis=1) - neg
    num = (pos * (below + 0.5 * neg)).sum(axis=1)
    den = pos.sum(axis=1) * neg.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        auc: F = np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)
    return auc


def compare(
    model: str,
    y: npt.ArrayLike,
    w: npt.ArrayLike,
    p_model: npt.ArrayLike,
    p_plain: npt.ArrayLike,
    b: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> PlainComparison:
    """The paired, seeded bootstrap judgement of ``model`` (probabilities ``p_model``) against
    the plain GBM (``p_plain``) on the rows ``y`` with weights ``w`` (see the module doc)."""
    yy, ww = np.asarray(y, dtype=float), np.asarray(w, dtype=float)
    a, p = np.asarray(p_model, dtype=float), np.asarray(p_plain, dtype=float)
    draws = bootstrap_aucs(yy, ww, [a, p], b, seed)
    diff = draws[:, 0] - draws[:, 1]
    q = [(1 - confidence) / 2, (1 + confidence) / 2]

    def interval(v: F) -> tuple[float, float]:
        if not np.isfinite(v).any():
            return float("nan"), float("nan")
        lo, hi = np.nanquantile(v, q)
        return float(lo), float(hi)

    auc_model, auc_plain = weighted_auc(yy, a, ww), weighted_auc(yy, p, ww)
    (m_lo, m_hi), (p_lo, p_hi), (d_lo, d_hi) = (
        interval(v) for v in (draws[:, 0], draws[:, 1], diff)
    )
    return PlainComparison(
        model=model,
        model_auc=auc_model,
        model_low=m_lo,
        model_high=m_hi,
        plain_auc=auc_plain,
        plain_low=p_lo,
        plain_high=p_hi,
        diff=auc_model - auc_plain,
        diff_low=d_lo,
        diff_high=d_hi,
        confidence=confidence,
        bootstrap=b,
        rows=len(yy),
        seed=seed,
    )
