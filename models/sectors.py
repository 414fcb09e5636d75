"""The sector blend (一般 + 专业): how a sector model's output joins the general model's.

One implementation for every place that combines them: training (`pipelines.train`, which
scores each sector model while deciding to keep it), scoring (`pipelines.bundle.Bundle`,
used by classify, verify and the reports), explaining (`models.explain.Explainer`) and the
benchmarks. The rule is the configuration's ``sector_rule``:

* ``boost``: the sector trees were grown on the general model's margin, so the sector's
  margin is the sum of both (`sector_raw`); explained by the sum of both models'
  contributions (exact);
* ``replace``: the sector model alone (exact);
* ``average``: the mean of the general and the sector probability when scoring
  (`blend_probability`); the mean of the two margins (or contributions) when explaining
  (`blend_margin`), which is not the averaged probability's log-odds: an approximation.

Sectors apply in configuration order (`overlay`): an enterprise in two sectors gets the
later one, never a mix of both.

>>> import numpy as np
>>> general, sector = np.array([1.0, 2.0]), np.array([0.5, 0.5])
>>> blend_margin("boost", general, sector), blend_margin("replace", general, sector)
(array([1.5, 2.5]), array([0.5, 0.5]))
>>> blend_margin("average", general, sector)
array([0.75, 1.25])
>>> blend_probability("average", np.array([0.2]), np.array([0.4])), blend_probability(
...     "boost", np.array([0.2]), np.array([0.4]))
(array([0.3]), array([0.2]))
>>> flags = {"food": np.array([1, 1, 0]), "drug": np.array([0, 1, 0])}
>>> overlay(np.zeros(3), flags, [("food", 1.0), ("drug", 2.0)], lambda v, m: np.full(m.sum(), v))
array([1., 2., 0.])
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Literal, TypeAlias, TypeVar

import lightgbm as lgb
import numpy as np
import numpy.typing as npt
import pandas as pd

from models import gbm

F = npt.NDArray[np.float64]
Matrix: TypeAlias = pd.DataFrame | npt.NDArray[np.float64]
Rule = Literal["boost", "replace", "average"]
S = TypeVar("S")


def sector_raw(rule: str, sector: lgb.Booster, x: Matrix, general_margin: F | None) -> F:
    """The sector model's uncalibrated probability for the rows ``x`` of its sector:
    ``boost`` continues ``general_margin`` (the general model's margin on the same rows);
    ``replace`` and ``average`` use the sector model's own probability."""
    if rule == "boost":
        if general_margin is None:
            raise ValueError("sector_raw: the boost rule needs the general model's margin")
        return gbm.sigmoid(general_margin + gbm.predict_margin(sector, x))
    return np.asarray(gbm.predict_raw(sector, x), dtype=float)


def blend_probability(rule: str, sector: F, general: F) -> F:
    """The calibrated probability of a sector's enterprises: the mean of the sector's and
    the general one under ``average``, the sector's otherwise."""
    return (sector + general) / 2 if rule == "average" else sector


def blend_margin(rule: str, general: F, sector: F) -> F:
    """Margins, or TreeSHAP contributions (rows x features + 1), of a sector's enterprises:
    their sum under ``boost``, the sector's under ``replace``, their mean under ``average``."""
    if rule == "boost":
        return general + sector
    if rule == "replace":
        return sector
    return (general + sector) / 2


def overlay(
    general: F,
    flags: Mapping[str, npt.ArrayLike],
    sectors: Sequence[tuple[str, S]],
    value: Callable[[S, npt.NDArray[np.bool_]], F],
) -> F:
    """``general`` with the rows of each sector (flag column == 1) replaced by ``value(sector,
    rows)``, in the order given: a row of two sectors keeps the later one's value."""
    out = general.copy()
    for flag, sector in sectors:
        m = np.asarray(flags[flag]) == 1
        if not m.any():
            continue
        out[m] = value(sector, m)
    return out


def probability(
    rule: str,
    x: npt.NDArray[np.float64],
    flags: Mapping[str, npt.ArrayLike],
    general_margin: F,
    general_probability: F,
    sectors: Sequence[tuple[str, lgb.Booster, Callable[[F], F]]],
) -> F:
    """The deployed model's calibrated probability: the general one (``general_probability``,
    from ``general_margin``), with each sector's enterprises scored by their sector model
    (flag column, booster, calibrator; in configuration order) and blended by ``rule``."""

    def score(sector: tuple[lgb.Booster, Callable[[F], F]], m: npt.NDArray[np.bool_]) -> F:
        booster, calibrate = sector
        ps = calibrate(sector_raw(rule, booster, x[m], general_margin[m]))
        return blend_probability(rule, ps, general_probability[m])

    return overlay(general_probability, flags, [(f, (b, c)) for f, b, c in sectors], score)


def margin(
    rule: str,
    x: npt.NDArray[np.float64],
    flags: Mapping[str, npt.ArrayLike],
    general: F,
    sectors: Sequence[tuple[str, Callable[[npt.NDArray[np.float64]], F]]],
) -> F:
    """The deployed model's margins (``general``: the general model's, one per row) or
    contributions (``general``: rows x features + 1), with each sector's enterprises
    combined by ``rule`` with what ``sectors``' functions (flag column, function of the
    sector's rows; in configuration order) give for them."""

    def combine(of: Callable[[npt.NDArray[np.float64]], F], m: npt.NDArray[np.bool_]) -> F:
        return blend_margin(rule, general[m], of(x[m]))

    return overlay(general, flags, sectors, combine)
