"""Campaign designs of issue 20: scope, strata by division, the due stratum, targeted lists,
check modes and joint visits; every recorded inclusion probability checked by redraws."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from models.classes import Condition
from models.sampling import (
    Campaign,
    Item,
    PlanError,
    draw,
    due,
    industry_in,
    rates_for,
    rng_for,
    targeted,
    visits,
)

MINIMUM = {"A": 0.01, "B": 0.03, "C": 0.10, "D": 0.20}
RUNS = 1000


def _population(n: int = 500, seed: int = 5) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    classes = rng.choice(list("ABCD"), size=n, p=[0.45, 0.3, 0.15, 0.1])
    tags = [
        ("catering",) if r < 0.3 else ("catering", "drugs") if r < 0.4 else ()
        for r in rng.random(n)
    ]
    return pd.DataFrame(
        {
            "uscc": [f"E{i:05d}" for i in range(n)],
            "class": classes,
            "tags": tags,
            "excluded": rng.random(n) < 0.1,
            "division": rng.choice(["440103", "440104", "440105"], n),
            "industry": rng.choice(["5211", "6110", "1310", "8411"], n),
            "due": (np.isin(classes, ["C", "D"])) & (rng.random(n) < 0.3),
        }
    )


def _campaign(**kw: object) -> Campaign:
    items = (
        Item(code="disclosure", zh="企业公示信息情况"),
        Item(code="food_safety", zh="食品安全", tags=("catering",), department="市场监管"),
        Item(code="drug_quality", zh="药品质量", tags=("drugs",), department="卫健"),
    )
    return Campaign(name="t", zh="测试", items=items, **kw)


def _redraw(pop: pd.DataFrame, camp: Campaign, rates: dict[str, float], runs: int) -> None:
    """Over ``runs`` seeds, each (item, enterprise) is drawn as often as its recorded
    inclusion_probability says and each enterprise as often as its enterprise_probability,
    within 4.5 binomial standard deviations; the recorded values never change between draws;
    nobody excluded or out of the classes is ever drawn."""
    cols = ["item", "uscc", "inclusion_probability", "enterprise_probability"]
    plans = [draw(pop, camp, rates, rng_for(s, "2026-11", camp.name))[cols] for s in range(runs)]
    every = pd.concat(plans, ignore_index=True)
    eligible = pop[~pop["excluded"] & pop["class"].isin(list(rates))]
    assert set(every["uscc"]) == set(eligible["uscc"])  # everyone eligible is drawn some time
    pairs = every.groupby(["item", "uscc"]).agg(
        n=("uscc", "size"),
        p=("inclusion_probability", "first"),
        spread=("inclusion_probability", np.ptp),
    )
    firms = every.drop_duplicates(["uscc", "item"]).groupby("uscc")
    # each enterprise once per draw: count the draws it is in
    per_draw = pd.concat([p.drop_duplicates("uscc") for p in plans], ignore_index=True).groupby(
        "uscc"
    )
    firm = pd.DataFrame(
        {
            "n": per_draw.size(),
            "p": per_draw["enterprise_probability"].first(),
            "spread": per_draw["enterprise_probability"].agg(np.ptp),
        }
    )
    assert firms.ngroups == len(firm)
    for table in (pairs, firm):
        assert (table["spread"] == 0).all()  # the recorded probability never changes
        sd = np.sqrt(table["p"] * (1 - table["p"]) / runs)
        off = (table["n"] / runs - table["p"]).abs() - (4.5 * sd + 1e-12)
        assert (off <= 0).all(), table[off > 0].head()


def test_scope_selects_divisions_industries_and_sections() -> None:
    camp = _campaign(divisions=("4401",), industries=("F",))
    ok = camp.in_scope(
        pd.Series(["440106", "440306", "440106"]), pd.Series(["5211", "5211", "1310"])
    )
    assert ok.tolist() == [True, False, False]  # F is 51-52: 52xx in, 13xx (C) out
    assert industry_in(pd.Series(["1310", "4411", "0110", None]), ("C", "01")).tolist() == [
        True,
        False,
        True,
        False,
    ]
    with pytest.raises(ValueError, match="divisions"):
        _campaign(divisions=("44010",))
    with pytest.raises(ValueError, match="industries"):
        _campaign(industries=("Z",))


#: 1,000 redraws (slow); 300 in the quick suite, same tolerance
REDRAWS = [pytest.param(RUNS, marks=pytest.mark.slow), 300]


@pytest.mark.parametrize("runs", REDRAWS)
def test_redraws_scoped_population_multi_item(runs: int) -> None:
    pop = _population()
    camp = _campaign(divisions=("440103", "440104"), industries=("F", "61"))
    scoped = pop[camp.in_scope(pop["division"], pop["industry"])].reset_index(drop=True)
    rates = rates_for(camp, {"A": 0.05, "B": 0.1, "C": 0.2, "D": 0.3})
    _redraw(scoped, camp, rates, runs)


@pytest.mark.parametrize("runs", REDRAWS)
def test_redraws_strata_by_division_with_due_stratum_and_batches(runs: int) -> None:
    pop = _population()
    camp = _campaign(
        strata=("item", "class", "division"),
        include_due=True,
        mode="batches",
        classes=("B", "C", "D"),
        batches=3,
    )
    rates = rates_for(camp, MINIMUM)
    plan = draw(pop, camp, rates, rng_for(1, "2026-11", "t"))
    eligible = pop[~pop["excluded"]]
    dues = eligible[eligible["due"]]
    # the due: all drawn with certainty, for every item that applies, in their own stratum
    assert set(dues["uscc"]) <= set(plan["uscc"])
    at_due = plan[plan["uscc"].isin(dues["uscc"])]
    assert (at_due["stratum"].str.endswith("/due")).all()
    assert (at_due["inclusion_probability"] == 1).all() and (at_due["selected_by"] == "due").all()
    assert (at_due["enterprise_probability"] == 1).all()
    # the random strata count only the others, one per item x class x division
    rnd = plan[plan["selected_by"] == "random"]
    assert not set(rnd["uscc"]) & set(dues["uscc"])
    for stratum, rows in rnd.groupby("stratum"):
        item, klass, division = stratum.split("/")
        base = eligible[
            ~eligible["due"] & (eligible["class"] == klass) & (eligible["division"] == division)
        ]
        if item != "disclosure":
            tag = {"food_safety": "catering", "drug_quality": "drugs"}[item]
            base = base[base["tags"].map(lambda t, tag=tag: tag in t)]
        assert rows["stratum_size"].iloc[0] == len(base)
        assert rows["drawn"].iloc[0] == math.ceil(MINIMUM[klass] * len(base)) == len(rows)
    _redraw(pop, camp, rates, runs)


def test_the_due_stratum_is_off_unless_asked() -> None:
    pop = _population()
    camp = _campaign()
    plan = draw(pop, camp, rates_for(camp, MINIMUM), rng_for(2, "2026-11", "t"))
    assert (plan["selected_by"] == "random").all() and not plan["stratum"].str.endswith("due").any()


def test_due_is_frequency_pro_rata() -> None:
    frame = pd.DataFrame(
        {
            "class": ["D", "D", "D", "C", "C", "A"],
            "inspections_12m": [1, 2, 0, 0, 1, 0],
            "months_active": [12, 12, 3, 12, 12, 12],
        }
    )
    out = due(frame, {"A": None, "C": 1, "D": 2})
    # D twice a year: 1 of 2 is due, 2 is not; a D firm of 3 months owes 0.5 visit, has 0
    assert out["due"].tolist() == [True, False, True, True, False, False]
    assert out["visits_expected"].tolist() == [2.0, 2.0, 0.5, 1.0, 1.0, 0.0]


def test_targeted_lists_carry_the_trigger_and_no_probability() -> None:
    pop = _population().assign(selected=lambda f: f["class"].isin(["C", "D"]))
    camp = _campaign(mode="targeted", trigger="campaign", rule=(_cond(),), classes=("D",))
    plan = targeted(pop, camp, "rule: x")
    assert set(plan["class"]) == {"D"} and not plan["uscc"].isin(pop[pop["excluded"]]["uscc"]).any()
    assert (plan["draw_mode"] == "targeted").all() and (plan["trigger"] == "campaign").all()
    assert (
        plan["inclusion_probability"].isna().all() and plan["enterprise_probability"].isna().all()
    )
    assert (plan["selected_by"] == "rule: x").all()
    with pytest.raises(ValueError, match="needs a trigger"):
        _campaign(mode="targeted", rule=(_cond(),))
    with pytest.raises(ValueError, match="trigger"):
        _campaign(mode="targeted", trigger="gossip", rule=(_cond(),))
    with pytest.raises(ValueError, match="either enterprises_file or rule"):
        _campaign(mode="targeted", trigger="complaint")
    with pytest.raises(ValueError, match="only for mode targeted"):
        _campaign(trigger="complaint")
    with pytest.raises(PlanError, match="no enterprise selected"):
        targeted(pop.assign(selected=False), camp, "rule: x")


def _cond() -> Condition:
    return Condition(feature="sd_listed", op="==", value=1)


def test_visits_have_departments_and_check_modes() -> None:
    pop = _population()
    camp = _campaign()
    plan = draw(pop, camp, {"A": 1.0, "B": 1.0, "C": 1.0}, rng_for(1, "2026-11", "t"))
    out = visits(plan, camp, {"A": "written", "B": None, "C": "on_site"})
    firm = out.drop_duplicates("uscc").set_index("uscc")
    drugs = pop.set_index("uscc")["tags"].map(lambda t: "drugs" in t)
    joint = firm.index[drugs.reindex(firm.index)]
    assert (firm.loc[joint, "check_mode"] == "joint").all()
    assert (firm.loc[joint, "departments"] == "卫健;市场监管").all()
    alone = firm.drop(joint)
    expected = alone["class"].map({"A": "written", "B": "on_site", "C": "on_site"})
    assert (alone["check_mode"] == expected).all() and (alone["departments"] == "市场监管").all()
    assert (out.loc[out["item"] == "drug_quality", "department"] == "卫健").all()
