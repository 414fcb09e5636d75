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
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
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
        return {
            "inspections": self.inspections,
            "hit_rate": self.weighted,
            "low": self.low,
            "high": self.high,
            "unweighted": self.unweighted,
            "effective_n": self.effective_n,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Rate:
        """The rate `to_dict` gave (a metrics file read back)."""
        return cls(
            d["inspections"], d["hit_rate"], d["low"], d["high"], d["unweighted"], d["effective_n"]
        )


def rate(y: npt.ArrayLike, w: npt.ArrayLike, level: float = 0.95) -> Rate:
    """Weighted share of ``y`` = 1 (problems found per inspection) with a Jeffreys interval."""
    yy, ww = np.asarray(y, dtype=float), np.asarray(w, dtype=float)
    if len(yy) == 0:
        nan = float("nan")
        return Rate(0, nan, nan, nan, nan, 0.0)
    p = metrics.weighted_rate(yy, ww)
    n_eff = effective_n(ww)
    low, high = jeffreys(p * n_eff, n_eff, level)
    return Rate(len(yy), p, low, high, float(yy.mean()), n_eff)


def hit_rates(
    y: npt.ArrayLike,
    classes: npt.ArrayLike,
    w: npt.ArrayLike,
    order: Sequence[str],
    level: float = 0.95,
) -> dict[str, Rate]:
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
        return {
            "inspections": self.inspections,
            "expected": self.expected,
            "observed": self.observed,
            "low": self.low,
            "high": self.high,
            "p_value": self.p_value,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Calibration:
        """The figures `to_dict` gave (a metrics file read back)."""
        return cls(
            d["inspections"], d["expected"], d["observed"], d["low"], d["high"], d["p_value"]
        )


def jeffreys_test(x: float, n: float, p: float) -> float:
    """Two-sided p-value of the Jeffreys test that the true share is ``p`` (as used for
    validating probability-of-default models): the Jeffreys posterior's mass beyond ``p``."""
    if n <= 0:
        return float("nan")
    cdf = float(beta.cdf(p, x + 0.5, n - x + 0.5))
    return float(min(1.0, 2 * min(cdf, 1 - cdf)))


def calibration(
    y: npt.ArrayLike,
    p: npt.ArrayLike,
    classes: npt.ArrayLike,
    w: npt.ArrayLike,
    order: Sequence[str],
    level: float = 0.95,
) -> dict[str, Calibration]:
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
    before_uscc: npt.ArrayLike | pa.Array | pa.ChunkedArray,
    before_class: npt.ArrayLike,
    after_uscc: npt.ArrayLike | pa.Array | pa.ChunkedArray,
    after_class: npt.ArrayLike,
    order: Sequence[str],
) -> dict[str, dict[str, int]]:
    """Month-over-month class migration: counts from each class of the month before (plus
    "new" for enterprises not classified then) to each class of the month after (plus
    "gone"). Enterprises are matched on uscc by an Arrow hash join, so a province of millions
    needs no Python object per enterprise. ``order`` must name every class given (outside
    classes too): an unknown class is an error, not a "new" enterprise.

    >>> m = migration(["a", "b"], ["A", "B"], ["b", "c"], ["A", "B"], ["A", "B"])
    >>> m["B"], m["new"], m["A"]["gone"]
    ({'A': 1, 'B': 0, 'gone': 0}, {'A': 0, 'B': 1, 'gone': 0}, 1)
    """
    k = len(order)

    def table(uscc: Any, classes: npt.ArrayLike, which: str) -> pa.Table:
        ids = uscc if isinstance(uscc, pa.Array | pa.ChunkedArray) else pa.array(uscc, pa.string())
        codes = _codes(classes, order)
        if len(codes) != len(ids):
            raise ValueError(f"migration: {which}: {len(ids)} uscc but {len(codes)} classes")
        if (codes < 0).any():
            odd = sorted({str(c) for c in np.asarray(classes, dtype=object)[codes < 0]})
            raise ValueError(f"migration: {which}: classes not in the order: {odd}")
        if ids.null_count or pc.count_distinct(ids).as_py() != len(ids):
            raise ValueError(f"migration: {which}: uscc must be present and unique")
        return pa.table({"uscc": ids, which: pa.array(codes)})

    joined = table(before_uscc, before_class, "before").join(
        table(after_uscc, after_class, "after"), "uscc", join_type="full outer"
    )
    rows = pc.fill_null(joined["before"], k).to_numpy()  # not classified before: "new"
    cols = pc.fill_null(joined["after"], k).to_numpy()  # not classified after: "gone"
    counts = np.bincount(rows * (k + 1) + cols, minlength=(k + 1) ** 2).reshape(k + 1, k + 1)
    names_r, names_c = [*order, "new"], [*order, "gone"]
    return {r: {c: int(counts[i, j]) for j, c in enumerate(names_c)} for i, r in enumerate(names_r)}


def _codes(classes: npt.ArrayLike, order: Sequence[str]) -> npt.NDArray[np.int64]:
    """Position of each class in ``order``, -1 when not there (a categorical already in that
    order, as a province's classes are kept, is taken as it is)."""
    if isinstance(classes, pd.Categorical) and list(classes.categories) == list(order):
        return np.asarray(classes.codes, dtype=np.int64)
    return np.asarray(
        pd.Index(list(order)).get_indexer(np.asarray(classes, dtype=object)), dtype=np.int64
    )


def class_shares(counts: Mapping[str, int], order: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Each class's count and share of the enterprises classed (shares sum to 1; a class
    nobody is in is listed with 0, so that months line up)."""
    total = sum(counts.values())
    unknown = sorted(set(counts) - set(order))
    if unknown:
        raise ValueError(f"class_shares: classes not in the order: {unknown}")
    return {
        c: {
            "enterprises": int(counts.get(c, 0)),
            "share": counts.get(c, 0) / total if total else float("nan"),
        }
        for c in order
    }


#: Columns of a hot-spot cell's population aggregate (`hot_spots`).
CELL_KEYS = ("division", "industry")


def hot_spots(
    population: pd.DataFrame,
    inspections: pd.DataFrame,
    min_enterprises: int,
    top: int | None,
    level: float = 0.95,
) -> list[dict[str, Any]]:
    """Division x industry cells ranked by the share of their enterprises in the highest
    classes (区域性、行业性风险研判), with what the window's double-random inspections found
    there (the weighted hit rate and its Jeffreys interval).

    ``population``: one or more rows per cell (partial sums of batches are added up):
    division, industry, enterprises, high (enterprises in the highest classes), score_sum.
    ``inspections``: division, industry, y, weight (1/p), one row per inspection.
    Cells with fewer than ``min_enterprises`` are left out (a share of a handful of firms
    is noise, and would come close to naming them); ties on the share go to the larger
    cell, then to the codes. ``top`` None keeps every cell left.
    """
    if min_enterprises < 1:
        raise ValueError(f"hot_spots: min_enterprises must be at least 1, got {min_enterprises}")
    if top is not None and top < 0:
        raise ValueError(f"hot_spots: top must be 0 or more, got {top}")
    keys = list(CELL_KEYS)
    cells = population.groupby(keys, sort=True)[["enterprises", "high", "score_sum"]].sum()
    cells = cells[cells["enterprises"] >= min_enterprises].reset_index()
    cells["high_share"] = cells["high"] / cells["enterprises"]
    cells["mean_score"] = cells["score_sum"] / cells["enterprises"]
    cells = cells.sort_values(
        ["high_share", "enterprises", *keys], ascending=[False, False, True, True], kind="stable"
    )
    if top is not None:
        cells = cells.head(top)
    groups = {
        key: (g["y"].to_numpy(dtype=float), g["weight"].to_numpy(dtype=float))
        for key, g in inspections.groupby(keys, sort=False)
    }
    empty = (np.empty(0), np.empty(0))
    out = []
    for row in cells.itertuples(index=False):
        r = rate(*groups.get((row.division, row.industry), empty), level)
        out.append(
            {
                "division": row.division,
                "industry": row.industry,
                "enterprises": int(row.enterprises),
                "high_share": float(row.high_share),
                "mean_score": float(row.mean_score),
                "inspections": r.inspections,
                "hit_rate": r.weighted,
                "low": r.low,
                "high": r.high,
            }
        )
    return out


def warning_precision(
    y: npt.ArrayLike,
    w: npt.ArrayLike,
    reasons: Sequence[str],
    names: Sequence[str],
    level: float = 0.95,
) -> dict[str, Any]:
    """Did early warnings come before problems? The weighted hit rate of inspections of
    enterprises warned beforehand against those not warned, their ratio, and the rate for
    each reason in ``names`` (an inspection counts under every reason it had). ``reasons``:
    per inspection, the reasons ``;``-joined, "" when not warned."""
    yy, ww = np.asarray(y, dtype=float), np.asarray(w, dtype=float)
    if not len(yy) == len(ww) == len(reasons):
        raise ValueError("warning_precision: y, w and reasons must have one entry per inspection")
    sets = [set(r.split(";")) - {""} for r in reasons]
    unknown = sorted(set().union(*sets) - set(names))
    if unknown:
        raise ValueError(f"warning_precision: reasons not among the names: {unknown}")
    warned = np.array([bool(s) for s in sets], dtype=bool)
    yes, no = rate(yy[warned], ww[warned], level), rate(yy[~warned], ww[~warned], level)
    ratio = yes.weighted / no.weighted if no.weighted > 0 else float("nan")
    by = {n: np.array([n in s for s in sets], dtype=bool) for n in names}
    return {
        "inspections": len(yy),
        "warned": yes.to_dict(),
        "not_warned": no.to_dict(),
        "ratio": ratio,
        "reasons": {n: rate(yy[m], ww[m], level).to_dict() for n, m in by.items()},
    }


def risk_point_accuracy(
    top_group: Sequence[str | None],
    category: Sequence[str],
    w: npt.ArrayLike,
    groups_of: Mapping[str, Sequence[str]],
    level: float = 0.95,
) -> dict[str, Any]:
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
    return {
        "problems": len(ww),
        "accuracy": r.weighted,
        "low": r.low,
        "high": r.high,
        "baseline": float(baseline),
    }


# ------------------------------------------------------------------ calibration as a check
def adjusted_p_values(p_values: Mapping[str, float], rule: str) -> dict[str, float]:
    """Each p-value adjusted for the family (the NaN ones, classes not tested, left out):
    ``holm`` (step-down, Holm 1979: reject where the adjusted value is at most alpha, and the
    chance of any false rejection is at most alpha under any dependence), ``bonferroni``
    (times the number tested), ``none`` (as they are).

    >>> adjusted_p_values({"A": 0.01, "B": 0.04, "C": 0.03}, "holm")
    {'A': 0.03, 'C': 0.06, 'B': 0.06}
    """
    tested = sorted(
        ((c, float(p)) for c, p in p_values.items() if np.isfinite(p)), key=lambda cp: cp[1]
    )
    m = len(tested)
    if rule == "none":
        return dict(tested)
    if rule == "bonferroni":
        return {c: min(1.0, m * p) for c, p in tested}
    if rule != "holm":
        raise ValueError(f"adjusted_p_values: unknown rule {rule!r} (holm, bonferroni, none)")
    out, running = {}, 0.0
    for i, (c, p) in enumerate(tested):
        running = max(running, min(1.0, (m - i) * p))  # monotone: never below an earlier one
        out[c] = round(running, 15)
    return out


@dataclass(frozen=True)
class CalibrationFinding:
    """One class in the calibration check: predicted against observed, the test's p-value,
    the p-value adjusted for the number of classes tested, and whether the class fails
    (adjusted p at most alpha and the gap over the tolerance)."""

    cls: str
    inspections: int
    expected: float
    observed: float
    p_value: float
    adjusted_p: float
    significant: bool
    fails: bool

    @property
    def gap(self) -> float:
        """Observed minus predicted, as a share (+: more problems than the model said)."""
        return self.observed - self.expected

    def to_dict(self) -> dict[str, Any]:
        return {
            "class": self.cls,
            "inspections": self.inspections,
            "expected": self.expected,
            "observed": self.observed,
            "gap": self.gap,
            "p_value": self.p_value,
            "adjusted_p": self.adjusted_p,
            "significant": self.significant,
            "fails": self.fails,
        }


def calibration_findings(
    cal: Mapping[str, Calibration], alpha: float, rule: str, tolerance: float
) -> list[CalibrationFinding]:
    """The calibration check over the classes with inspections (`calibration`'s figures):
    the Jeffreys p-values adjusted by ``rule`` over the classes tested; a class fails when
    its adjusted p-value is at most ``alpha`` and |observed - expected| exceeds ``tolerance``
    (a share): significant and large enough to matter."""
    tested = {c: r for c, r in cal.items() if r.inspections and np.isfinite(r.p_value)}
    adjusted = adjusted_p_values({c: r.p_value for c, r in tested.items()}, rule)
    out = []
    for c, r in tested.items():
        significant = bool(adjusted[c] <= alpha)
        big = bool(abs(r.observed - r.expected) > tolerance)
        out.append(
            CalibrationFinding(
                c,
                r.inspections,
                r.expected,
                r.observed,
                r.p_value,
                adjusted[c],
                significant,
                significant and big,
            )
        )
    return out


# ------------------------------------------------------------------ reasons against problems
def category_matrix(
    feature_categories: Sequence[Sequence[str]], categories: Sequence[str]
) -> npt.NDArray[np.bool_]:
    """(features, categories) booleans: does feature i name category j (`features.catalog`
    ``Feature.categories``)."""
    index = {c: j for j, c in enumerate(categories)}
    out = np.zeros((len(feature_categories), len(categories)), dtype=bool)
    for i, cats in enumerate(feature_categories):
        for c in cats:
            if c in index:
                out[i, index[c]] = True
    return out


def named_categories(
    top: npt.NDArray[np.int64], matrix: npt.NDArray[np.bool_]
) -> npt.NDArray[np.bool_]:
    """(rows, categories): the categories any of a row's top risk points names (``top``: the
    feature indices of `models.explain.top_risk_points`, -1 for an empty slot)."""
    out = np.zeros((top.shape[0], matrix.shape[1]), dtype=bool)
    for k in range(top.shape[1]):
        j = top[:, k]
        ok = j >= 0
        out[ok] |= matrix[j[ok]]
    return out


def _share_figures(hit: F, w: F, baseline: F, level: float) -> dict[str, Any]:
    """The observed weighted share with its Jeffreys interval against the permutation
    baseline's draws (mean, central ``level`` range, one-sided p-value)."""
    r = rate(hit, w, level)
    base = baseline[np.isfinite(baseline)]
    if not len(base) or not r.inspections:
        low = high = mean = p = float("nan")
    else:
        tail = (1 - level) / 2
        low, high = (float(q) for q in np.quantile(base, [tail, 1 - tail]))
        mean = float(base.mean())
        # one-sided permutation p-value: at least as many hits by chance (with the observed)
        p = float((1 + np.sum(base >= r.weighted - 1e-12)) / (1 + len(base)))
    return {
        "problems": r.inspections,
        "hit_share": r.weighted,
        "low": r.low,
        "high": r.high,
        "unweighted": r.unweighted,
        "baseline_mean": mean,
        "baseline_low": low,
        "baseline_high": high,
        "p_value": p,
        "above_baseline": bool(np.isfinite(high) and r.weighted > high),
    }


def reason_accuracy(
    named: npt.NDArray[np.bool_],
    category: Sequence[str | None],
    w: npt.ArrayLike,
    categories: Sequence[str],
    permutations: int,
    seed: int,
    level: float = 0.95,
) -> dict[str, Any]:
    """Main-risk-point accuracy at the level of reasons: over the inspections that found a
    problem of a known category, the weighted share (1/p) whose top risk points name that
    category (``named``: rows x ``categories``, `named_categories`), overall and per category,
    against a permutation baseline: the found categories shuffled among the same inspections
    ``permutations`` times (seeded), each enterprise keeping its top points and its weight. The
    baseline is what the reasons would score if they said nothing about the problem found; a
    share above the baseline's central ``level`` range is reasons that point the right way."""
    index = {c: j for j, c in enumerate(categories)}
    cat = np.array([index.get(c, -1) if isinstance(c, str) else -1 for c in category])
    ww = np.asarray(w, dtype=float)
    if not len(cat) == len(ww) == named.shape[0]:
        raise ValueError("reason_accuracy: named, category and w need one row per inspection")
    keep = cat >= 0
    nm, cat, ww = named[keep], cat[keep], ww[keep]
    n, k = len(cat), len(categories)
    rng = np.random.default_rng(seed)
    rows = np.arange(n)
    base_all = np.full(permutations, np.nan)
    base_cat = np.full((permutations, k), np.nan)
    if n:
        for b in range(permutations):
            shuffled = cat[rng.permutation(n)]
            hit = nm[rows, shuffled].astype(float)
            base_all[b] = np.sum(ww * hit) / ww.sum()
            num = np.bincount(shuffled, ww * hit, minlength=k)
            den = np.bincount(shuffled, ww, minlength=k)
            with np.errstate(invalid="ignore", divide="ignore"):
                base_cat[b] = num / den
    hit = nm[rows, cat].astype(float) if n else np.empty(0)
    by_category = {}
    for j, c in enumerate(categories):
        m = cat == j
        by_category[c] = {
            **_share_figures(hit[m], ww[m], base_cat[:, j] if m.any() else np.empty(0), level),
            # how often the top points name it at all, among these inspections
            "named_share": float(np.sum(ww * nm[:, j]) / ww.sum()) if n else float("nan"),
        }
    return {
        "overall": _share_figures(hit, ww, base_all, level),
        "by_category": by_category,
    }
