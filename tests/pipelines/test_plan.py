"""`riskclass plan` on a classified month: rates, exclusions, files, the seed redraws."""

from __future__ import annotations

import pandas as pd
import pytest

from models.classes import ClassScheme
from models.sampling import Campaign, PlanError
from pipelines.config import load_config
from pipelines.plan import population, run_plan
from tests.conftest import ROOT
from tests.interim import read_table

pytestmark = pytest.mark.xdist_group("report")


def _roster(path, n: int = 20):  # type: ignore[no-untyped-def]
    pd.DataFrame(
        {
            "inspector_id": [f"I{i:03d}" for i in range(n)],
            "name": [f"检查员{i}" for i in range(n)],
            "unit": [f"U{i % 4}" for i in range(n)],
            "conflicts": [""] * n,
        }
    ).to_csv(path, index=False)
    return path


def test_a_routine_plan_from_a_classified_month(report_month, small_interim, tmp_path) -> None:  # type: ignore[no-untyped-def]
    ctx = report_month
    scheme = load_config(ROOT / "configs" / "classes" / "henan.yaml", ClassScheme)
    campaign = load_config(ROOT / "configs" / "campaigns" / "routine.yaml", Campaign)
    roster = _roster(tmp_path / "roster.csv")
    run = run_plan("2026-10", campaign, scheme, 11, ctx.outputs, small_interim[1], roster)
    plan = run.plan
    assert set(plan["class"]) <= set("ABCD") and plan["inclusion_probability"].between(0, 1).all()
    for _stratum, rows in plan.groupby("stratum"):
        rate = {c.code: c.min_sampling_rate for c in scheme.classes}[rows["class"].iloc[0]]
        assert rows["drawn"].iloc[0] >= rate * rows["stratum_size"].iloc[0]  # no less than the rate
    operating = read_table(small_interim[1], "enterprises", columns=["uscc", "status"])
    closed = set(operating.loc[operating["status"] != "operating", "uscc"])
    assert not closed & set(plan["uscc"])
    assert (plan["inspectors"].str.count(";") == 1).all()  # two inspectors each
    on_disk = pd.read_csv(run.folder / "plan.csv", dtype=str, encoding="utf-8-sig")
    assert len(on_disk) == len(plan) and list(on_disk.columns) == list(plan.columns)
    assert len(pd.read_excel(run.folder / "plan.xlsx", engine="openpyxl")) == len(plan)
    assert run.summary["seed"] == 11 and "--seed 11" in run.summary["redraw"]
    again = run_plan("2026-10", campaign, scheme, 11, ctx.outputs, small_interim[1], roster)
    pd.testing.assert_frame_equal(again.plan, plan)  # the published seed redraws the same list
    other = run_plan("2026-10", campaign, scheme, 12, ctx.outputs, small_interim[1], roster)
    assert set(other.plan["uscc"]) != set(plan["uscc"])


def test_plan_errors_name_the_problem(report_month, small_interim, tmp_path) -> None:  # type: ignore[no-untyped-def]
    ctx = report_month
    scheme = load_config(ROOT / "configs" / "classes" / "henan.yaml", ClassScheme)
    campaign = load_config(ROOT / "configs" / "campaigns" / "high_risk_batches.yaml", Campaign)
    with pytest.raises(
        PlanError, match=r"no classes for 2026-07 .*riskclass classify --as-of 2026-07"
    ):
        run_plan("2026-07", campaign, scheme, 1, ctx.outputs, small_interim[1])
    bad = tmp_path / "roster.csv"
    pd.DataFrame({"inspector_id": ["I1", "I1"], "unit": ["U", "U"]}).to_csv(bad, index=False)
    with pytest.raises(PlanError, match="column inspector_id: I1 appears twice"):
        run_plan("2026-10", campaign, scheme, 1, ctx.outputs, small_interim[1], bad)
    run = run_plan("2026-10", campaign, scheme, 1, ctx.outputs, small_interim[1])
    assert set(run.plan["class"]) <= {"C", "D"} and set(run.plan["batch"]) == {1, 2, 3, 4}


def test_recently_inspected_are_excluded_unless_always_drawn(report_month, small_interim) -> None:  # type: ignore[no-untyped-def]
    """The plan's population: inspected within the window and not class D -> excluded."""
    camp = load_config(ROOT / "configs" / "campaigns" / "routine.yaml", Campaign)
    pop = population("2026-10", report_month.outputs, small_interim[1], camp)
    assert pop["recent"].any() and (pop["recent"] & (pop["class"] == "D")).any()
    assert (pop.loc[pop["recent"] & (pop["class"] != "D"), "excluded"]).all()
    status = read_table(small_interim[1], "enterprises", columns=["uscc", "status"])
    operating = pop["uscc"].map(status.set_index("uscc")["status"]) == "operating"
    d_recent = pop["recent"] & (pop["class"] == "D")
    assert (pop.loc[d_recent, "excluded"] == ~operating[d_recent]).all()  # D: drawn again
    assert (pop.loc[~operating, "excluded"]).all()  # deregistered: never drawn
    none = population(
        "2026-10",
        report_month.outputs,
        small_interim[1],
        camp.model_copy(update={"exclude_inspected_months": 0}),
    )
    assert not none["recent"].any()
