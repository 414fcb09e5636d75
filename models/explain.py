"""Explanations: each enterprise's main risk points (主要风险点) from TreeSHAP.

Contributions are exact path-dependent TreeSHAP values in the model's margin (log-odds):
one per feature plus the expected value, summing to the margin of that row. Two engines give
the same values (tests check <= 1e-9 and the same top risk points):

* `models.treeshap` (default): per-leaf tables, ~4.7x faster than LightGBM's ``pred_contrib``
  for the tuned model on 2 cores, within a depth budget (`treeshap.MAX_PATH_FEATURES`);
* LightGBM's ``pred_contrib`` (`contributions`): the reference, and the fallback for a model
  beyond the budget.

Never use shap's own tree parser on a LightGBM model with categorical splits (it returns
wrong values without an error; ``../shared/design.md``); `shap.TreeExplainer` hands off to
LightGBM by default, and a test checks that all three agree.

A deployed model can be a general booster plus sector boosters (`pipelines.bundle`), blended
by `models.sectors`: with the ``boost`` rule the sector trees continue the general margin, so
an enterprise of the sector is explained by the sum of both models' contributions (exact);
with ``replace`` by the sector model's alone (exact); with ``average`` (probabilities
averaged) by the mean of the two models' contributions, which adds up to the mean of the two
margins, not to the averaged probability's log-odds: an approximation, said so in the report.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import lightgbm as lgb
import numpy as np
import numpy.typing as npt

from models import gbm, treeshap
from models.sectors import margin

F = npt.NDArray[np.float64]

#: Contributions are ranked after rounding to this many decimals, so that two exact engines
#: whose sums differ in the last bits (~1e-15) rank the same features first.
RANK_DECIMALS = 10


def contributions(booster: lgb.Booster, x: F) -> F:
    """LightGBM's own TreeSHAP (``pred_contrib``), shape (rows, features + 1); the last
    column is the expected value. The reference for `Explainer`."""
    if len(x) == 0:
        return np.zeros((0, booster.num_feature() + 1))
    threads = gbm.threads_of(booster)
    return np.asarray(booster.predict(x, pred_contrib=True, num_threads=threads), dtype=float)


@dataclass
class _Engine:
    booster: lgb.Booster
    tables: treeshap.Tables | None  # None: beyond the depth budget, LightGBM computes

    @classmethod
    def of(cls, booster: lgb.Booster, engine: str) -> _Engine:
        if engine not in ("tables", "lightgbm"):
            raise ValueError(f"explanation engine must be 'tables' or 'lightgbm', not {engine!r}")
        use = engine == "tables" and treeshap.supported(booster)
        return cls(booster, treeshap.build(booster) if use else None)

    def __call__(self, x: F) -> F:
        if self.tables is None:
            return contributions(self.booster, x)
        return treeshap.contributions(self.tables, x)


@dataclass
class Explainer:
    """Contributions of a deployed model (general booster, sector boosters and their rule)
    to each enterprise's margin."""

    general: _Engine
    sectors: list[tuple[str, _Engine]] = field(default_factory=list)  # (flag column, engine)
    sector_rule: str = "boost"

    @classmethod
    def build(
        cls,
        general: lgb.Booster,
        sectors: Sequence[tuple[str, lgb.Booster]] = (),
        sector_rule: str = "boost",
        engine: str = "tables",
    ) -> Explainer:
        return cls(
            _Engine.of(general, engine),
            [(flag, _Engine.of(b, engine)) for flag, b in sectors],
            sector_rule,
        )

    @property
    def engine(self) -> str:
        """'tables' when every booster is explained by `models.treeshap`, 'lightgbm' when
        none is, 'mixed' otherwise (a booster beyond the budget falls back on its own)."""
        engines = [self.general, *(e for _f, e in self.sectors)]
        fast = sum(e.tables is not None for e in engines)
        return "tables" if fast == len(engines) else "lightgbm" if fast == 0 else "mixed"

    @property
    def exact(self) -> bool:
        """False only for the ``average`` rule with sector models (see the module doc)."""
        return not (self.sectors and self.sector_rule == "average")

    def __call__(self, x: F, flags: Mapping[str, npt.ArrayLike]) -> F:
        """As `pipelines.bundle.Bundle.probability` scores (`models.sectors`): each sector
        model works from the general model, and for an enterprise of several sectors the
        later one wins."""

        def of(engine: _Engine) -> Callable[[F], F]:
            return lambda rows: engine(np.ascontiguousarray(rows))

        sectors = [(flag, of(engine)) for flag, engine in self.sectors]
        return margin(self.sector_rule, x, flags, self.general(x), sectors)


def top_risk_points(contrib: F, k: int = 5) -> tuple[npt.NDArray[np.int64], F]:
    """Per row, the ``k`` features that raise the risk most (largest positive contributions,
    ties by feature order), as (feature indices, contributions); a slot with no positive
    contribution left is -1 / NaN: never a reason the model did not give."""
    c = contrib[:, :-1]
    k = min(k, c.shape[1])
    # stable descending order of the rounded values (`RANK_DECIMALS`), ties by feature position
    order = np.argsort(-np.round(c, RANK_DECIMALS), axis=1, kind="stable")[:, :k]
    values = np.take_along_axis(c, order, axis=1)
    positive = np.round(values, RANK_DECIMALS) > 0  # rounded, so both engines agree on ~0
    return np.where(positive, order, -1), np.where(positive, values, np.nan)


def group_sums(
    contrib: F, features: Sequence[str], group_of: Mapping[str, str], groups: Sequence[str]
) -> F:
    """How much each information group pushes the risk (sum of its features' contributions),
    shape (rows, len(groups))."""
    c = contrib[:, :-1]
    out = np.zeros((len(c), len(groups)))
    index = {g: i for i, g in enumerate(groups)}
    for j, name in enumerate(features):
        out[:, index[group_of[name]]] += c[:, j]
    return out
