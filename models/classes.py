"""Class assignment: a calibrated risk score in, a credit-risk class out, as configuration.

A class scheme (`configs/classes/*.yaml`, validated by `ClassScheme`) says three things:

* the classes themselves, ordered from the lowest to the highest risk (the risk ladder:
  A-D, or green/blue/yellow/red), each with its Chinese and English name and the minimum
  share of it drawn in every double-random round; plus classes that stand outside the
  ladder (``outside_order``: grey, dormant), which only an override can give;
* how the model's output becomes a class (``method``):

  - ``score_bands``: inclusive lower bounds on the 0-1000 risk score (higher = riskier);
  - ``probability_thresholds``: inclusive lower bounds on the calibrated probability (0-1);
  - ``shares``: fixed shares of the population; enterprises are ranked by score,
    descending, ties broken by ``uscc`` ascending, and the riskiest share gets the riskiest
    class. Counts come from largest-remainder rounding and sum exactly to the population.

  The method's classes are the lowest classes of the ladder, in order; classes above them
  (red in the five-level scheme) are reached only through overrides;
* hard overrides: rules such as "on the seriously-dishonest list means D", applied after
  the method, in list order; the first rule whose conditions all hold decides.

A scheme's score bands are a default. `fit_score_bands` instead puts the bounds where a
population's scores give target shares (or a capacity for the highest class); training stores
the result with the model version (`FittedBands`), and the stages that class with that
version use it (`with_score_bands`). `share_warnings` checks a month's shares: a class left
empty, a fitted band drifting from its target, or a class outside the scheme's optional
``expected_shares`` (published ranges).

`assign` is vectorised. ``score_bands`` and ``probability_thresholds`` look at one row at a
time, so a province can be classed chunk by chunk; ``shares`` ranks the population, so it
must be given the whole population of the month in one frame (`ClassScheme.chunkable`).

>>> scheme = ClassScheme.model_validate({
...     "name": "demo", "zh": "示例", "en": "demo",
...     "classes": [
...         {"code": "low", "zh": "低", "en": "low", "min_sampling_rate": 0.01},
...         {"code": "high", "zh": "高", "en": "high", "min_sampling_rate": 0.2},
...     ],
...     "method": "score_bands", "score_bands": {"low": 0, "high": 500},
...     "overrides": [{"name": "listed", "zh": "列严", "en": "listed",
...                    "when": [{"feature": "sd_listed", "op": "==", "value": 1}], "to": "high"}],
... })
>>> frame = pd.DataFrame({"uscc": ["a", "b", "c"], "score": [100.0, 500.0, 20.0],
...                       "probability": [0.1, 0.5, 0.02], "sd_listed": [0, 0, 1]})
>>> assign(frame, scheme)
  class_model class_final override_rule
0         low         low          None
1        high        high          None
2         low        high        listed
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from itertools import pairwise
from typing import Annotated, Any, Literal, Self

import numpy as np
import numpy.typing as npt
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, model_validator

Method = Literal["score_bands", "shares", "probability_thresholds"]
Op = Literal["==", "!=", ">=", ">", "<=", "<"]

_NAME_PATTERN = r"^[A-Za-z][A-Za-z0-9_]*$"
Name = Annotated[str, Field(pattern=_NAME_PATTERN, max_length=64)]
Text = Annotated[str, Field(min_length=1)]
Share = Annotated[float, Field(ge=0, le=1)]

#: The column each method reads and the range it must lie in.
_METHOD_INPUT: dict[str, tuple[str, float, float]] = {
    "score_bands": ("score", 0.0, 1000.0),
    "shares": ("score", 0.0, 1000.0),
    "probability_thresholds": ("probability", 0.0, 1.0),
}
_METHODS: tuple[Method, ...] = ("score_bands", "shares", "probability_thresholds")
_OPS: dict[str, Callable[[Any, Any], Any]] = {
    "==": operator.eq,
    "!=": operator.ne,
    ">=": operator.ge,
    ">": operator.gt,
    "<=": operator.le,
    "<": operator.lt,
}
_SHARES_TOLERANCE = 1e-9

#: Columns `assign` returns.
OUTPUT_COLUMNS = ("class_model", "class_final", "override_rule")


class SchemeError(ValueError):
    """A class scheme cannot be applied (for example, an override reads an unknown feature)."""


class ClassDef(BaseModel):
    """One class: its code, its names, and the minimum share drawn per double-random round."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    code: Name
    zh: Text
    en: Text
    #: Minimum share of the class drawn in each double-random round; ``None`` for a class
    #: that is not drawn by rate (grey: dormant enterprises).
    min_sampling_rate: Annotated[float, Field(gt=0, le=1)] | None
    #: Visits a year an enterprise of the class is due at least (its 频次; none: no minimum):
    #: a plan lists who has had fewer in the last 12 months (`models.sampling.due`).
    visits_per_year: Annotated[int, Field(ge=0, le=12)] | None = None
    #: How the class is checked: in writing (书面检查) or on site (实地检查); none: on site.
    check_mode: Literal["written", "on_site"] | None = None
    #: What the class means for supervision (差异化监管措施), quoted in every report.
    measures_zh: tuple[Text, ...] = ()
    measures_en: tuple[Text, ...] = ()


