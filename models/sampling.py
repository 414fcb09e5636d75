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

Scope and designs (issue 20; seeds/002: 「各县（市、区）市场监管部门根据企业信用风险分类结果制定
"双随机、一公开"监管抽查工作计划，合理确定、动态调整抽查比例和频次」):

* a campaign may name ``divisions`` (GB/T 2260 codes or prefixes: ``4401`` covers
  ``440106``) and ``industries`` (GB/T 4754 codes or prefixes, or section letters ``A``-``T``);
  only the enterprises in scope are its population;
* ``strata: [item, class, division]`` draws each division x item x class stratum at the
  class rate (a county planning for itself);
* ``include_due``: the enterprises due a visit under their class's yearly frequency
  (`due`) form a certain stratum, drawn with probability 1 for every item that applies to
  them, and are left out of the random strata (whose probabilities n / N count only the
  enterprises not due), so every recorded probability stays exact;
* ``mode: targeted`` (定向抽查检查、专项检查, seeds/002): a list of enterprises or a rule over
  the month's features, with a ``trigger`` from the contract's vocabulary; its rows are
  ``draw_mode`` targeted with no inclusion probability (it is not a random draw) and never
  become double-random labels;
* items may name a ``department`` (joint inspections, seeds/003: 「推进"双随机、一公开"监管
  部门联合常态化」): one visit per enterprise covers all its drawn items; `visits` gives each
  visit its departments and check mode (the class's ``check_mode``; ``joint`` when several
  departments take part).

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
from models.classes import Condition

Mode = Literal["all_classes", "one_class", "batches", "targeted"]
#: what a stratum is made of; ``item`` and ``class`` always, ``division`` for a county's plan
Dimension = Literal["item", "class", "division"]
CheckMode = Literal["written", "on_site", "joint"]
#: GB/T 2260 division code or prefix (2, 4 or 6 digits)
DivisionScope = Annotated[str, Field(pattern=r"^\d{2}(\d{2}){0,2}$")]
#: GB/T 4754-2017 section letter, or a division/group/class code or prefix (2-4 digits)
IndustryScope = Annotated[str, Field(pattern=r"^([A-T]|\d{2,4})$")]
Department = Annotated[str, Field(min_length=1, max_length=32)]
#: the department of an item that names none (market regulation)
DEFAULT_DEPARTMENT = "市场监管"

#: GB/T 4754-2017 sections (门类): letter -> the two-digit divisions (大类) it spans
SECTIONS: dict[str, tuple[int, int]] = {
    "A": (1, 5), "B": (6, 12), "C": (13, 43), "D": (44, 46), "E": (47, 50),
    "F": (51, 52), "G": (53, 60), "H": (61, 62), "I": (63, 65), "J": (66, 69),
    "K": (70, 70), "L": (71, 72), "M": (73, 75), "N": (76, 79), "O": (80, 82),
    "P": (83, 83), "Q": (84, 85), "R": (86, 90), "S": (91, 96), "T": (97, 97),
}  # fmt: skip


class Item(BaseModel):
    """One inspection item (抽查事项) and the enterprises it applies to."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    code: str  # the contract's inspection_item vocabulary, so that results link back
    zh: str
    en: str = ""
    #: sector tags of the enterprises it applies to (``sector_tags`` of the registry); empty:
    #: every enterprise
    tags: tuple[str, ...] = ()
    #: the department that inspects it (联合抽查: several departments, one visit)
    department: Department = DEFAULT_DEPARTMENT

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
    #: scope: divisions (codes or prefixes) and industries (codes, prefixes or sections);
    #: empty: all
    divisions: tuple[DivisionScope, ...] = ()
    industries: tuple[IndustryScope, ...] = ()
    #: what a stratum is made of (always item and class; division for a county's own plan)
    strata: tuple[Dimension, ...] = ("item", "class")
    #: draw the enterprises due a visit under their class's visits_per_year with certainty
    include_due: bool = False
    #: targeted campaigns: what triggered them (contract vocabulary ``trigger``) ...
    trigger: str | None = None
    #: ... and who: a file of USCCs (one per line, or a CSV with a ``uscc`` column) ...
    enterprises_file: str | None = None
    #: ... or a rule over the month's features (every condition holds; missing never does)
    rule: tuple[Condition, ...] = ()

    @model_validator(mode="after")
    def _mode_fits_classes(self) -> Self:
        if self.mode == "one_class" and len(self.classes) != 1:
            raise ValueError("mode one_class draws exactly one class: give classes: [X]")
        if self.mode != "batches" and self.batches != 1:
            raise ValueError("batches is only for mode batches")
        if len(set(self.strata)) != len(self.strata) or not {"item", "class"} <= set(self.strata):
            raise ValueError("strata: item and class, optionally division, each once")
        triggers = VOCABULARIES["trigger"]
        if self.mode == "targeted":
            if self.trigger not in triggers:
                raise ValueError(
                    f"mode targeted needs a trigger, one of {', '.join(triggers)} "
                    f"(got {self.trigger!r})"
                )
            if bool(self.enterprises_file) == bool(self.rule):
                raise ValueError("mode targeted: give either enterprises_file or rule, not both")
            if self.include_due or self.rates:
                raise ValueError("mode targeted draws nothing at random: no rates, no include_due")
        elif self.trigger or self.enterprises_file or self.rule:
            raise ValueError("trigger, enterprises_file and rule are only for mode targeted")
        return self

    def in_scope(self, division: pd.Series, industry: pd.Series) -> np.ndarray:
        """Enterprises within the campaign's divisions and industries."""
        ok = np.ones(len(division), dtype=bool)
        if self.divisions:
            d = division.fillna("").astype(str)
            ok &= np.asarray(d.str.startswith(self.divisions).to_numpy(dtype=bool))
        if self.industries:
            ok &= industry_in(industry, self.industries)
        return ok


