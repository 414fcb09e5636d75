"""System verification statistics (系统验证): do the classes find problems?

Every estimate respects the sampling design. A double-random inspection of an enterprise
drawn with probability p stands for 1/p enterprises of its stratum (Horvitz–Thompson): a
class-D firm, twenty times likelier to be drawn than a class-A firm, does not count twenty
times over. Unweighted rates are reported beside the weighted ones only to show the bias.

Intervals for a weighted share use the Jeffreys interval on the Kish effective sample size
(n_eff = (Σw)² / Σw², x_eff = p̂ · n_eff): with equal weights it is the ordinary Jeffreys
interval, and unequal weights widen it as they should (Korn & Graubard 1998; Brown, Cai &
DasGupta 2001 for the Jeffreys interval's coverage).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.stats import beta

from models import metrics

F = npt.NDArray[np.float64]


def effective_n(w: npt.ArrayLike) -> float:
    """Kish's effective sample size of weights ``w``."""
    ww = np.asarray(w, dtype=float)
    return float(ww.sum() ** 2 / np.sum(ww**2)) if len(ww) and ww.sum() > 0 else 0.0


def jeffreys(x: float, n: float, level: float = 0.95) -> tuple[float, float]:
    """Jeffreys interval for a share of ``x`` successes in ``n`` trials (both may be
    fractional: effective counts). The bounds are 0 and 1 at the extremes, as usual."""
    if n <= 0:
        return (float("nan"), float("nan"))
    a, b = x + 0.5, n - x + 0.5
    tail = (1 - level) / 2
    low = 0.0 if x <= 0 else float(beta.ppf(tail, a, b))
    high = 1.0 if x >= n else float(beta.ppf(1 - tail, a, b))
    return (low, high)


@dataclass(frozen=True)
class Rate:
    """A weighted share with its interval, and the plain (unweighted) share beside it."""

    inspections: int
    weighted: float
    low: float
    high: float
    unweighted: float
    effective_n: float

    def to_dict(self) -> dict[str, float]:
        return {"inspections": self.inspections, "hit_rate": self.weighted, "low": self.low,
                "high": self.high, "unweighted": self.unweighted,
                "effective_n": self.effective_n}  # fmt: skip


def rate(y: npt.ArrayLike, w: npt.ArrayLike, level: float = 0.95) -> Rate:
    """Weighted share of ``y`` = 1 (problems found per inspection) with a Jeffreys interval."""
    yy, ww = np.asarray(y, dtype=float), np.asarray(w, dtype=float)
    if len(yy) == 0:
        nan = float("nan")
        return Rate(0, nan, nan, nan, nan, 0.0)
    p = float(np.sum(ww * yy) / np.sum(ww))
    n_eff = effective_n(ww)
    low, high = jeffreys(p * n_eff, n_eff, level)
    return Rate(len(yy), p, low, high, float(yy.mean()), n_eff)


def hit_rates(
    y: npt.ArrayLike, classes: npt.ArrayLike, w: npt.ArrayLike, order: Sequence[str],
    level: float = 0.95,
) -> dict[str, Rate]:  # fmt: skip
    """Per class, the weighted hit rate (问题发现率) with its Jeffreys interval."""
    yy, cc, ww = np.asarray(y, dtype=float), np.asarray(classes), np.asarray(w, dtype=float)
    return {c: rate(yy[cc == c], ww[cc == c], level) for c in order}


def increasing(rates: dict[str, Rate], order: Sequence[str]) -> bool:
    """Hit rates rise strictly from the lowest class to the highest (classes without
    inspections skipped): `models.metrics.increasing` on these rates."""
    return metrics.increasing({c: r.to_dict() for c, r in rates.items()}, list(order))


def lift(rates: dict[str, Rate], overall: float) -> dict[str, float]:
    """Each class's hit rate over the rate of uniform random inspection of the population the
    inspections were drawn from (``overall``: the weighted rate over every inspection; the
    weights stand for the enterprises eligible for the rounds, not those excluded from them)."""
    return {c: r.weighted / overall if overall > 0 else float("nan") for c, r in rates.items()}


def weighted_ks(y: npt.ArrayLike, score: npt.ArrayLike, w: npt.ArrayLike | None = None) -> float:
    """Kolmogorov–Smirnov distance between the weighted score distributions of enterprises
    with and without problems (0: no separation, 1: complete)."""
    yy, ss = np.asarray(y, dtype=float), np.asarray(score, dtype=float)
    ww = np.ones_like(yy) if w is None else np.asarray(w, dtype=float)
    pos, neg = yy == 1, yy == 0
    if not pos.any() or not neg.any():
        return float("nan")
    values = np.unique(ss)
    idx = np.searchsorted(values, ss)
    cdf_pos = np.cumsum(np.bincount(idx[pos], ww[pos], len(values))) / ww[pos].sum()
    cdf_neg = np.cumsum(np.bincount(idx[neg], ww[neg], len(values))) / ww[neg].sum()
    return float(np.max(np.abs(cdf_pos - cdf_neg)))