class Condition(BaseModel):
    """``feature op value``; a missing feature value never satisfies a condition."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    feature: Name
    op: Op
    value: float | str

    @model_validator(mode="after")
    def _ordering_needs_a_number(self) -> Self:
        if isinstance(self.value, str) and self.op not in ("==", "!="):
            raise ValueError(f"op {self.op!r} needs a number, got the text {self.value!r}")
        if isinstance(self.value, float) and not math.isfinite(self.value):
            raise ValueError(f"value must be a finite number, got {self.value}")
        return self


class OverrideRule(BaseModel):
    """When every condition holds, the enterprise gets class ``to`` whatever the model said."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Name
    zh: Text
    en: Text
    when: Annotated[tuple[Condition, ...], Field(min_length=1)]
    to: Name


class ClassScheme(BaseModel):
    """A class scheme (`configs/classes/*.yaml`); see the module docstring."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Name
    zh: Text
    en: Text
    #: Every class, from the lowest to the highest risk (outside classes anywhere).
    classes: Annotated[tuple[ClassDef, ...], Field(min_length=2)]
    #: Codes of the classes that are not on the risk ladder (grey: dormant).
    outside_order: tuple[Name, ...] = ()
    method: Method
    score_bands: dict[Name, Annotated[float, Field(ge=0, le=1000)]] | None = None
    shares: dict[Name, Annotated[float, Field(gt=0, le=1)]] | None = None
    probability_thresholds: dict[Name, Annotated[float, Field(ge=0, le=1)]] | None = None
    #: Applied in this order after the method; the first rule that matches wins.
    overrides: tuple[OverrideRule, ...] = ()
    #: Published shares to hold the month's final classes against: per ladder class an
    #: inclusive range ``[low, high]`` (classes not listed are not checked). Classify warns
    #: outside it (`share_warnings`); it never changes a class.
    expected_shares: dict[Name, tuple[Share, Share]] | None = None

    @property
    def codes(self) -> tuple[str, ...]:
        """Every class code, in the order of ``classes``."""
        return tuple(c.code for c in self.classes)

    @property
    def ladder(self) -> tuple[str, ...]:
        """The codes on the risk ladder, from the lowest to the highest risk."""
        outside = set(self.outside_order)
        return tuple(c for c in self.codes if c not in outside)

    @property
    def cut_points(self) -> dict[str, float]:
        """The method's table (lower bounds or shares), keyed by code in ladder order."""
        table = getattr(self, self.method) or {}
        return {code: table[code] for code in self.ladder if code in table}

    @property
    def method_classes(self) -> tuple[str, ...]:
        """The classes the method can give: the lowest classes of the ladder."""
        return tuple(self.cut_points)

    @property
    def chunkable(self) -> bool:
        """Whether `assign` may be run chunk by chunk (``shares`` needs the whole population)."""
        return self.method != "shares"

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        codes = self.codes
        known = set(codes)
        dupes = sorted({c for c in codes if codes.count(c) > 1})
        if dupes:
            raise ValueError(f"class codes must be unique; repeated: {', '.join(dupes)}")
        self._check_outside(known)
        ladder = self.ladder
        if not ladder:
            raise ValueError("at least one class must be on the risk ladder")
        table = self._check_method_fields()
        unknown = sorted(set(table) - known)
        if unknown:
            raise ValueError(f"{self.method}: unknown class code(s) {', '.join(unknown)}")
        off = sorted(set(table) - set(ladder))
        if off:
            raise ValueError(
                f"{self.method}: class(es) {', '.join(off)} are in outside_order, "
                "so only an override can give them"
            )
        expected = ladder[: len(table)]
        if set(table) != set(expected):
            raise ValueError(
                f"{self.method} must cover the lowest classes of the ladder in order "
                f"({', '.join(expected)}), got {', '.join(c for c in ladder if c in table)}"
            )
        values = [table[c] for c in expected]
        if self.method == "shares":
            total = math.fsum(values)
            if abs(total - 1.0) > _SHARES_TOLERANCE:
                raise ValueError(f"shares must sum to 1, got {total:.12g}")
        else:
            if values[0] != 0:
                raise ValueError(
                    f"{self.method}: the lowest class {expected[0]} must start at 0, "
                    f"got {values[0]:g}"
                )
            for (lo_code, lo), (hi_code, hi) in pairwise(zip(expected, values, strict=True)):
                if not hi > lo:
                    raise ValueError(
                        f"{self.method}: lower bounds must increase strictly along the class "
                        f"order; {lo_code} {lo:g} is not below {hi_code} {hi:g}"
                    )
        self._check_overrides(known)
        self._check_expected()
        return self

    def _check_expected(self) -> None:
        expected = self.expected_shares or {}
        off = sorted(set(expected) - set(self.ladder))
        if off:
            raise ValueError(
                f"expected_shares: class(es) {', '.join(off)} are not on the risk ladder "
                f"({', '.join(self.ladder)})"
            )
        for code, (low, high) in expected.items():
            if low > high:
                raise ValueError(
                    f"expected_shares: {code}: the range {low:g}-{high:g} is empty "
                    "(give [low, high], low first)"
                )
        lows = math.fsum(low for low, _high in expected.values())
        if lows > 1.0 + _SHARES_TOLERANCE:
            raise ValueError(f"expected_shares: the lows sum to {lows:g}, more than 1")

    def _check_outside(self, known: set[str]) -> None:
        unknown = sorted(set(self.outside_order) - known)
        if unknown:
            raise ValueError(f"outside_order: unknown class code(s) {', '.join(unknown)}")
        if len(set(self.outside_order)) != len(self.outside_order):
            raise ValueError("outside_order: a class is listed twice")

    def _check_method_fields(self) -> dict[str, float]:
        given = [m for m in _METHODS if getattr(self, m) is not None]
        others = [m for m in given if m != self.method]
        if others:
            raise ValueError(
                f"method is {self.method}, so {', '.join(others)} must not be given "
                "(only the chosen method's table)"
            )
        table: dict[str, float] | None = getattr(self, self.method)
        if not table:
            raise ValueError(f"method is {self.method}, so {self.method} must be given")
        return table

    def _check_overrides(self, known: set[str]) -> None:
        names = [r.name for r in self.overrides]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"override names must be unique; repeated: {', '.join(dupes)}")
        for rule in self.overrides:
            if rule.to not in known:
                raise ValueError(f"override {rule.name}: unknown class code {rule.to}")
        reachable = set(self.method_classes) | {r.to for r in self.overrides}
        unreachable = [c for c in self.codes if c not in reachable]
        if unreachable:
            raise ValueError(
                f"class(es) {', '.join(unreachable)} can never be given: neither the method "
                "nor any override leads to them"
            )


