"""The feature catalog: every feature's meaning, in one place.

Each information-group module (`features.base`, `features.dynamic`, `features.supervision`,
`features.relations`, `features.social`) declares its features as `Feature` objects that
carry both the definition (a SQL expression, see `features.engine`) and everything a
person or a later stage needs to know about it:

* its Chinese and English name and description, and its unit;
* ``direction``: +1 when a higher value can only raise the risk (more penalties), -1 when
  it can only lower it (a better tax rating), 0 when the regulation implies no direction.
  The model stage turns this into LightGBM monotone constraints;
* ``actionable``: whether the enterprise itself can change it (file the missing annual
  report, settle the enforcement case ...), with the advice reports give ("what would
  lower the risk");
* the sentence templates reports use, in Chinese and English. ``{value}`` is this
  feature's value; any other ``{name}`` is the value of the catalog entry ``name`` for the
  same enterprise and month (for example the date of the latest penalty);
* ``role``: ``model`` for features the model learns from, ``context`` for columns kept
  beside them only so that reports can state real values and dates (never a model input).

`docs/features.md` is rendered from `CATALOG` (``riskclass feature-docs``), and the feature
files carry exactly the catalog's columns, in catalog order.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal

from contract.tables import GROUPS, VOCABULARIES, Group

Kind = Literal["number", "flag", "category", "date"]
Role = Literal["model", "context"]
Fill = Literal["zero", "missing"]

#: Units, Chinese and English, by key.
UNITS: Mapping[str, tuple[str, str]] = MappingProxyType(
    {
        "count": ("次(个)", "count"),
        "days": ("天", "days"),
        "months": ("月", "months"),
        "years": ("年", "years"),
        "wan_yuan": ("万元", "10k yuan"),
        "log_wan_yuan": ("ln(1+万元)", "ln(1 + 10k yuan)"),
        "share": ("比例(0-1)", "share (0-1)"),
        "ratio": ("倍", "ratio"),
        "flag": ("是=1/否=0", "yes=1 / no=0"),
        "code": ("代码", "code"),
        "date": ("日期", "date"),
        "score": ("分", "points"),
        "persons": ("人", "persons"),
        "value": ("原值(按报送单位)", "as delivered (its own unit)"),
    }
)

#: The problem categories inspectors record (contract vocabulary ``problem_category``).
PROBLEM_CATEGORIES: tuple[str, ...] = tuple(VOCABULARIES["problem_category"])

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_PLACEHOLDER = re.compile(r"\{([a-z_][a-z0-9_]*)(?::[^}]*)?\}")


@dataclass(frozen=True)
class Feature:
    """One feature: its definition (``sql``) and its meaning.

    ``sql`` is an expression over the population row ``p`` and the block aliases its
    module declares (`features.engine.Block`); ``sources`` are the contract tables it
    reads. ``fill`` says what an enterprise with no records in those tables gets: ``zero``
    for counts and flags (no penalty is a true zero), ``missing`` for values that do not
    exist without a record (days since the last penalty, the revenue of a report never
    filed). When a source table was not provided at all, the feature is missing (NaN) for
    every enterprise whatever ``fill`` says: absence of data is not evidence of absence.
    Likewise a value computed from a record's unknown (NULL) column is missing, ``fill``
    or not: ``fill='zero'`` applies only where the enterprise has no record.
    """

    name: str
    group: Group
    zh: str
    en: str
    zh_desc: str
    en_desc: str
    unit: str
    sql: str
    sources: tuple[str, ...]
    kind: Kind = "number"
    direction: Literal[-1, 0, 1] = 0
    actionable: bool = False
    template_zh: str = ""
    template_en: str = ""
    advice_zh: str = ""
    advice_en: str = ""
    fill: Fill = "missing"
    role: Role = "model"
    #: Problem categories (contract vocabulary ``problem_category``) this feature speaks for:
    #: what an inspector would find if the risk it points to is real. Verification scores a
    #: report's main risk points against the category inspectors found (issue 19).
    categories: tuple[str, ...] = ()
    #: Empty for a feature expected to be stationary month to month; otherwise the reason
    #: (in English) it genuinely trends (an age that grows, a calendar effect), so that a
    #: drift test and a reader of the drift report know the movement is not a data fault.
    trend: str = ""

    def placeholders(self) -> set[str]:
        """Catalog names the templates refer to (``value`` is this feature itself).

        >>> f = Feature(
        ...     "pen_n_12m", "supervision", "处罚次数", "penalties", "近12个月", "last 12 months",
        ...     "count", "pen.n_12m", ("penalties",),
        ...     template_zh="近12个月受到{value}次行政处罚，最近一次在{pen_last_date}",
        ...     template_en="{value} penalties in 12 months, the latest on {pen_last_date}",
        ... )
        >>> sorted(f.placeholders())
        ['pen_last_date', 'pen_n_12m']
        """
        found = set(_PLACEHOLDER.findall(self.template_zh + self.template_en))
        return {self.name if n == "value" else n for n in found}


class CatalogError(ValueError):
    """The catalog contradicts itself (a programming error, caught by the tests)."""


def check_catalog(features: tuple[Feature, ...]) -> None:
    """Raise `CatalogError` unless names are unique and every entry is complete."""
    seen: set[str] = set()
    names = {f.name for f in features}
    for f in features:
        where = f"feature {f.name}"
        if not _NAME.match(f.name):
            raise CatalogError(f"{where}: names are lower_snake_case")
        if f.name in seen:
            raise CatalogError(f"{where}: defined twice")
        seen.add(f.name)
        if f.group not in GROUPS:
            raise CatalogError(f"{where}: unknown group {f.group!r}")
        if f.unit not in UNITS:
            raise CatalogError(f"{where}: unknown unit {f.unit!r}")
        if not (f.zh and f.en and f.zh_desc and f.en_desc):
            raise CatalogError(f"{where}: Chinese and English name and description are required")
        if f.role == "model" and not (f.template_zh and f.template_en):
            raise CatalogError(f"{where}: model features need a Chinese and English template")
        if f.actionable and not (f.advice_zh and f.advice_en):
            raise CatalogError(f"{where}: actionable features need advice in both languages")
        if f.kind in ("category", "date") and f.direction != 0:
            raise CatalogError(f"{where}: a {f.kind} has no risk direction")
        bad = set(f.categories) - set(PROBLEM_CATEGORIES)
        if bad:
            raise CatalogError(f"{where}: unknown problem categories {sorted(bad)}")
        unknown = f.placeholders() - names
        if unknown:
            raise CatalogError(f"{where}: templates name unknown features {sorted(unknown)}")