def industry_in(codes: pd.Series, scope: tuple[str, ...]) -> np.ndarray:
    """GB/T 4754 codes within ``scope`` (section letters, or code prefixes)."""
    c = codes.fillna("").astype(str)
    ok = np.zeros(len(c), dtype=bool)
    prefixes = tuple(x for x in scope if x.isdigit())
    if prefixes:
        ok |= np.asarray(c.str.startswith(prefixes).to_numpy(dtype=bool))
    two = pd.to_numeric(c.str[:2], errors="coerce")
    for letter in (x for x in scope if not x.isdigit()):
        lo, hi = SECTIONS[letter]
        ok |= np.asarray(two.between(lo, hi).to_numpy(dtype=bool))
    return ok


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
    """The targets: one row per (item, enterprise) drawn, with ``stratum`` (item/class, and
    /division when the campaign's strata name it), ``stratum_size``, ``drawn`` and
    ``inclusion_probability`` = drawn / stratum size; ``enterprise_probability``, the
    chance the enterprise is drawn for at least one item, 1 - prod(1 - p) over the items
    that apply to it (the strata are drawn independently); ``batch`` (1..batches);
    ``draw_mode`` (double_random), ``trigger`` (empty) and ``selected_by`` (random; due for
    the certain stratum of the enterprises due a visit).

    ``population``: uscc, class, tags (a tuple of sector tags), excluded (bool: inspected
    recently, deregistered ...), and ``division`` when the strata name it, ``due`` (bool)
    when the campaign includes the due — one row per enterprise of the month, in a fixed
    order. Due enterprises of the classes drawn are drawn with certainty for every item
    that applies to them (stratum ``item/class/due``, probability 1) and are not in the
    random strata, whose sizes count only the others."""
    pop = population[~population["excluded"].to_numpy()]
    rows = []
    usccs = pop["uscc"].to_numpy()
    log_miss = np.zeros(len(pop))  # per enterprise: sum of log(1 - p) over its items' strata
    certain = np.zeros(len(pop), dtype=bool)
    position = []
    by_division = "division" in campaign.strata
    klass = pop["class"].to_numpy()
    due = (
        pop["due"].to_numpy(dtype=bool) & np.isin(klass, list(rates))
        if campaign.include_due and "due" in pop.columns
        else np.zeros(len(pop), dtype=bool)
    )
    certain |= due
    division = pop["division"].astype(str).to_numpy() if by_division else np.full(len(pop), "")
    divisions = sorted(set(division[~due].tolist()))
    for item in campaign.items:
        applies = (
            pop["tags"].map(lambda t, want=set(item.tags): bool(want & set(t))).to_numpy(bool)
            if item.tags
            else np.ones(len(pop), dtype=bool)
        )
        for code, rate in rates.items():
            in_class = applies & (klass == code)
            for where in divisions if by_division else [""]:
                members = np.flatnonzero(in_class & ~due & (division == where))
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
                name = "/".join(
                    {"item": item.code, "class": code, "division": where}[d]
                    for d in campaign.strata
                )
                rows.append(_stratum(item.code, usccs[chosen], code, rate, name, size, n))
            members = np.flatnonzero(in_class & due)
            if len(members):
                position.append(members)
                name = f"{item.code}/{code}/due"
                size = len(members)
                rows.append(_stratum(item.code, usccs[members], code, 1.0, name, size, size))
    if not rows:
        raise PlanError("plan: no enterprise is eligible for any item of the campaign")
    plan = pd.concat(rows, ignore_index=True)
    # An enterprise that several items apply to is inspected once, for the items it is drawn
    # for: its chance of an inspection is the union of the independent draws of every item
    # that applies to it, drawn or not (what feedback records as its inclusion probability).
    at = np.concatenate(position)
    plan["enterprise_probability"] = np.where(certain[at], 1.0, -np.expm1(log_miss[at]))
    plan["selected_by"] = np.where(due[at], "due", "random")
    plan["batch"] = 1
    if campaign.batches > 1:  # dispatched in batches: enterprises shuffled, then cut
        firms = plan["uscc"].unique()
        order = rng.permutation(len(firms))
        batch_of = dict(
            zip(firms[order], np.arange(len(firms)) % campaign.batches + 1, strict=True)
        )
        plan["batch"] = plan["uscc"].map(batch_of)
    return plan.assign(draw_mode="double_random", trigger="")