def class_order(scheme: ClassScheme, *, include_outside: bool = False) -> list[str]:
    """Class codes from the lowest to the highest risk; outside classes last if asked."""
    order = list(scheme.ladder)
    if include_outside:
        order += [c for c in scheme.codes if c in set(scheme.outside_order)]
    return order


def check_features(scheme: ClassScheme, available: Iterable[str]) -> None:
    """Raise `SchemeError` if an override reads a feature that is not in ``available``."""
    have = set(available)
    missing = [
        (rule.name, cond.feature)
        for rule in scheme.overrides
        for cond in rule.when
        if cond.feature not in have
    ]
    if missing:
        listed = "; ".join(f"override {r!r} reads unknown feature {f!r}" for r, f in missing)
        raise SchemeError(f"class scheme {scheme.name!r}: {listed}")


def assign(frame: pd.DataFrame, scheme: ClassScheme) -> pd.DataFrame:
    """Classes of every row of ``frame``, aligned to its index.

    ``frame`` holds ``uscc``, ``score`` (0-1000, higher = riskier), ``probability`` (0-1)
    and the feature columns the overrides read; only the columns the scheme uses are
    required. Returns ``class_model`` (the method's class), ``class_final`` (after the
    overrides) and ``override_rule`` (the first matching rule's name, or None; recorded
    even when it leaves the class unchanged).

    ``score_bands`` and ``probability_thresholds`` may be run chunk by chunk; ``shares``
    ranks the rows it is given, so ``frame`` must hold the whole population.
    Raises `SchemeError` when an override's feature is not a column, and ``ValueError``
    when the score or probability is missing or out of range (nothing is silently classed).
    """
    check_features(scheme, map(str, frame.columns))
    n = len(frame)
    column, lo, hi = _METHOD_INPUT[scheme.method]
    values = _checked_values(frame, column, lo, hi)
    labels = np.asarray(scheme.method_classes, dtype=object)
    if scheme.method == "shares":
        idx = _share_classes(frame, values, scheme)
    else:
        bounds = np.asarray(list(scheme.cut_points.values()), dtype=np.float64)
        idx = np.searchsorted(bounds, values, side="right") - 1
    model = labels[idx] if n else np.empty(0, dtype=object)

    final = model.copy()
    rule_names = np.full(n, None, dtype=object)
    decided = np.zeros(n, dtype=bool)
    for rule in scheme.overrides:
        hit = ~decided
        for cond in rule.when:
            where = f"class scheme {scheme.name!r}, override {rule.name!r}"
            hit &= holds(frame[cond.feature], cond, where)
        final[hit] = rule.to
        rule_names[hit] = rule.name
        decided |= hit
    return pd.DataFrame(
        {
            "class_model": pd.Series(model, index=frame.index, dtype="str"),
            "class_final": pd.Series(final, index=frame.index, dtype="str"),
            "override_rule": pd.Series(rule_names, index=frame.index, dtype=object),
        },
        index=frame.index,
    )


