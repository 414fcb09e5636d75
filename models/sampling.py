"""Double-random inspection plans (双随机抽查): who is drawn, with what probability, and who
inspects them.

Within each stratum (inspection item × class) targets are drawn by simple random sampling
without replacement, at no less than the class's rate: n = ceil(rate × N) of the N eligible
enterprises, so every drawn enterprise has inclusion probability n / N, recorded in the plan
and used (as 1/p) by training and verification. Drawing modes follow the policy documents
(``../shared/seeds``): all classes at once; one class at a time; or several classes drawn,
then dispatched in batches. The seed is published with the plan: anyone with the same
classes, campaign and seed redraws the same list.

Inspectors are drawn at random from a roster, a fixed number per enterprise, never one who
declared a conflict with it or, when the campaign says so, one from the enterprise's own
registration unit; enterprises with the fewest eligible inspectors are served first, and
the least-loaded eligible inspectors are taken (ties in random order), which keeps loads
within one or two of each other where the constraints allow (greedy, not an optimum).

Pure: frames in, frames out; the randomness comes from the seed alone.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Annotated, Literal, Self

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, model_validator

from contract.tables import VOCABULARIES

Mode = Literal["all_classes", "one_class", "batches"]


class Item(BaseModel):
    """One inspection item (抽查事项) and the enterprises it applies to."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    code: str  # the contract's inspection_item vocabulary, so that results link back
    zh: str
    en: str = ""
    #: sector tags of the enterprises it applies to (``sector_tags`` of the registry); empty:
    #: every enterprise
    tags: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _codes_of_the_contract(self) -> Self:
        items, tags = VOCABULARIES["inspection_item"], VOCABULARIES["sector_tag"]
        if self.code not in items:
            raise ValueError(
                f"item {self.code!r} is not an inspection_item code ({', '.join(items)})"
            )
        unknown = [t for t in self.tags if t not in tags]
        if unknown:
            raise ValueError(f"tags {unknown} are not sector_tag codes ({', '.join(tags)})")
        return self


class Campaign(BaseModel):
    """`configs/campaigns/<name>.yaml`: what is inspected, how it is drawn, who is excluded."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    zh: str
    items: tuple[Item, ...] = Field(min_length=1)
    mode: Mode = "all_classes"
    #: classes drawn (one for ``one_class``; several for ``batches``); empty: every class
    #: that has a sampling rate
    classes: tuple[str, ...] = ()
    batches: Annotated[int, Field(ge=1, le=100)] = 1
    #: per-class rates above the scheme's minimum (a rate below it is refused)
    rates: dict[str, Annotated[float, Field(gt=0, le=1)]] = Field(default_factory=dict)
    #: enterprises inspected within this many months are not drawn again ...
    exclude_inspected_months: Annotated[int, Field(ge=0, le=60)] = 12
    #: ... unless they are in one of these classes
    always_draw: tuple[str, ...] = ("D",)
    inspectors_per_inspection: Annotated[int, Field(ge=1, le=5)] = 2
    exclude_own_unit: bool = True

    @model_validator(mode="after")
    def _mode_fits_classes(self) -> Self:
        if self.mode == "one_class" and len(self.classes) != 1:
            raise ValueError("mode one_class draws exactly one class: give classes: [X]")
        if self.mode != "batches" and self.batches != 1:
            raise ValueError("batches is only for mode batches")
        return self


class PlanError(ValueError):
    """The classes, the campaign and the roster do not make a plan."""


def rates_for(campaign: Campaign, minimum: Mapping[str, float | None]) -> dict[str, float]:
    """The rate of each class drawn: the campaign's where given (never below the scheme's
    minimum), else the minimum; classes without a rate (dormant) are not drawn."""
    drawn = campaign.classes or tuple(c for c, r in minimum.items() if r is not None)
    out = {}
    for c in drawn:
        if c not in minimum:
            raise PlanError(f"plan: class {c!r} is not in the class scheme ({', '.join(minimum)})")
        floor = minimum[c]
        rate = campaign.rates.get(c, floor)
        if rate is None:
            raise PlanError(
                f"plan: class {c!r} has no sampling rate; give campaign rates: {{{c}: r}}"
            )
        if floor is not None and rate < floor:
            raise PlanError(
                f"plan: rate {rate:.2%} for class {c} is below the scheme's minimum {floor:.2%}"
            )
        out[c] = float(rate)
    return out


def rng_for(seed: int, month: str, campaign: str) -> np.random.Generator:
    """The plan's generator: from the published seed, the month and the campaign name only."""
    year, mon = (int(p) for p in month.split("-"))
    name = [ord(ch) for ch in campaign]
    return np.random.default_rng(np.random.SeedSequence([seed, year, mon, *name]))


