"""`riskclass plan` with the campaigns of issue 20 on a tiny province written to disk: scope,
a county's own plan, the due list, targeted campaigns by list and by rule, joint visits, and
a targeted plan's results that stay out of the double-random labels."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from models.classes import ClassScheme
from models.data import label_kinds
from models.sampling import Campaign, PlanError
from pipelines.config import load_config
from pipelines.feedback import _keep_targeted, read_plan
from pipelines.intake.findings import link
from pipelines.paths import Outputs
from pipelines.plan import county, run_plan
from tests.conftest import ROOT
from tests.interim import read_table

MONTH = "2026-10"
SCHEME = ROOT / "configs" / "classes" / "henan.yaml"
CAMPAIGNS = ROOT / "configs" / "campaigns"


def _uscc(i: int) -> str:
    return f"9144{i:014d}"


@pytest.fixture(scope="module")
def province(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """outputs (classes of 2026-10), interim (enterprises, inspections), features."""
    root = tmp_path_factory.mktemp("campaigns")
    rng = np.random.default_rng(3)
    n = 1200
    usccs = [_uscc(i) for i in range(n)]
    classes = rng.choice(list("ABCD"), size=n, p=[0.5, 0.3, 0.12, 0.08])
    outputs, interim, features = root / "outputs", root / "interim", root / "features"
    for d in (outputs / MONTH, interim, features):
        d.mkdir(parents=True)
    pd.DataFrame({"uscc": usccs, "class_final": classes, "scheme": "henan"}).to_parquet(
        Outputs(outputs).classes(MONTH)
    )
    tags = rng.choice(["catering", "drugs;catering", "", "special_equipment"], n)
    pd.DataFrame(
        {
            "uscc": usccs,
            "name": ["=HYPERLINK(1)" if i == 0 else f"企业{i}" for i in range(n)],
            "division_code": rng.choice(["440106", "440111", "440305"], n),
            "industry_code": rng.choice(["6210", "5211", "1310"], n),
            "established_date": pd.to_datetime("2015-01-01")
            + pd.to_timedelta(rng.integers(0, 4300, n), unit="D"),
            "status": np.where(rng.random(n) < 0.05, "deregistered", "operating"),
            "sector_tags": tags,
        }
    ).to_parquet(interim / "enterprises.parquet")
    seen = rng.choice(n, 400)
    dates = pd.to_datetime("2025-09-01") + pd.to_timedelta(rng.integers(0, 420, 400), unit="D")
    pd.DataFrame(
        {
            "uscc": [usccs[i] for i in seen],
            "inspection_date": dates,
            "received_date": dates + pd.Timedelta(days=10),
        }
    ).to_parquet(interim / "inspections.parquet")
    pd.DataFrame(
        {
            "uscc": usccs,
            "sector_food": pd.Series(tags).str.contains("catering").astype("int64"),
            "pen_food_drug_36m": np.where(rng.random(n) < 0.2, 1.0, np.nan),
        }
    ).to_parquet(features / f"{MONTH}.parquet")
    return outputs, interim, features


def _scheme() -> ClassScheme:
    return load_config(SCHEME, ClassScheme)


def test_a_county_plans_for_itself_with_due_and_check_modes(province, tmp_path) -> None:  # type: ignore[no-untyped-def]
    outputs, interim, _ = province
    camp = load_config(CAMPAIGNS / "county_routine.yaml", Campaign)
    run = run_plan(MONTH, camp, _scheme(), 5, outputs, interim, division="440106")
    plan, s = run.plan, run.summary
    assert run.folder.name == f"{camp.name}-440106" and s["scope"]["divisions"] == ["440106"]
    assert set(plan["division_code"]) == {"440106"} and s["strata_by"][-1] == "division"
    rnd = plan[plan["selected_by"] == "random"]
    assert rnd["stratum"].str.endswith("/440106").all()
    assert s["frequencies"] == {"C": 1, "D": 2}
    assert s["check_modes"] == {"A": "written", "B": "on_site", "C": "on_site", "D": "on_site"}
    due = pd.read_csv(run.folder / "due.csv", dtype=str, encoding="utf-8-sig")
    assert len(due) == s["due"]["enterprises"] > 0 and set(due["class"]) <= {"C", "D"}
    assert (due["in_plan"] == "True").all()  # the county takes every due firm in
    at_due = plan[plan["uscc"].isin(due["uscc"])]
    assert (at_due["inclusion_probability"] == 1).all() and (at_due["selected_by"] == "due").all()
    # due: fewer inspections in the 12 months than the class's frequency pro rata
    d = due.astype({"inspections_12m": int, "visits_expected": float})
    assert (d["inspections_12m"] < d["visits_expected"]).all()
    firm = plan.drop_duplicates("uscc")
    modes = firm["class"].map(s["check_modes"])
    assert (
        firm["check_mode"] == modes.where(~firm["departments"].str.contains(";"), "joint")
    ).all()
    assert "--division 440106" in s["redraw"]
    with pytest.raises(PlanError, match="is not a GB/T 2260 code"):
        county(camp, "44x")
    with pytest.raises(PlanError, match="outside campaign county_routine's divisions"):
        run_plan(MONTH, camp, _scheme(), 5, outputs, interim, division="4501")


def test_industry_scope_and_joint_campaign(province) -> None:  # type: ignore[no-untyped-def]
    outputs, interim, _ = province
    camp = load_config(CAMPAIGNS / "joint_food_drug.yaml", Campaign)
    run = run_plan(MONTH, camp, _scheme(), 9, outputs, interim)
    plan = run.plan
    reg = read_table(interim, "enterprises").set_index("uscc")
    industry = plan["uscc"].map(reg["industry_code"])
    assert industry.str[:2].astype(int).between(61, 62).all()  # sections H, Q (no 84-85 here)
    assert len(run.summary["departments"]) > 1
    joint = plan[plan["check_mode"] == "joint"]
    assert len(joint) and joint["departments"].str.contains(";").all()
    assert joint.groupby("uscc")["department"].nunique().gt(1).all()
    csv = pd.read_csv(run.folder / "plan.csv", dtype=str, encoding="utf-8-sig")
    assert {"check_mode", "departments", "draw_mode", "trigger"} <= set(csv.columns)


def test_targeted_by_rule_then_feedback_stays_out_of_labels(province) -> None:  # type: ignore[no-untyped-def]
    outputs, interim, features = province
    camp = load_config(CAMPAIGNS / "targeted_food.yaml", Campaign)
    scheme = _scheme()
    with pytest.raises(PlanError, match="give the features folder"):
        run_plan(MONTH, camp, scheme, 1, outputs, interim)
    run = run_plan(MONTH, camp, scheme, 1, outputs, interim, features=features)
    plan = run.plan
    feats = pd.read_parquet(features / f"{MONTH}.parquet").set_index("uscc")
    assert (plan["uscc"].map(feats["sector_food"]) == 1).all()
    assert (plan["uscc"].map(feats["pen_food_drug_36m"]) >= 1).all()
    hits = feats[(feats["sector_food"] == 1) & (feats["pen_food_drug_36m"] >= 1)].index
    sel = run.summary["selection"]
    assert plan["uscc"].nunique() + sel["not_operating_or_excluded"] == len(hits)
    assert (plan["draw_mode"] == "targeted").all() and (plan["trigger"] == "campaign").all()
    assert plan["inclusion_probability"].isna().all()
    assert plan["selected_by"].str.startswith("rule: sector_food == 1").all()
    assert run.summary["draw_mode"] == "targeted" and run.summary["trigger"] == "campaign"
    # the platform's results, linked as feedback links them
    disk, _info = read_plan(run.folder)
    firms = disk["uscc"].drop_duplicates()
    results = pd.DataFrame(
        {
            "plan_id": disk["plan_id"].iloc[0],
            "uscc": firms,
            "inspection_id": [f"T{i}" for i in range(len(firms))],
            "inspection_date": "2026-11-05",
            "result": "no_problem",
            "problem_found": "false",
            "problem_category": "",
            "received_date": "2026-11-10",
            "items": "",
        }
    )
    linked, rejected = link(disk, results)
    assert rejected.empty
    kept = _keep_targeted(disk, linked)
    assert (kept["draw_mode"] == "targeted").all() and (kept["trigger"] == "campaign").all()
    assert (kept["inclusion_probability"] == "").all()  # written raw: null for ingestion
    labels = label_kinds(
        kept.assign(
            inclusion_probability=None,
            problem_found=False,
            inspection_date=pd.to_datetime(kept["inspection_date"]),
        ),
        "2026-11",
        "2026-11",
    )
    assert (labels["label_kind"] == "targeted").all()  # never a double-random label
    # a routine plan's results stay double-random
    routine = run_plan(
        MONTH, load_config(CAMPAIGNS / "routine.yaml", Campaign), scheme, 1, outputs, interim
    )
    rplan, _ = read_plan(routine.folder)
    one = rplan.drop_duplicates("uscc").head(3)
    res = results.head(3).assign(plan_id=one["plan_id"].to_numpy(), uscc=one["uscc"].to_numpy())
    rl, _ = link(rplan, res)
    assert (_keep_targeted(rplan, rl)["draw_mode"] == "double_random").all()


def test_targeted_by_list(province, tmp_path) -> None:  # type: ignore[no-untyped-def]
    outputs, interim, _ = province
    listed = tmp_path / "list.csv"
    wanted = [_uscc(i) for i in (1, 2, 3, 4)] + ["91440000000000999X"]
    listed.write_text("uscc\n" + "\n".join(wanted) + "\n", encoding="utf-8")
    camp = Campaign.model_validate(
        {
            "name": "complaints",
            "zh": "投诉举报定向检查",
            "mode": "targeted",
            "trigger": "complaint",
            "enterprises_file": str(listed),
            "exclude_inspected_months": 0,
            "items": [{"code": "disclosure", "zh": "企业公示信息情况"}],
        }
    )
    run = run_plan(MONTH, camp, _scheme(), 1, outputs, interim)
    assert set(run.plan["uscc"]) <= set(wanted[:4]) and (run.plan["trigger"] == "complaint").all()
    sel = run.summary["selection"]
    assert sel["selected"] == 5 and sel["not_in_scope_or_not_classified"] == 1
    assert len(run.plan) + sel["not_operating_or_excluded"] == 4
    bad = tmp_path / "bad.txt"
    bad.write_text("uscc\nNOT-A-USCC\n", encoding="utf-8")
    with pytest.raises(PlanError, match=r"bad.txt, column uscc: 'NOT-A-USCC'"):
        run_plan(MONTH, camp, _scheme(), 1, outputs, interim, targets=bad)


@pytest.mark.xdist_group("report")
def test_targeted_results_ingested_as_targeted_never_double_random(
    report_month, small_interim, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    """End to end: a targeted plan's results go through feedback and ingestion and come out
    draw_mode targeted with their trigger and no probability; labels keep them apart."""
    import shutil

    from models.data import label_frames
    from pipelines.feedback import run_feedback
    from pipelines.intake.config import IngestConfig

    interim = tmp_path / "interim"
    shutil.copytree(small_interim[1], interim)
    classes = pd.read_parquet(report_month.outputs / MONTH / "classes.parquet", columns=["uscc"])
    listed = tmp_path / "complaints.txt"
    listed.write_text("\n".join(classes["uscc"].head(40)) + "\n", encoding="utf-8")
    camp = Campaign.model_validate(
        {
            "name": "complaints",
            "zh": "投诉举报定向检查",
            "mode": "targeted",
            "trigger": "complaint",
            "enterprises_file": str(listed),
            "exclude_inspected_months": 0,
            "items": [{"code": "disclosure", "zh": "企业公示信息情况"}],
        }
    )
    run = run_plan(MONTH, camp, _scheme(), 3, report_month.outputs, interim)
    firms = run.plan.drop_duplicates("uscc")
    results = pd.DataFrame(
        {
            "plan_id": firms["plan_id"],
            "uscc": firms["uscc"],
            "inspection_id": [f"TG{i:05d}" for i in range(len(firms))],
            "inspection_date": "2026-11-12",
            "result": "no_problem",
            "problem_found": "false",
            "problem_category": "",
            "received_date": "2026-11-20",
        }
    )
    path = tmp_path / "results.csv"
    results.to_csv(path, index=False, encoding="utf-8-sig")
    cfg = load_config(ROOT / "configs" / "ingest.yaml", IngestConfig)
    fb = run_feedback(run.folder, path, interim, tmp_path / "fb", cfg, as_of="2026-11")
    assert fb.summary["ingest"]["accepted"] == len(firms)
    insp = read_table(interim, "inspections")
    mine = insp[insp["plan_id"] == run.summary["plan_id"]]
    assert len(mine) == len(firms)
    assert (mine["draw_mode"] == "targeted").all() and (mine["trigger"] == "complaint").all()
    assert mine["inclusion_probability"].isna().all()
    double, aimed = label_frames(insp, "2026-11", "2026-11")
    assert not set(mine["inspection_id"]) & set(double["inspection_id"])
    assert set(mine["inspection_id"]) <= set(aimed["inspection_id"])