def _checked_values(frame: pd.DataFrame, column: str, lo: float, hi: float) -> np.ndarray:
    if column not in frame.columns:
        raise ValueError(f"class assignment needs the column {column!r}")
    values: npt.NDArray[np.float64] = frame[column].to_numpy(dtype=np.float64, na_value=np.nan)
    bad = ~((values >= lo) & (values <= hi))  # NaN fails both comparisons
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        who = f" (first: uscc {frame['uscc'].iloc[first]})" if "uscc" in frame.columns else ""
        raise ValueError(
            f"{int(bad.sum())} row(s) have a missing or out-of-range {column} "
            f"(must be within {lo:g}-{hi:g}){who}"
        )
    return values


def _share_classes(frame: pd.DataFrame, score: np.ndarray, scheme: ClassScheme) -> np.ndarray:
    """Index into ``method_classes`` per row; the riskiest share goes to the riskiest class."""
    n = len(frame)
    if "uscc" not in frame.columns:
        raise ValueError("the shares method needs the column 'uscc' to break ties")
    uscc = frame["uscc"]
    if uscc.isna().any():
        raise ValueError("the shares method needs a uscc on every row")
    if uscc.duplicated().any():
        first = uscc[uscc.duplicated()].iloc[0]
        raise ValueError(f"the shares method needs unique uscc; {first} is repeated")
    counts = _largest_remainder(np.asarray(list(scheme.cut_points.values())), n)
    # rank: score descending, uscc ascending (codes of a sorted factorisation keep its order)
    uscc_rank, _ = pd.factorize(uscc, sort=True)
    ranked = np.lexsort((uscc_rank, -score))
    # the riskiest class first: counts reversed, then each rank position gets its class
    k = len(counts)
    by_rank = np.repeat(np.arange(k - 1, -1, -1), counts[::-1])
    idx = np.empty(n, dtype=np.intp)
    idx[ranked] = by_rank
    return idx


