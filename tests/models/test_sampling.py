"""Inspection plans: rates, inclusion probabilities, modes, exclusions, redraws, inspectors."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from models.sampling import (
    Campaign,
    Item,
    PlanError,
    assign_inspectors,
    draw,
    loads,
    rates_for,
    rng_for,
)

MINIMUM = {"A": 0.01, "B": 0.03, "C": 0.10, "D": 0.20}


def _population(n: int = 4000, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    classes = rng.choice(list("ABCD"), size=n, p=[0.6, 0.28, 0.07, 0.05])
    tags = [
        ("catering",) if r < 0.2 else ("catering", "drugs") if r < 0.25 else ()
        for r in rng.random(n)
    ]
    return pd.DataFrame(
        {
            "uscc": [f"E{i:05d}" for i in range(n)],
            "class": classes,
            "tags": tags,
            "excluded": rng.random(n) < 0.1,
            "division": rng.choice(["440103", "440104", "440105"], n),
        }
    )


def _campaign(**kw: object) -> Campaign:
    items = (
        Item(code="disclosure", zh="企业公示信息情况"),
        Item(code="food_safety", zh="食品安全", tags=("catering",)),
    )
    return Campaign(name="t", zh="测试", items=items, **kw)  # type: ignore[arg-type]


def test_each_stratum_is_drawn_at_no_less_than_its_rate() -> None:
    pop = _population()
    camp = _campaign()
    rates = rates_for(camp, MINIMUM)
    plan = draw(pop, camp, rates, rng_for(7, "2026-11", camp.name))
    eligible = pop[~pop["excluded"]]
    for (item, klass), rows in plan.groupby(["item", "class"]):
        base = eligible[eligible["class"] == klass]
        if item == "food_safety":
            base = base[base["tags"].map(lambda t: "catering" in t)]
        n = math.ceil(MINIMUM[klass] * len(base))
        assert len(rows) == n == rows["drawn"].iloc[0] and rows["stratum_size"].iloc[0] == len(base)
        assert np.allclose(rows["inclusion_probability"], n / len(base))
        assert rows["uscc"].is_unique and set(rows["uscc"]) <= set(base["uscc"])
    assert not set(plan["uscc"]) & set(pop.loc[pop["excluded"], "uscc"])  # exclusions hold


def test_the_published_seed_redraws_the_same_list() -> None:
    pop, camp = _population(), _campaign()
    rates = rates_for(camp, MINIMUM)
    first = draw(pop, camp, rates, rng_for(7, "2026-11", "t"))
    again = draw(pop, camp, rates, rng_for(7, "2026-11", "t"))
    pd.testing.assert_frame_equal(first, again)
    other = draw(pop, camp, rates, rng_for(8, "2026-11", "t"))
    assert set(other["uscc"]) != set(first["uscc"])


def test_every_enterprise_of_a_stratum_is_equally_likely() -> None:
    """Over many seeds each enterprise is drawn about n / N of the time."""
    pop = _population(600)
    camp = _campaign(classes=("C",), mode="one_class", rates={"C": 0.25})
    counts = pd.Series(0, index=pop["uscc"])
    runs = 400
    for s in range(runs):
        plan = draw(pop, camp, rates_for(camp, MINIMUM), rng_for(s, "2026-11", "t"))
        counts[plan.loc[plan["item"] == "disclosure", "uscc"]] += 1
    c = pop[(pop["class"] == "C") & ~pop["excluded"]]["uscc"]
    p = math.ceil(0.25 * len(c)) / len(c)
    freq = counts[c] / runs
    assert abs(freq.mean() - p) < 1e-12  # exactly n per run
    assert freq.std() < 3 * math.sqrt(p * (1 - p) / runs)  # no enterprise favoured
    assert counts.drop(c).sum() == 0  # one class at a time: no other class drawn


def test_rates_are_checked_against_the_scheme() -> None:
    with pytest.raises(
        PlanError, match=r"rate 5\.00% for class C is below the scheme.s minimum 10\.00%"
    ):
        rates_for(_campaign(rates={"C": 0.05}), MINIMUM)
    with pytest.raises(PlanError, match="class 'X' is not in the class scheme"):
        rates_for(_campaign(classes=("X",), mode="one_class"), MINIMUM)
    assert rates_for(_campaign(), {**MINIMUM, "grey": None}) == MINIMUM  # dormant: not drawn
    with pytest.raises(ValueError, match="one_class draws exactly one class"):
        _campaign(mode="one_class", classes=("A", "B"))


def test_items_and_tags_are_contract_codes() -> None:
    with pytest.raises(ValueError, match="item 'fire' is not an inspection_item code"):
        Item(code="fire", zh="消防")
    with pytest.raises(ValueError, match=r"tags \['food'\] are not sector_tag codes"):
        Item(code="food_safety", zh="食品安全", tags=("food",))


def test_batches_split_the_drawn_enterprises_evenly() -> None:
    pop = _population()
    camp = _campaign(mode="batches", classes=("B", "C", "D"), batches=3)
    plan = draw(pop, camp, rates_for(camp, MINIMUM), rng_for(1, "2026-11", "t"))
    per_firm = plan.groupby("uscc")["batch"].nunique()
    assert (per_firm == 1).all()  # all items of a firm in one batch
    sizes = plan.drop_duplicates("uscc")["batch"].value_counts()
    assert sorted(sizes.index) == [1, 2, 3] and sizes.max() - sizes.min() <= 1
    assert set(plan["class"]) == {"B", "C", "D"}


def test_inspectors_two_per_firm_no_conflict_not_own_unit_balanced() -> None:
    pop = _population()
    camp = _campaign()
    plan = draw(pop, camp, rates_for(camp, MINIMUM), rng_for(3, "2026-11", "t"))
    division_of = dict(zip(pop["uscc"], pop["division"], strict=True))
    firm = next(u for u in plan["uscc"] if division_of[u] != "440103")  # I00 may inspect it ...
    roster = pd.DataFrame(
        {
            "inspector_id": [f"I{i:02d}" for i in range(12)],
            "unit": ["440103"] * 4 + ["440104"] * 4 + ["440105"] * 4,
            "conflicts": [(firm,)] + [()] * 11,  # ... but declared a conflict with it
        }
    )
    out = assign_inspectors(plan, division_of, roster, camp, rng_for(3, "2026-11", "t"))
    unit_of = dict(zip(roster["inspector_id"], roster["unit"], strict=True))
    for u, ids in out.drop_duplicates("uscc")[["uscc", "inspectors"]].itertuples(index=False):
        pair = ids.split(";")
        assert len(set(pair)) == 2
        assert all(unit_of[i] != division_of[u] for i in pair)  # never the firm's own unit
    assert "I00" not in out.loc[out["uscc"] == firm, "inspectors"].iloc[0]  # declared conflict
    assert (out.groupby("uscc")["inspectors"].nunique() == 1).all()  # noqa: PD101 (one pair per firm)
    load = loads(out)
    assert load.sum() == 2 * out["uscc"].nunique() and load.max() - load.min() <= 2
    with pytest.raises(PlanError, match="only 0 inspector"):
        tiny = roster[roster["unit"] == "440103"]
        assign_inspectors(
            plan[plan["uscc"].map(division_of) == "440103"],
            division_of,
            tiny,
            camp,
            rng_for(3, "2026-11", "t"),
        )


def test_an_enterprise_s_chance_is_the_union_of_its_items() -> None:
    """A catering firm can be drawn for disclosure or for food safety: its chance of an
    inspection is 1 - (1 - p1)(1 - p2), checked exactly and by repeated draws."""
    pop = _population(600)
    camp = _campaign(classes=("C",), mode="one_class", rates={"C": 0.25})
    rates = rates_for(camp, MINIMUM)
    eligible = pop[(pop["class"] == "C") & ~pop["excluded"]]
    food = eligible[eligible["tags"].map(lambda t: "catering" in t)]["uscc"]
    p1 = math.ceil(0.25 * len(eligible)) / len(eligible)
    p2 = math.ceil(0.25 * len(food)) / len(food)
    counts = pd.Series(0, index=pop["uscc"])
    runs = 400
    for s in range(runs):
        plan = draw(pop, camp, rates, rng_for(s, "2026-11", "t"))
        per_firm = plan.drop_duplicates("uscc").set_index("uscc")["enterprise_probability"]
        union = 1 - (1 - p1) * (1 - p2)
        assert np.allclose(per_firm[per_firm.index.isin(food)], union)
        assert np.allclose(per_firm[~per_firm.index.isin(food)], p1)
        counts[per_firm.index] += 1
    freq = counts[food] / runs
    assert abs(freq.mean() - union) < 4 * math.sqrt(union * (1 - union) / runs / len(food))