def draw(
    population: pd.DataFrame,
    campaign: Campaign,
    rates: Mapping[str, float],
    rng: np.random.Generator,
) -> pd.DataFrame:
    """The targets: one row per (item, enterprise) drawn, with ``stratum_size``, ``drawn``
    and ``inclusion_probability`` = drawn / stratum size; ``enterprise_probability``, the
    chance the enterprise is drawn for at least one item, 1 - prod(1 - p) over the items
    that apply to it (the strata are drawn independently); and ``batch`` (1..batches).

    ``population``: uscc, class, tags (a tuple of sector tags), excluded (bool: inspected
    recently, deregistered ...) — one row per enterprise of the month, in a fixed order."""
    pop = population[~population["excluded"].to_numpy()]
    rows = []
    usccs = pop["uscc"].to_numpy()
    log_miss = np.zeros(len(pop))  # per enterprise: sum of log(1 - p) over its items' strata
    certain = np.zeros(len(pop), dtype=bool)
    position = []
    for item in campaign.items:
        applies = (
            pop["tags"].map(lambda t, want=set(item.tags): bool(want & set(t)))
            if item.tags
            else pd.Series(True, index=pop.index)
        )
        for klass, rate in rates.items():
            members = np.flatnonzero(applies.to_numpy() & (pop["class"] == klass).to_numpy())
            size = len(members)
            if size == 0:
                continue
            n = min(size, math.ceil(rate * size))
            if n == size:
                certain[members] = True
            else:
                log_miss[members] += math.log1p(-n / size)
            chosen = members[np.sort(rng.choice(size, size=n, replace=False))]
            position.append(chosen)
            stratum = {
                "item": item.code,
                "uscc": usccs[chosen],
                "class": klass,
                "rate": rate,
                "stratum_size": size,
                "drawn": n,
                "inclusion_probability": n / size,
            }
            rows.append(pd.DataFrame(stratum))
    if not rows:
        raise PlanError("plan: no enterprise is eligible for any item of the campaign")
    plan = pd.concat(rows, ignore_index=True)
    # An enterprise that several items apply to is inspected once, for the items it is drawn
    # for: its chance of an inspection is the union of the independent draws of every item
    # that applies to it, drawn or not (what feedback records as its inclusion probability).
    at = np.concatenate(position)
    plan["enterprise_probability"] = np.where(certain[at], 1.0, -np.expm1(log_miss[at]))
    plan["batch"] = 1
    if campaign.batches > 1:  # dispatched in batches: enterprises shuffled, then cut
        firms = plan["uscc"].unique()
        order = rng.permutation(len(firms))
        batch_of = dict(
            zip(firms[order], np.arange(len(firms)) % campaign.batches + 1, strict=True)
        )
        plan["batch"] = plan["uscc"].map(batch_of)
    return plan


def assign_inspectors(
    plan: pd.DataFrame,
    division_of: Mapping[str, str],
    roster: pd.DataFrame,
    campaign: Campaign,
    rng: np.random.Generator,
) -> pd.DataFrame:
    """``inspectors``: the ids assigned to each enterprise (all its items), ``;``-joined.

    ``roster``: inspector_id, unit (division code), conflicts (a tuple of USCCs)."""
    k = campaign.inspectors_per_inspection
    if len(roster) < k:
        raise PlanError(
            f"plan: the roster has {len(roster)} inspectors, {k} are needed per inspection"
        )
    ids = roster["inspector_id"].to_numpy()
    units = roster["unit"].astype(str).to_numpy()
    conflicts = [set(c) for c in roster["conflicts"]]
    load = np.zeros(len(ids), dtype=int)
    out: dict[str, str] = {}
    firms = plan["uscc"].drop_duplicates().tolist()
    allowed = {}
    for u in firms:
        ok = np.array([u not in c for c in conflicts])
        if campaign.exclude_own_unit:
            ok &= units != str(division_of.get(u, ""))
        allowed[u] = np.flatnonzero(ok)
    # the most constrained enterprises first, so that a late one is not left without a pair
    for u in sorted(firms, key=lambda f: len(allowed[f])):  # stable: plan order among equals
        eligible = allowed[u]
        if len(eligible) < k:
            raise PlanError(
                f"plan: only {len(eligible)} inspector(s) may inspect {u} (conflicts, own unit); "
                f"{k} are needed: enlarge the roster"
            )
        tie = rng.permutation(len(eligible))  # random order among equal loads
        pick = eligible[np.lexsort((tie, load[eligible]))[:k]]
        load[pick] += 1
        out[u] = ";".join(sorted(map(str, ids[pick])))
    return plan.assign(inspectors=plan["uscc"].map(out))


def loads(plan: pd.DataFrame) -> pd.Series:
    """Enterprises per inspector."""
    firms = plan.drop_duplicates("uscc")["inspectors"].str.split(";").explode()
    return firms.value_counts()