def _largest_remainder(shares: np.ndarray, n: int) -> np.ndarray:
    """Integer counts summing to ``n``, as close to ``shares * n`` as rounding allows.

    Leftover units go to the largest fractional parts; equal parts favour the riskier
    class (inspecting one more firm is the safer error).

    >>> _largest_remainder(np.array([0.5, 0.3, 0.2]), 7).tolist()
    [4, 2, 1]
    >>> _largest_remainder(np.array([0.25, 0.25, 0.25, 0.25]), 6).tolist()
    [1, 1, 2, 2]
    """
    quota = shares / shares.sum() * n
    counts: npt.NDArray[np.int64] = np.floor(quota).astype(np.int64)
    frac = quota - counts
    left = n - int(counts.sum())
    # largest fractional part first, the riskier class first on equal parts
    order = np.lexsort((-np.arange(len(shares)), -frac))
    while left > 0:  # at most len(shares) rounds
        step = min(left, len(shares))
        counts[order[:step]] += 1
        left -= step
    while left < 0:  # float error only: take back from the smallest parts
        for i in order[::-1]:
            if left < 0 and counts[i] > 0:
                counts[i] -= 1
                left += 1
    return counts


def holds(column: pd.Series, cond: Condition, where: str) -> np.ndarray:
    """Rows where ``column op value`` is true; a missing value is never true. ``where`` names
    the rule in errors (the feature is added)."""
    numeric = pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column)
    text = pd.api.types.is_string_dtype(column) and not pd.api.types.is_object_dtype(column)
    where = f"{where}, feature {cond.feature!r}"
    if (numeric and isinstance(cond.value, str)) or (text and not isinstance(cond.value, str)):
        raise SchemeError(
            f"{where}: cannot compare a {column.dtype} column with {cond.value!r} "
            "(a number against text never matches)"
        )
    try:
        result = _OPS[cond.op](column, cond.value)
    except TypeError as exc:
        raise SchemeError(f"{where}: cannot evaluate {cond.op} {cond.value!r}: {exc}") from exc
    present = column.notna().to_numpy(dtype=bool)
    hit: npt.NDArray[np.bool_] = np.asarray(result.to_numpy(dtype=bool, na_value=False)) & present
    return hit


# ------------------------------------------------------------------ bands that fit the data
class BandFitError(ValueError):
    """Score bands cannot be fitted: targets that do not fit the scheme, or scores that equal
    scores keep from being split into the classes asked for."""


def check_targets(scheme: ClassScheme, shares: Mapping[str, float]) -> tuple[str, ...]:
    """The classes the scheme's bands give, lowest first, once ``shares`` is checked against
    them: a score-band scheme, a share for each of its band classes and for nothing else
    (not an outside class, not a class only an override gives), summing to 1."""
    if scheme.method != "score_bands":
        raise BandFitError(
            f"class scheme {scheme.name} assigns classes by {scheme.method}; score bands can "
            "be fitted only for a score_bands scheme"
        )
    codes = scheme.method_classes
    why = []
    for code in shares:
        if code not in scheme.codes:
            why.append(f"{code} is not a class of the scheme")
        elif code in scheme.outside_order:
            why.append(f"{code} is outside the risk ladder")
        elif code not in codes:
            why.append(f"{code} is given only by overrides")
    missing = [c for c in codes if c not in shares]
    if missing:
        why.append(f"no share for {', '.join(missing)}")
    if why:
        raise BandFitError(
            f"target_shares must give one share to each class the bands of scheme "
            f"{scheme.name} give ({', '.join(codes)}): {'; '.join(why)}"
        )
    total = math.fsum(shares[c] for c in codes)
    if abs(total - 1.0) > _SHARES_TOLERANCE:
        raise BandFitError(f"target_shares must sum to 1, got {total:.12g}")
    return codes


