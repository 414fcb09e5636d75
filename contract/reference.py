"""Reference code lists, product data shipped with the package: the county-level divisions
(GB/T 2260) and the industry classification (GB/T 4754-2017). Sources and vintages are in
``contract/data/README.md`` and ``contract/data/INDUSTRIES.md``.

The province a bureau covers is configuration (``province:`` in ``configs/ingest.yaml``, and the
simulated one in ``configs/simulator.yaml``);
the functions here take its code. The division list covers all 31 provinces; codes retired since
2013 are mapped to their successors in ``contract/data/division_changes.csv``.

>>> len(division_codes("44")) > 100
True
>>> len(provinces())
31
>>> division_successors()["440116"]
'440112'
>>> "5211" in industry_codes()
True
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from importlib import resources
from types import MappingProxyType

import numpy as np
import numpy.typing as npt


class ReferenceError(ValueError):
    """A province or code list the shipped reference data does not cover."""


@dataclass(frozen=True)
class Divisions:
    """County-level divisions of one province, in the order of ``contract/data/divisions.csv``."""

    code: npt.NDArray[np.int64]
    name_zh: tuple[str, ...]
    prefecture_zh: tuple[str, ...]


@dataclass(frozen=True)
class Industries:
    """The 4-digit classes of GB/T 4754-2017 with their 2-digit division and sector tags."""

    code: tuple[str, ...]
    division: tuple[str, ...]
    tags: tuple[str, ...]
    division_names: dict[str, str]


def rows(name: str) -> list[dict[str, str]]:
    """The rows of one shipped reference file (``contract/data/<name>``)."""
    text = resources.files("contract").joinpath("data", name).read_text(encoding="utf-8")
    return list(csv.DictReader(text.splitlines()))


def provinces() -> frozenset[str]:
    """The two-digit province codes the shipped division list covers."""
    return frozenset(r["code"][:2] for r in rows("divisions.csv"))


@cache
def _names() -> MappingProxyType[str, str]:
    return MappingProxyType({r["code"]: r["name_zh"] for r in rows("divisions.csv")})


@cache
def _province_names() -> MappingProxyType[str, str]:
    return MappingProxyType({r["code"][:2]: r["province_zh"] for r in rows("divisions.csv")})


@cache
def _successors() -> MappingProxyType[str, str]:
    current = _names()
    step = {r["retired_code"]: r["successor_code"] for r in rows("division_changes.csv")}
    out: dict[str, str] = {}
    for retired in step:
        if retired in current:
            raise ReferenceError(
                f"division_changes.csv: {retired} is retired but still in divisions.csv"
            )
        seen = [retired]
        code = step[retired]
        while code not in current:
            if code not in step or code in seen:
                raise ReferenceError(
                    f"division_changes.csv: {' -> '.join([*seen, code])} does not end at a "
                    "current division of divisions.csv"
                )
            seen.append(code)
            code = step[code]
        out[retired] = code
    return MappingProxyType(out)


@cache
def divisions(province: str) -> Divisions:
    """The divisions of ``province`` (two-digit GB/T 2260 code, for example ``"44"``)."""
    mine = [r for r in rows("divisions.csv") if r["code"][:2] == province]
    if not mine:
        raise ReferenceError(
            f"province: the shipped division list (contract/data/divisions.csv) "
            f"has no divisions for province {province!r}; it covers {sorted(provinces())}"
        )
    return Divisions(
        code=np.array([int(r["code"]) for r in mine], dtype=np.int64),
        name_zh=tuple(r["name_zh"] for r in mine),
        prefecture_zh=tuple(r["prefecture_zh"] for r in mine),
    )


@cache
def industries() -> Industries:
    classes = rows("industry_classes.csv")
    return Industries(
        code=tuple(r["code"] for r in classes),
        division=tuple(r["division"] for r in classes),
        tags=tuple(r["tags"] for r in classes),
        division_names={r["code"]: r["name_zh"] for r in rows("industries.csv")},
    )


def division_codes(province: str) -> frozenset[str]:
    """The division vocabulary of ``province`` (6-digit codes as strings)."""
    return frozenset(str(c) for c in divisions(province).code)


@cache
def all_division_codes() -> frozenset[str]:
    """Every current county-level division code of the shipped list, all provinces.

    >>> len(all_division_codes()) > 2800
    True
    >>> "110101" in all_division_codes(), "440116" in all_division_codes()
    (True, False)
    """
    return frozenset(_names())


def division_codes_of(provinces: Iterable[str]) -> frozenset[str]:
    """The division vocabulary of several provinces (the union of `division_codes`).

    Raises `ReferenceError` naming a province the shipped list does not cover.

    >>> codes = division_codes_of(["44", "45"])
    >>> "440103" in codes and "450102" in codes and "110101" not in codes
    True
    >>> division_codes_of(["44", "99"])
    Traceback (most recent call last):
    ...
    contract.reference.ReferenceError: province: ... has no divisions for province '99'; ...
    """
    if isinstance(provinces, str):
        raise TypeError(f"division_codes_of takes several province codes (e.g. [{provinces!r}])")
    out: frozenset[str] = frozenset()
    for province in provinces:
        out |= division_codes(province)
    return out


def division_successors() -> dict[str, str]:
    """Retired division codes mapped to the current code that succeeded them.

    Chains are followed, so every value is a current code (in `all_division_codes`); a code
    whose successor could not be determined is not a key (``contract/data/README.md``).

    >>> successors = division_successors()
    >>> successors["440116"], successors["440183"], successors["440184"]
    ('440112', '440118', '440117')
    >>> set(successors.values()) <= all_division_codes()
    True
    """
    return dict(_successors())


def province_names() -> dict[str, str]:
    """The Chinese name of each province the shipped list covers, by two-digit code.

    >>> province_names()["44"], province_names()["65"]
    ('广东省', '新疆维吾尔自治区')
    """
    return dict(_province_names())


def division_name(code: str) -> str | None:
    """The Chinese name of a current division code; ``None`` for a code not in the list.

    A retired code is not named here: `division_successors` gives the code that replaced it.

    >>> division_name("440112"), division_name("440116")
    ('黄埔区', None)
    """
    return _names().get(code)


def industry_codes() -> frozenset[str]:
    """The industry vocabulary (4-digit class codes)."""
    return frozenset(industries().code)
