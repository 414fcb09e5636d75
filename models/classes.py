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
from collections.abc import Callable, Iterable
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
        return self

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