def target_counts(
    codes: tuple[str, ...], shares: Mapping[str, float], n: int, capacity: int | None = None
) -> npt.NDArray[np.int64]:
    """Enterprises per class (``codes`` lowest first) out of ``n``: ``shares`` by largest
    remainder, or with ``capacity`` the highest class exactly ``capacity`` and the others the
    rest in their shares' proportions. Every class must get at least one enterprise.

    >>> target_counts(("A", "B", "C"), {"A": 0.6, "B": 0.3, "C": 0.1}, 1000).tolist()
    [600, 300, 100]
    >>> target_counts(("A", "B", "C"), {"A": 0.6, "B": 0.3, "C": 0.1}, 1000, capacity=40).tolist()
    [640, 320, 40]
    """
    if n < 1:
        raise BandFitError("no enterprise to fit the score bands on")
    if capacity is None:
        counts = _largest_remainder(np.array([shares[c] for c in codes]), n)
    else:
        if capacity >= n:
            raise BandFitError(
                f"capacity {capacity:,} is not below the population ({n:,} enterprises): the "
                f"highest class {codes[-1]} would hold every enterprise"
            )
        rest = _largest_remainder(np.array([shares[c] for c in codes[:-1]]), n - capacity)
        counts = np.append(rest, np.int64(capacity))
    short = [c for c, k in zip(codes, counts.tolist(), strict=True) if k == 0]
    if short:
        raise BandFitError(
            f"class(es) {', '.join(short)}: the target is less than one of the {n:,} "
            "enterprises; fit on a larger population or give the class a larger share"
        )
    return counts


def fit_score_bands(
    scores: npt.ArrayLike,
    scheme: ClassScheme,
    shares: Mapping[str, float],
    *,
    capacity: int | None = None,
) -> dict[str, float]:
    """Inclusive lower bounds on the score (``score_bands``, lowest class first, at 0) that
    put the target shares of ``scores`` (one per enterprise of a population) in each class.

    Each class's lower bound is placed where the count of enterprises at or above it is
    nearest its target (`target_counts`: the classes above it and itself). The bound is the
    lowest score of the enterprises above it, so equal scores always share a class.

    Ties: when the target falls inside a run of equal scores, the whole run goes up or down,
    to whichever side brings the count nearer the target; on an exact draw it goes to the
    riskier class (one more enterprise inspected is the safer error). With ``capacity`` the
    highest class never holds more than ``capacity``: a run that would cross it goes down.

    Raises `BandFitError` when the targets do not fit the scheme (`check_targets`), a score
    is missing or out of 0-1000, the scores take fewer distinct values than there are
    classes, or equal scores leave a class empty (the message names the class and the score).

    >>> scheme = ClassScheme.model_validate({
    ...     "name": "demo", "zh": "示例", "en": "demo",
    ...     "classes": [{"code": c, "zh": c, "en": c, "min_sampling_rate": 0.1} for c in "ABC"],
    ...     "method": "score_bands", "score_bands": {"A": 0, "B": 500, "C": 900}})
    >>> fit_score_bands(np.arange(10.0), scheme, {"A": 0.6, "B": 0.3, "C": 0.1})
    {'A': 0.0, 'B': 6.0, 'C': 9.0}
    >>> fit_score_bands([1, 1, 1, 1, 2, 2, 2, 3, 3, 4], scheme, {"A": 0.5, "B": 0.3, "C": 0.2})
    {'A': 0.0, 'B': 2.0, 'C': 3.0}
    """
    codes = check_targets(scheme, shares)
    s = np.asarray(scores, dtype=np.float64)
    if s.ndim != 1:
        raise BandFitError("fit_score_bands: the scores must be one value per enterprise")
    _column, lo, hi = _METHOD_INPUT["score_bands"]
    bad = ~((s >= lo) & (s <= hi))  # NaN fails both comparisons
    if bad.any():
        raise BandFitError(
            f"{int(bad.sum()):,} score(s) are missing or out of range (must be within "
            f"{lo:g}-{hi:g})"
        )
    n = len(s)
    counts = target_counts(codes, shares, n, capacity)
    asc = np.sort(s)
    distinct = int(np.count_nonzero(np.diff(asc))) + 1
    if distinct < len(codes):
        raise BandFitError(
            f"the {n:,} scores take {distinct} distinct value(s), fewer than the "
            f"{len(codes)} classes ({', '.join(codes)}): score bands cannot split them "
            "(a model that scores everyone alike, or too few enterprises)"
        )
    top = len(codes) - 1
    # at or above the lower bound of class k (k = 1 .. top): the targets of k and above
    wanted = np.cumsum(counts[::-1])[::-1][1:].tolist()
    above: list[int] = []
    for k, want in enumerate(wanted, start=1):
        value = asc[n - want]  # the want-th highest score
        run_top = n - int(np.searchsorted(asc, value, side="left"))  # the run goes up
        run_down = n - int(np.searchsorted(asc, value, side="right"))  # the run goes down
        options = [m for m in (run_top, run_down) if 0 < m < n]  # both sides keep someone
        if capacity is not None and k == top:
            options = [m for m in options if m <= capacity]
        if not options:
            raise BandFitError(
                f"class {codes[k]}: {run_top - run_down:,} enterprises share the score "
                f"{value:g}, more than the capacity of {capacity:,}; the highest class "
                "cannot hold them within capacity"
                if capacity is not None and k == top
                else f"class {codes[k]}: every enterprise has the score {value:g}"
            )
        above.append(min(options, key=lambda m: (abs(m - want), -m)))  # draw: the riskier
    for k in range(1, top):
        if above[k - 1] <= above[k]:  # class k (codes[k]) is left with no enterprise
            value = asc[n - wanted[k - 1]]
            lo_at, hi_at = (
                np.searchsorted(asc, value, side="left"),
                np.searchsorted(asc, value, side="right"),
            )
            run = int(hi_at - lo_at)
            raise BandFitError(
                f"class {codes[k]} would hold no enterprise: {run:,} enterprises "
                f"({run / n:.1%}) share the score {value:g} where its target falls, and "
                "score bands cannot split equal scores (give the class a share the scores "
                "can give)"
            )
    return {codes[0]: 0.0} | {
        code: float(asc[n - m]) for code, m in zip(codes[1:], above, strict=True)
    }


