"""`riskclass feedback`: a plan's results come back through ingestion, linked to the plan."""

from __future__ import annotations

import shutil

import pandas as pd
import pytest

from models.classes import ClassScheme
from models.data import label_frames
from models.sampling import Campaign
from pipelines.config import load_config
from pipelines.feedback import FeedbackError, run_feedback
from pipelines.intake.config import IngestConfig
from pipelines.intake.findings import link
from pipelines.plan import run_plan
from tests.conftest import ROOT
from tests.interim import read_quarantine, read_table

pytestmark = pytest.mark.xdist_group("report")


def _results(plan: pd.DataFrame) -> pd.DataFrame:
    firms = plan.drop_duplicates("uscc").reset_index(drop=True)
    found = firms.index % 3 == 0
    return pd.DataFrame(
        {
            "抽查计划(任务)编号": firms["plan_id"],
            "统一社会信用代码": firms["uscc"],
            "inspection_id": [f"FB{i:06d}" for i in range(len(firms))],
            "inspection_date": "2026-11-12",
            "result": ["corrected" if f else "no_problem" for f in found],
            "problem_found": ["true" if f else "false" for f in found],
            "problem_category": ["false_disclosure" if f else "" for f in found],
            "received_date": "2026-11-20",
        }
    )


def test_results_link_to_their_plan_and_are_ingested(report_month, small_interim, tmp_path) -> None:  # type: ignore[no-untyped-def]
    scheme = load_config(ROOT / "configs" / "classes" / "henan.yaml", ClassScheme)
    campaign = load_config(ROOT / "configs" / "campaigns" / "routine.yaml", Campaign)
    interim = tmp_path / "interim"
    shutil.copytree(small_interim[1], interim)
    run = run_plan("2026-10", campaign, scheme, 5, report_month.outputs, interim)
    results = _results(run.plan)
    n = len(results)
    stranger = results.iloc[[0]].assign(统一社会信用代码="91440101MA5D000000", inspection_id="FBX1")
    other = results.iloc[[1]].assign(**{"抽查计划(任务)编号": "someone-else"}, inspection_id="FBX2")
    second = results.iloc[[2]].assign(inspection_id="FBX3")
    results.loc[3, "inspection_date"] = "2026-11-25"  # after its receipt: ingestion refuses it
    delivery = pd.concat([results, stranger, other, second], ignore_index=True)
    path = tmp_path / "results.csv"
    delivery.to_csv(path, index=False, encoding="utf-8-sig")
    ingest_cfg = load_config(ROOT / "configs" / "ingest.yaml", IngestConfig)
    before = len(read_table(interim, "inspections"))

    fb = run_feedback(run.folder, path, interim, tmp_path / "feedback", ingest_cfg, as_of="2026-11")

    s = fb.summary
    assert s["rows_read"] == len(delivery) == s["linked"] + s["rejected"]
    assert s["rejected_by_rule"] == {"not_drawn": 1, "other_plan": 1, "second_result": 1}
    # ingestion checks the linked rows like any delivery: the result dated after its receipt
    # is quarantined with its rule, the rest merged
    assert s["ingest"]["quarantined_by_rule"] == {"row_check": 1}
    assert s["linked"] == n == s["ingest"]["accepted"] + s["ingest"]["quarantined"]
    assert s["without_result"] == 1  # the result ingestion refused is still owed
    rejected = pd.read_csv(fb.folder / "rejected.csv", encoding="utf-8-sig")
    assert set(rejected["rule"]) == {"not_drawn", "other_plan", "second_result"}
    assert rejected["reason_zh"].str.len().gt(0).all()

    insp = read_table(interim, "inspections")
    assert len(insp) == before + n - 1
    mine = insp[insp["plan_id"] == run.summary["plan_id"]].set_index("uscc")
    firm_p = run.plan.drop_duplicates("uscc").set_index("uscc")["enterprise_probability"]
    pd.testing.assert_series_equal(
        mine["inclusion_probability"].sort_index(),
        firm_p.loc[mine.index].sort_index(),
        check_names=False,
        rtol=1e-12,
    )
    assert (mine["draw_mode"] == "double_random").all()
    # an enterprise several items apply to is more likely drawn than by any one item
    largest = run.plan.groupby("uscc")["inclusion_probability"].max().reindex(firm_p.index)
    assert (firm_p >= largest - 1e-15).all() and (firm_p > largest).any()
    # the results are labels: weighted 1/p, ready for verify and training
    random, _ = label_frames(insp, "2026-11", "2026-11")
    assert len(random) == n - 1 and (random["weight"] * random["p"]).round(9).eq(1).all()

    again = run_feedback(
        run.folder, path, interim, tmp_path / "feedback", ingest_cfg, as_of="2026-11"
    )
    assert again.summary["ingest"]["merge"]["unchanged"] == n - 1  # the same delivery twice
    assert len(read_table(interim, "inspections")) == before + n - 1
    # a later delivery cannot add a second result for an enterprise already reported on
    later = results.iloc[[0]].assign(inspection_id="FBLATER")
    later.to_csv(tmp_path / "later.csv", index=False, encoding="utf-8-sig")
    third = run_feedback(
        run.folder, tmp_path / "later.csv", interim, tmp_path / "feedback", ingest_cfg
    )
    assert (
        third.summary["rejected_by_rule"] == {"second_result": 1} and third.summary["linked"] == 0
    )
    assert third.summary["without_result"] == 1  # the one the ingestion refused
    q = read_quarantine(interim, "inspections")
    assert len(q) >= 1 and q["delivery"].notna().all()  # earlier deliveries' rejects are kept


def test_feedback_errors_name_the_problem(report_month, tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(FeedbackError, match="no plan in"):
        run_feedback(tmp_path, tmp_path / "r.csv", tmp_path, tmp_path, None)  # type: ignore[arg-type]
    plan = pd.DataFrame(
        {
            "plan_id": ["P"],
            "item": ["disclosure"],
            "uscc": ["U1"],
            "class": ["A"],
            "stratum": ["disclosure/A"],
            "enterprise_probability": ["0.01"],
        }
    )
    res = pd.DataFrame(
        {"plan_id": ["P"], "uscc": ["U1"], "inspection_id": ["X"], "items": ["food_safety"]}
    )
    for c in ("inspection_date", "result", "problem_found", "problem_category", "received_date"):
        res[c] = ""
    linked, bad = link(plan, res.assign(_source_row=2))
    assert linked.empty and bad["rule"].tolist() == ["item_not_drawn"]
    (tmp_path / "p").mkdir()
    plan.to_csv(tmp_path / "p" / "plan.csv", index=False)
    (tmp_path / "p" / "plan.json").write_text('{"plan_id": "P"}')
    pd.DataFrame({"uscc": ["U1"]}).to_csv(tmp_path / "r.csv", index=False)
    with pytest.raises(
        FeedbackError, match=r"table inspections: column\(s\) plan_id, inspection_id missing"
    ):
        run_feedback(tmp_path / "p", tmp_path / "r.csv", tmp_path, tmp_path, None)  # type: ignore[arg-type]


def test_feedback_cli_names_a_missing_plan(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from typer.testing import CliRunner

    from pipelines.cli import app

    r = CliRunner().invoke(
        app, ["feedback", "--plan", str(tmp_path / "nope"), "--results", str(tmp_path / "r.csv")]
    )
    assert r.exit_code == 2 and "no plan in" in r.output