def _stratum(
    item: str, usccs: np.ndarray, klass: str, rate: float, name: str, size: int, n: int
) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "item": item,
            "uscc": usccs,
            "class": klass,
            "rate": rate,
            "stratum": name,
            "stratum_size": size,
            "drawn": n,
            "inclusion_probability": n / size,
        }
    )


def targeted(population: pd.DataFrame, campaign: Campaign, selected_by: str) -> pd.DataFrame:
    """A targeted (定向/专项) campaign's list: every enterprise of ``population`` with
    ``selected`` true and not excluded, for each item that applies to it (of the campaign's
    classes, when it names any). Nothing is random: ``inclusion_probability`` and
    ``enterprise_probability`` are missing, ``draw_mode`` is targeted, ``trigger`` the
    campaign's, ``selected_by`` says how (the list or the rule); ``stratum`` is
    ``targeted/<item>`` and ``stratum_size`` = ``drawn`` the number listed for the item."""
    pop = population[population["selected"].to_numpy(bool) & ~population["excluded"].to_numpy()]
    if campaign.classes:
        pop = pop[pop["class"].isin(campaign.classes).to_numpy()]
    rows = []
    for item in campaign.items:
        applies = (
            pop["tags"].map(lambda t, want=set(item.tags): bool(want & set(t))).to_numpy(bool)
            if item.tags
            else np.ones(len(pop), dtype=bool)
        )
        hit = pop[applies]
        if len(hit):
            rows.append(
                pd.DataFrame(
                    {
                        "item": item.code,
                        "uscc": hit["uscc"].to_numpy(),
                        "class": hit["class"].to_numpy(),
                        "rate": np.nan,
                        "stratum": f"targeted/{item.code}",
                        "stratum_size": len(hit),
                        "drawn": len(hit),
                        "inclusion_probability": np.nan,
                    }
                )
            )
    if not rows:
        raise PlanError(
            f"plan: campaign {campaign.name}: no enterprise selected ({selected_by}) is "
            "operating, in scope and inspected by one of its items"
        )
    plan = pd.concat(rows, ignore_index=True)
    return plan.assign(
        enterprise_probability=np.nan,
        selected_by=selected_by,
        batch=1,
        draw_mode="targeted",
        trigger=campaign.trigger or "",
    )


def due(population: pd.DataFrame, visits_per_year: Mapping[str, int | None]) -> pd.DataFrame:
    """Who is due a visit under their class's yearly frequency (``visits_per_year``).

    ``population``: uscc, class, ``inspections_12m`` (inspections in the 12 months to the
    month end, received by then) and ``months_active`` (months of those 12 the enterprise
    existed, 0-12). An enterprise is due when it had fewer inspections than its class's
    yearly frequency pro rata, ``visits_per_year x months_active / 12``; classes with no
    frequency are never due. Adds ``visits_per_year``, ``visits_expected`` and ``due``."""
    vpy = population["class"].map(lambda c: visits_per_year.get(c) or 0).astype("float64")
    months = population["months_active"].clip(0, 12).astype("float64")
    expected = vpy * months / 12.0
    got = population["inspections_12m"].astype("float64")
    return population.assign(
        visits_per_year=vpy.astype("int64"),
        visits_expected=expected.round(2),
        due=(vpy > 0) & (got < expected),
    )


def visits(
    plan: pd.DataFrame, campaign: Campaign, check_modes: Mapping[str, str | None]
) -> pd.DataFrame:
    """Each row gets its item's ``department``; each enterprise (one visit, all its items)
    its ``departments`` (``;``-joined) and ``check_mode``: ``joint`` when several departments
    take part, else its class's check mode (``on_site`` when the scheme gives none)."""
    department = {i.code: i.department for i in campaign.items}
    dept = plan["item"].map(department)
    per_firm = dept.groupby(plan["uscc"]).agg(lambda d: ";".join(sorted(set(d))))
    depts = plan["uscc"].map(per_firm)
    own = plan["class"].map(lambda c: check_modes.get(c) or "on_site")
    mode = np.where(depts.str.contains(";", regex=False), "joint", own)
    return plan.assign(department=dept, departments=depts, check_mode=mode)


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