def band_shares(scores: npt.ArrayLike, bands: Mapping[str, float]) -> dict[str, float]:
    """The share of ``scores`` in each band (``bands``: inclusive lower bounds, ascending).

    >>> band_shares([0, 5, 6, 9], {"A": 0.0, "B": 6.0, "C": 9.0})
    {'A': 0.5, 'B': 0.25, 'C': 0.25}
    """
    s = np.asarray(scores, dtype=np.float64)
    bounds = np.asarray(list(bands.values()), dtype=np.float64)
    idx = np.searchsorted(bounds, s, side="right") - 1
    counts = np.bincount(idx, minlength=len(bounds))
    return {c: int(k) / max(len(s), 1) for c, k in zip(bands, counts.tolist(), strict=True)}


def with_score_bands(scheme: ClassScheme, bands: Mapping[str, float]) -> ClassScheme:
    """``scheme`` with its score bands replaced by ``bands`` (validated as any scheme is).
    `SchemeError` when the scheme is not a score-band scheme or its bands give other classes."""
    if scheme.method != "score_bands":
        raise SchemeError(f"class scheme {scheme.name} has no score bands ({scheme.method})")
    codes = scheme.method_classes
    if set(bands) != set(codes):
        raise SchemeError(
            f"the fitted score bands are for classes {', '.join(sorted(bands))}, but the bands "
            f"of class scheme {scheme.name} give {', '.join(codes)}"
        )
    data = scheme.model_dump()
    data["score_bands"] = {c: float(bands[c]) for c in codes}
    return ClassScheme.model_validate(data)


