"""The synthetic province's mix: the reference code lists (``contract.reference``) joined to the
simulator's own sampling weights (``simulator/data/*_weights.csv``), which are estimates made
for the simulation and not reference data."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache
from importlib import resources

import numpy as np
import numpy.typing as npt

from contract import reference


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


def _weights(name: str) -> dict[str, float]:
    text = resources.files("simulator").joinpath("data", name).read_text(encoding="utf-8")
    return {r["code"]: float(r["enterprise_weight"]) for r in csv.DictReader(text.splitlines())}


@cache
def divisions(province: str) -> Divisions:
    ref = reference.divisions(province)
    weights = _weights("division_weights.csv")
    weight = np.array([weights[str(c)] for c in ref.code])
    return Divisions(
        code=ref.code,
        name_zh=ref.name_zh,
        prefecture_zh=ref.prefecture_zh,
        weight=weight / weight.sum(),
    )


@cache
def industries() -> Industries:
    ref = reference.industries()
    div_weight = _weights("industry_weights.csv")
    per_division: dict[str, int] = {}
    for d in ref.division:
        per_division[d] = per_division.get(d, 0) + 1
    # A division's enterprises are spread evenly over its classes.
    weight = np.array([div_weight[d] / per_division[d] for d in ref.division])
    return Industries(
        code=ref.code,
        division=ref.division,
        weight=weight / weight.sum(),
        tags=ref.tags,
        division_names=ref.division_names,
    )
