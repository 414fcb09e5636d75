"""Reference code lists shipped with the package: the province's divisions (GB/T 2260) and
the industry classification (GB/T 4754-2017). Sources are in ``simulator/data/*.md``."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache
from importlib import resources

import numpy as np
import numpy.typing as npt


@dataclass(frozen=True)
class Divisions:
    code: npt.NDArray[np.int64]
    name_zh: tuple[str, ...]
    prefecture_zh: tuple[str, ...]
    weight: npt.NDArray[np.float64]


@dataclass(frozen=True)
class Industries:
    """4-digit classes with the weight of their 2-digit division spread over them."""

    code: tuple[str, ...]
    division: tuple[str, ...]
    weight: npt.NDArray[np.float64]
    tags: tuple[str, ...]
    division_names: dict[str, str]


def _rows(name: str) -> list[dict[str, str]]:
    text = resources.files("simulator").joinpath("data", name).read_text(encoding="utf-8")
    return list(csv.DictReader(text.splitlines()))


@cache
def divisions() -> Divisions:
    rows = _rows("divisions.csv")
    weight = np.array([float(r["enterprise_weight"]) for r in rows])
    return Divisions(
        code=np.array([int(r["code"]) for r in rows], dtype=np.int64),
        name_zh=tuple(r["name_zh"] for r in rows),
        prefecture_zh=tuple(r["prefecture_zh"] for r in rows),
        weight=weight / weight.sum(),
    )


@cache
def industries() -> Industries:
    div_rows = _rows("industries.csv")
    div_weight = {r["code"]: float(r["enterprise_weight"]) for r in div_rows}
    classes = _rows("industry_classes.csv")
    per_division: dict[str, int] = {}
    for r in classes:
        per_division[r["division"]] = per_division.get(r["division"], 0) + 1
    # A division's enterprises are spread evenly over its classes.
    weight = np.array([div_weight[r["division"]] / per_division[r["division"]] for r in classes])
    return Industries(
        code=tuple(r["code"] for r in classes),
        division=tuple(r["division"] for r in classes),
        weight=weight / weight.sum(),
        tags=tuple(r["tags"] for r in classes),
        division_names={r["code"]: r["name_zh"] for r in div_rows},
    )


def division_codes() -> frozenset[str]:
    """The division vocabulary (6-digit codes as strings)."""
    return frozenset(str(c) for c in divisions().code)


def industry_codes() -> frozenset[str]:
    """The industry vocabulary (4-digit class codes)."""
    return frozenset(industries().code)