class FittedBands(BaseModel):
    """Score bands fitted at training on a population's scores (`fit_score_bands`), as a
    model version carries them (bundle meta ``class_bands``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    scheme: Name  # the scheme the bands were fitted for
    bands: dict[Name, Annotated[float, Field(ge=0, le=1000)]]  # inclusive lower bounds
    target_shares: dict[Name, Annotated[float, Field(gt=0, lt=1)]]  # as configured
    capacity: Annotated[int, Field(ge=1)] | None
    targets: dict[Name, Share]  # what the fit aimed at (capacity applied) ...
    fitted_shares: dict[Name, Share]  # ... and what it gave (equal scores share a class)
    month: str  # the feature month whose population was scored
    enterprises: Annotated[int, Field(ge=1)]
    scored_with: Text  # which model scored the population

    def apply(self, scheme: ClassScheme) -> ClassScheme:
        """``scheme`` with these bands (`with_score_bands`)."""
        return with_score_bands(scheme, self.bands)


# ------------------------------------------------------------------ shares to watch
@dataclass(frozen=True)
class ShareWarning:
    """A class whose share of the month's enterprises is empty or out of its expected range
    (aggregate figures only: never an enterprise)."""

    code: str
    kind: Literal["empty", "outside_expected", "drift"]
    share: float
    expected: tuple[float, float] | None  # the range it should lie in
    basis: Literal["class_final", "class_model"]  # after overrides, or the bands' own class

    @property
    def message(self) -> str:
        lo, hi = self.expected or (math.nan, math.nan)
        span = f"{lo:.1%}-{hi:.1%}"
        if self.kind == "empty":
            return f"class {self.code} holds no enterprise" + (
                f" (expected {span})" if self.expected else ""
            )
        if self.kind == "outside_expected":
            return (
                f"class {self.code}: {self.share:.1%} of enterprises, outside the expected "
                f"{span} (the class scheme's expected_shares)"
            )
        return (
            f"class {self.code} by the score bands (before overrides): {self.share:.1%} of "
            f"enterprises, outside {span} around the share the bands were fitted for; the "
            "scores have moved since training: retrain to refit the bands"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "class": self.code,
            "kind": self.kind,
            "share": self.share,
            "expected": None if self.expected is None else list(self.expected),
            "basis": self.basis,
            "message": self.message,
        }


def share_warnings(
    scheme: ClassScheme,
    final_counts: Mapping[str, int],
    model_counts: Mapping[str, int] | None = None,
    targets: Mapping[str, float] | None = None,
    max_drift: float = 0.5,
) -> list[ShareWarning]:
    """What classify warns about, class by class along the ladder: a class that holds no
    enterprise (after overrides); then, with ``targets`` (the shares fitted bands aimed at),
    a band class (``model_counts``: before overrides, what the bands decide) whose share is
    off its target by more than ``max_drift`` x the target; without them, a class whose final
    share lies outside the scheme's ``expected_shares``.

    >>> scheme = ClassScheme.model_validate({
    ...     "name": "demo", "zh": "示例", "en": "demo",
    ...     "classes": [{"code": c, "zh": c, "en": c, "min_sampling_rate": 0.1} for c in "ABC"],
    ...     "method": "score_bands", "score_bands": {"A": 0, "B": 500, "C": 900},
    ...     "expected_shares": {"C": [0.05, 0.1]}})
    >>> for w in share_warnings(scheme, {"A": 80, "B": 0, "C": 20}):
    ...     print(w.message)
    class B holds no enterprise
    class C: 20.0% of enterprises, outside the expected 5.0%-10.0% (the class scheme's expected_shares)
    """
    n = sum(final_counts.values())
    if n == 0:
        return []
    if targets is not None:
        counts: Mapping[str, int] = model_counts if model_counts is not None else final_counts
        basis: Literal["class_final", "class_model"] = "class_model"
        ranges = {
            c: (max(t * (1 - max_drift), 0.0), min(t * (1 + max_drift), 1.0))
            for c, t in targets.items()
        }
    else:
        counts, basis = final_counts, "class_final"
        ranges = dict(scheme.expected_shares or {})
    out = []
    for code in scheme.ladder:
        expected = ranges.get(code)
        if final_counts.get(code, 0) == 0:
            out.append(ShareWarning(code, "empty", 0.0, expected, "class_final"))
            continue
        share = counts.get(code, 0) / n
        if expected is not None and not expected[0] <= share <= expected[1]:
            kind: Literal["drift", "outside_expected"] = (
                "drift" if targets is not None else "outside_expected"
            )
            out.append(ShareWarning(code, kind, share, expected, basis))
    return out
