"""`riskclass publish`: a round's results in the publicity layout and the dormant-firm list,
from an allow-list of columns, with no class, score, stratum or probability in any file."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
import typer
from typer.testing import CliRunner

from contract.tables import vocabulary
from features.reminders import OutreachConfig
from pipelines.cli.outreach import publish
from pipelines.config import load_config
from pipelines.publish import (
    DORMANT_COLUMNS,
    INSPECTION_COLUMNS,
    PublishError,
    public_task_no,
    publish_dormant,
    publish_inspections,
)
from tests.conftest import ROOT
from tests.interim import has_table, read_table, snapshot
from tests.pipelines.outreach_scan import file_text, leaks

pytestmark = pytest.mark.xdist_group("report")


def _cfg() -> OutreachConfig:
    return load_config(ROOT / "configs" / "remind.yaml", OutreachConfig)


@pytest.fixture(scope="module")
def round_interim(small_interim, tmp_path_factory):  # type: ignore[no-untyped-def]
    """A copy of the registry and inspections where one inspected firm left the registry;
    the largest double-random round of the small province and its records."""
    src = small_interim[1]
    insp = read_table(src, "inspections")
    plan_id = str(insp["plan_id"].value_counts().index[0])
    rows = insp[insp["plan_id"] == plan_id]
    gone = str(rows["uscc"].iloc[0])
    dst = tmp_path_factory.mktemp("publish") / "interim"
    dst.mkdir()
    for name in ("inspections", "annual_reports", "changes", "licences", "pledges", "penalties",
                 "product_sampling"):  # fmt: skip
        if has_table(src, name):  # a copy in the single-file layout, which the store reads
            pq.write_table(snapshot(src, name).arrow(), dst / f"{name}.parquet")
    reg = read_table(src, "enterprises")
    reg[reg["uscc"] != gone].to_parquet(dst / "enterprises.parquet")
    return dst, plan_id, rows, gone


def test_a_round_in_the_publicity_layout(round_interim, tmp_path) -> None:  # type: ignore[no-untyped-def]
    interim, plan_id, rows, gone = round_interim
    run = publish_inspections(
        plan_id, "2026-10", "2026年10月日常双随机抽查", _cfg(), interim, tmp_path
    )
    assert not list(tmp_path.rglob("classes.parquet"))  # nothing internal to read, none read
    table = pd.read_csv(run.folder / "inspections.csv", dtype=str, encoding="utf-8-sig")
    assert list(table.columns) == list(INSPECTION_COLUMNS.values())
    xlsx = pd.read_excel(run.folder / "inspections.xlsx", dtype=str, engine="openpyxl")
    assert list(xlsx.columns) == list(INSPECTION_COLUMNS.values()) and len(xlsx) == len(table)
    s = run.summary
    assert s["records"] == len(rows) == s["published_records"] + s["rejected_records"]
    assert s["rejected_records"] == int((rows["uscc"] == gone).sum()) >= 1
    rejected = pd.read_csv(run.folder / "rejected.csv", dtype=str, encoding="utf-8-sig")
    assert set(rejected["uscc"]) == {gone} and set(rejected["rule"]) == {"enterprises.uscc"}
    kept = rows[rows["uscc"] != gone]
    assert len(table) == kept["items"].str.split(";").str.len().sum()  # one row per item
    assert set(table["检查结果"]) <= {zh for zh, _ in vocabulary("inspection_result").values()}
    assert set(table["检查事项"]) <= {zh for zh, _ in vocabulary("inspection_item").values()}
    assert table["检查实施机关"].str.endswith("市场监督管理局").all()
    assert set(table["抽查任务编号"]) == {plan_id}


def test_no_publication_file_leaks_a_class_score_or_design(
    round_interim, report_month, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    interim, plan_id, rows, _ = round_interim
    cfg = _cfg()
    runs = [
        publish_inspections(plan_id, "2026-10", "任务", cfg, interim, tmp_path),
        publish_dormant("2026-10", cfg, interim, tmp_path),
    ]
    assert runs[1].summary["listed"] > 0
    classes = pd.read_parquet(
        report_month.outputs / "2026-10" / "classes.parquet",
        columns=["uscc", "score", "probability"],
    )
    files = [p for r in runs for p in r.folder.rglob("*") if p.is_file()]
    assert {p.suffix for p in files} >= {".csv", ".xlsx", ".json"}
    found = {p.name: leaks(p, report_month.scheme, classes) for p in files}
    assert not {k: v for k, v in found.items() if v}
    # the draw's design: strata, classes at the draw, inclusion probabilities
    for p in files:
        text = file_text(p)
        for stratum in rows["stratum"].dropna().unique():
            assert stratum not in text, (p.name, stratum)
        for prob in rows["inclusion_probability"].dropna().unique():
            assert repr(float(prob)) not in text, (p.name, prob)


def test_the_dormant_list(round_interim, tmp_path) -> None:  # type: ignore[no-untyped-def]
    interim, *_ = round_interim
    run = publish_dormant("2026-10", _cfg(), interim, tmp_path)
    table = pd.read_csv(run.folder / "dormant.csv", dtype=str, encoding="utf-8-sig")
    assert list(table.columns) == list(DORMANT_COLUMNS.values())
    reg = read_table(interim, "enterprises").set_index("uscc")
    listed = reg.loc[table["统一社会信用代码"]]
    assert (listed["status"] == "operating").all()
    assert (pd.to_datetime(listed["established_date"]) <= pd.Timestamp("2023-10-31")).all()
    reports = read_table(interim, "annual_reports")
    recent = reports[reports["report_year"].isin([2024, 2025])]
    assert not set(table["统一社会信用代码"]) & set(recent["uscc"])
    assert run.summary["listed"] == len(table) < run.summary["operating"] / 5


def test_errors_name_the_table_and_the_rule(round_interim, tmp_path) -> None:  # type: ignore[no-untyped-def]
    interim, *_ = round_interim
    with pytest.raises(PublishError, match=r"inspections\.plan_id: no result of round NOPE"):
        publish_inspections("NOPE", "2026-10", "x", _cfg(), interim, tmp_path)


def test_the_command(round_interim, tmp_path) -> None:  # type: ignore[no-untyped-def]
    interim, plan_id, _, _ = round_interim
    plan = tmp_path / "plans" / "routine"
    plan.mkdir(parents=True)
    (plan / "plan.json").write_text(
        json.dumps({"plan_id": plan_id, "month": "2026-10", "campaign": "routine"}),
        encoding="utf-8",
    )
    app = typer.Typer()
    app.command()(publish)
    app.command("noop")(lambda: None)
    out = tmp_path / "out"
    common = ["--interim", str(interim), "--outputs", str(out)]
    r = CliRunner().invoke(app, ["publish", "--plan", str(plan), *common])
    assert r.exit_code == 0, r.output
    table = pd.read_csv(
        out / "outreach" / "2026-10" / "publication" / plan_id / "inspections.csv",
        dtype=str,
        encoding="utf-8-sig",
    )
    # a neutral name and number: a campaign's own name (高风险企业分批抽查) can disclose classes
    assert set(table["抽查任务名称"]) == {"2026年10月双随机抽查"}
    assert set(table["抽查任务编号"]) == {public_task_no(plan_id, "2026-10")}
    assert not table["抽查任务编号"].str.contains("routine").any()
    r = CliRunner().invoke(app, ["publish", "--dormant", *common])
    assert r.exit_code == 2 and "--dormant needs --as-of" in r.output
    r = CliRunner().invoke(app, ["publish", "--dormant", "--plan", str(plan), *common])
    assert r.exit_code == 2 and "exactly one of" in r.output
    assert Path(out / "outreach" / "2026-10" / "publication" / plan_id).is_dir()
    # a round drawn from some classes only is refused: its list would disclose their class
    high = tmp_path / "plans" / "high_risk_batches"
    high.mkdir(parents=True)
    (high / "plan.json").write_text(
        json.dumps(
            {"plan_id": plan_id, "month": "2026-10", "campaign": "high_risk_batches",
             "scheme": "henan", "mode": "batches", "rates": {"C": 0.15, "D": 0.3}}
        ),
        encoding="utf-8",
    )  # fmt: skip
    r = CliRunner().invoke(app, ["publish", "--plan", str(high), *common])
    assert r.exit_code == 2 and "some classes only" in r.output
    # ... also when named by its id, if it was drawn here
    here = out / "2026-10" / "plans" / "high_risk_batches"
    here.mkdir(parents=True)
    (here / "plan.json").write_text((high / "plan.json").read_text(encoding="utf-8"))
    r = CliRunner().invoke(app, ["publish", "--plan-id", plan_id, "--as-of", "2026-10", *common])
    assert r.exit_code == 2 and "some classes only" in r.output