@dataclass(frozen=True)
class Calibration:
    """Expected problems (mean predicted probability) against observed, per class."""

    inspections: int
    expected: float
    observed: float
    low: float
    high: float
    p_value: float  # two-sided Jeffreys test of "the predicted probability is right"

    def to_dict(self) -> dict[str, float]:
        return {"inspections": self.inspections, "expected": self.expected,
                "observed": self.observed, "low": self.low, "high": self.high,
                "p_value": self.p_value}  # fmt: skip


def jeffreys_test(x: float, n: float, p: float) -> float:
    """Two-sided p-value of the Jeffreys test that the true share is ``p`` (as used for
    validating probability-of-default models): the Jeffreys posterior's mass beyond ``p``."""
    if n <= 0:
        return float("nan")
    cdf = float(beta.cdf(p, x + 0.5, n - x + 0.5))
    return float(min(1.0, 2 * min(cdf, 1 - cdf)))


def calibration(
    y: npt.ArrayLike, p: npt.ArrayLike, classes: npt.ArrayLike, w: npt.ArrayLike,
    order: Sequence[str], level: float = 0.95,
) -> dict[str, Calibration]:  # fmt: skip
    """Per class: the weighted mean predicted probability (expected) against the weighted
    hit rate (observed), its interval, and the Jeffreys test on effective counts."""
    yy, pp = np.asarray(y, dtype=float), np.asarray(p, dtype=float)
    cc, ww = np.asarray(classes), np.asarray(w, dtype=float)
    out = {}
    for c in order:
        m = cc == c
        r = rate(yy[m], ww[m], level)
        if not m.any():
            out[c] = Calibration(0, *(float("nan"),) * 5)
            continue
        expected = float(np.sum(ww[m] * pp[m]) / np.sum(ww[m]))
        test = jeffreys_test(r.weighted * r.effective_n, r.effective_n, expected)
        out[c] = Calibration(r.inspections, expected, r.weighted, r.low, r.high, test)
    return out


def psi(reference: npt.ArrayLike, current: npt.ArrayLike, bins: int = 10) -> float:
    """Population stability index of ``current`` against ``reference``: deciles of the
    reference (fewer when values repeat), missing values as a bin of their own, empty bins
    floored at 1e-4. Below 0.1 stable, 0.1–0.25 a shift to watch, above 0.25 a shift."""
    ref, cur = np.asarray(reference, dtype=float), np.asarray(current, dtype=float)
    if len(ref) == 0 or len(cur) == 0:
        return float("nan")
    finite = ref[~np.isnan(ref)]
    cuts = np.linspace(0, 1, bins + 1)[1:-1]
    edges: F = np.unique(np.quantile(finite, cuts)) if len(finite) else np.empty(0)

    def shares(v: F) -> F:
        nan = np.isnan(v)
        counts = np.bincount(
            np.searchsorted(edges, v[~nan], side="right"), minlength=len(edges) + 1
        )
        return np.append(counts, nan.sum()) / len(v)

    e, a = np.maximum(shares(ref), 1e-4), np.maximum(shares(cur), 1e-4)
    return float(np.sum((a - e) * np.log(a / e)))


def migration(
    before: dict[str, str], after: dict[str, str], order: Sequence[str]
) -> dict[str, dict[str, int]]:
    """Month-over-month class migration: counts from each class of ``before`` (plus "new"
    for enterprises not classified then) to each class of ``after`` (plus "gone")."""
    rows = [*order, "new"]
    cols = [*order, "gone"]
    out = {r: dict.fromkeys(cols, 0) for r in rows}
    for u, c in before.items():
        out[c if c in out else "new"][after.get(u, "gone")] += 1
    for u, c in after.items():
        if u not in before:
            out["new"][c] += 1
    return out


def risk_point_accuracy(
    top_group: Sequence[str | None], category: Sequence[str], w: npt.ArrayLike,
    groups_of: Mapping[str, Sequence[str]], level: float = 0.95,
) -> dict[str, Any]:  # fmt: skip
    """How often the information group of an enterprise's top risk point is one whose records
    reveal the problem inspectors found (``groups_of``: problem category -> groups), over
    inspections that found a problem of a known category; weighted by ``w`` (1/p). The
    baseline is the same share if the top groups were shuffled among those inspections
    (independence): sum over categories and groups of P(category) P(group) [group reveals it].
    """
    tg = np.asarray([g if isinstance(g, str) else "" for g in top_group], dtype=object)
    cat = np.asarray(category, dtype=object)
    ww = np.asarray(w, dtype=float)
    known = np.array([isinstance(c, str) and c in groups_of for c in cat])
    tg, cat, ww = tg[known], cat[known], ww[known]
    if not len(ww):
        return {"problems": 0, "accuracy": float("nan"), "baseline": float("nan")}
    hit = np.array([g in groups_of[c] for g, c in zip(tg, cat, strict=True)], dtype=float)
    r = rate(hit, ww, level)
    total = ww.sum()
    p_group = {g: ww[tg == g].sum() / total for g in set(tg)}
    p_cat = {c: ww[cat == c].sum() / total for c in set(cat)}
    baseline = sum(
        pc * pg for c, pc in p_cat.items() for g, pg in p_group.items() if g in groups_of[c]
    )
    return {"problems": len(ww), "accuracy": r.weighted, "low": r.low, "high": r.high,
            "baseline": float(baseline)}  # fmt: skip
