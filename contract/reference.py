"""Reference code lists, product data shipped with the package: the county-level divisions
(GB/T 2260) and the industry classification (GB/T 4754-2017). Sources and vintages are in
``contract/data/README.md`` and ``contract/data/INDUSTRIES.md``.

The province a bureau covers is configuration (``province:`` in ``configs/ingest.yaml``, and the
simulated one in ``configs/simulator.yaml``);
the functions here take its code. The lists shipped today cover Guangdong (44).

>>> len(division_codes("44")) > 100
True
>>> "5211" in industry_codes()
True
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache
from importlib import resources

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


def industry_codes() -> frozenset[str]:
    """The industry vocabulary (4-digit class codes)."""
    return frozenset(industries().code)
