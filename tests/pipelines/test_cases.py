"""The case store, the action import, the CLI and the demo's action file (pipelines.cases)."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from pathlib import Path

import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

from contract.months import Month
from models.cases import CaseError, CasesConfig
from pipelines.cases import CasesError, CaseStore, import_actions, read_actions
from pipelines.cli.cases import cases_app
from pipelines.config import load_config

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def cfg() -> CasesConfig:
    return load_config(ROOT / "configs" / "cases.yaml", CasesConfig)


@pytest.fixture
def interim(tmp_path: Path) -> Path:
    folder = tmp_path / "interim"
    folder.mkdir()
    pd.DataFrame(
        {
            "inspection_id": ["J1", "J2", "J3", "J4", "J5"],
            "uscc": ["u1", "u2", "u3", "u4", "u1"],
            "inspection_date": [dt.date(2026, 9, 1), dt.date(2026, 9, 2), dt.date(2026, 9, 3),
                                dt.date(2026, 10, 20), dt.date(2026, 10, 30)],
            "problem_found": [True, False, True, True, True],
            "problem_category": ["licence", None, None, "food_safety", "licence"],
            "received_date": [dt.date(2026, 9, 10), dt.date(2026, 9, 10), dt.date(2026, 9, 20),
                              dt.date(2026, 10, 25), dt.date(2026, 11, 3)],
        }
    ).to_parquet(folder / "inspections.parquet")  # fmt: skip
    pd.DataFrame(
        {"uscc": ["u1", "u2", "u3", "u4"],
         "division_code": ["440103", "440103", "440104", "440201"]}
    ).to_parquet(folder / "enterprises.parquet")  # fmt: skip
    return folder


@pytest.fixture
def store(tmp_path: Path, interim: Path) -> CaseStore:
    s = CaseStore(tmp_path / "cases" / "cases.sqlite")
    s.open_from_interim(interim, Month("2026-10"))
    return s


def test_open_is_idempotent_and_respects_received_date(tmp_path: Path, interim: Path) -> None:
    s = CaseStore(tmp_path / "c.sqlite")
    first = s.open_from_interim(interim, Month("2026-10"))
    assert (first.problems, first.opened, first.already) == (3, 3, 0)  # J5 received in 11
    again = s.open_from_interim(interim, Month("2026-10"))
    assert (again.opened, again.already) == (0, 3)
    later = s.open_from_interim(interim, Month("2026-11"))
    assert (later.opened, later.already) == (1, 3)
    cases = s.cases()
    assert cases["case_id"].tolist() == ["J1:licence", "J3:unspecified", "J4:food_safety",
                                         "J5:licence"]  # fmt: skip
    assert set(cases["state"]) == {"open"}
    assert len(s.events()) == 4  # one "open" event per case, none twice


def test_missing_interim_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(CasesError, match=r"table inspections not found"):
        CaseStore(tmp_path / "c.sqlite").open_from_interim(tmp_path, Month("2026-10"))


def test_refer_acknowledge_close_and_history(store: CaseStore, cfg: CasesConfig) -> None:
    assert store.act(cfg, "J1:licence", "refer", "2026-09-05", "zhang", department="卫生健康部门")
    assert store.act(cfg, "J1:licence", "acknowledge", "2026-09-07", "li") == "acknowledged"
    assert store.act(cfg, "J1:licence", "close", "2026-10-01", "li",
                     disposal="referred_handled") == "closed"  # fmt: skip
    case = store.case("J1:licence")
    assert case is not None
    assert (case["department"], case["disposal"]) == ("health", "referred_handled")
    assert case["disposal_date"] == dt.date(2026, 10, 1)
    hist = store.events("J1:licence")
    assert hist["action"].tolist() == ["open", "refer", "acknowledge", "close"]
    assert hist["by"].tolist()[1:] == ["zhang", "li", "li"]
    assert hist["recorded_at"].notna().all()


def test_invalid_actions_name_case_and_rule(store: CaseStore, cfg: CasesConfig) -> None:
    with pytest.raises(CaseError, match=r"case J3:unspecified: cannot acknowledge .*rule"):
        store.act(cfg, "J3:unspecified", "acknowledge", "2026-09-05", "zhang")
    with pytest.raises(CaseError, match=r"needs a referral first"):
        store.act(cfg, "J3:unspecified", "close", "2026-09-05", "zhang", disposal="移交后已处理")
    with pytest.raises(CaseError, match=r"before the case became open"):
        store.act(cfg, "J3:unspecified", "close", "2026-08-01", "zhang", disposal="rectified")
    with pytest.raises(CaseError, match=r"no such case"):
        store.act(cfg, "J9:licence", "close", "2026-09-05", "zhang", disposal="rectified")
    with pytest.raises(CaseError, match=r"refer needs a department"):
        store.act(cfg, "J3:unspecified", "refer", "2026-09-05", "zhang")
    store.act(cfg, "J3:unspecified", "close", "2026-09-09", "zhang", disposal="rectified")
    with pytest.raises(CaseError, match=r"a closed case is final"):
        store.act(cfg, "J3:unspecified", "close", "2026-09-10", "zhang", disposal="rectified")
    assert store.case("J3:unspecified")["disposal"] == "rectified"  # type: ignore[index]


def test_events_are_append_only(store: CaseStore) -> None:
    with sqlite3.connect(store.path) as db, pytest.raises(sqlite3.DatabaseError, match="append"):
        db.execute("DELETE FROM events")
    with sqlite3.connect(store.path) as db, pytest.raises(sqlite3.DatabaseError, match="append"):
        db.execute("UPDATE events SET by = 'x'")


def test_overdue_and_division_scope(store: CaseStore, cfg: CasesConfig) -> None:
    # deadlines: open 60 days; J1 open since 09-01, J3 since 09-03, J4 since 10-20
    late = store.overdue(cfg, dt.date(2026, 11, 1))
    assert late["case_id"].tolist() == ["J1:licence"]
    late = store.overdue(cfg, dt.date(2026, 12, 31))
    assert late["case_id"].tolist() == ["J1:licence", "J3:unspecified", "J4:food_safety"]
    assert late["days_overdue"].tolist() == [61, 59, 12]
    assert store.overdue(cfg, dt.date(2026, 12, 31), "440104")["case_id"].tolist() == [
        "J3:unspecified"
    ]
    assert len(store.cases("4401")) == 2 and len(store.cases("44")) == 3
    store.act(cfg, "J1:licence", "refer", "2026-09-05", "z", department="tax")
    late = store.overdue(cfg, dt.date(2026, 9, 20), "440103")  # referred 10 days: due 09-15
    assert late[["case_id", "days_overdue"]].values.tolist() == [["J1:licence", 5]]


def test_import_reconciles_and_keeps_rejected_rows(store: CaseStore, cfg: CasesConfig,
                                                   tmp_path: Path) -> None:  # fmt: skip
    path = tmp_path / "actions.csv"
    pd.DataFrame(
        {
            "inspection_id": ["J1", "J1", "J3", "J9", "J4", "J4", "J1"],
            "item": ["licence", "licence", "", "", "", "", "licence"],
            "action": ["移交", "签收", "办结", "close", "close", "reopen", "办结"],
            "department": ["卫生健康部门", "", "", "", "", "", ""],
            "disposal": ["", "", "责令改正已整改", "rectified", "fined", "", "移交后已处理"],
            "date": ["2026-09-05", "2026-09-06", "2026-09-20", "2026-09-20", "2026-10-21",
                     "2026-10-22", "2026-10-01"],
        }
    ).to_csv(path, index=False, encoding="utf-8-sig")  # fmt: skip
    frame = read_actions(path)
    r = import_actions(store, frame, cfg, "importer", "actions.csv")
    assert (r.rows, r.accepted, r.already, len(r.rejected)) == (7, 4, 0, 3)
    assert r.reconciles
    reasons = dict(zip(r.rejected["line"], r.rejected["reason"], strict=True))
    assert "no case" in reasons[5] and "unknown disposal 'fined'" in reasons[6]
    assert "unknown action 'reopen'" in reasons[7]
    assert store.case("J1:licence")["state"] == "closed"  # type: ignore[index]
    again = import_actions(store, frame, cfg, "importer", "actions.csv")
    assert (again.accepted, again.already, len(again.rejected)) == (0, 4, 3)
    assert len(store.events("J1:licence")) == 4  # nothing applied twice


def test_read_actions_errors(tmp_path: Path) -> None:
    with pytest.raises(CasesError, match="not found"):
        read_actions(tmp_path / "none.csv")
    bad = tmp_path / "bad.csv"
    bad.write_text("case_id,what\nJ1:licence,x\n", encoding="utf-8")
    with pytest.raises(CasesError, match=r"bad.csv: column 'action' is missing"):
        read_actions(bad)


def _app() -> typer.Typer:
    app = typer.Typer()
    app.add_typer(cases_app, name="cases")

    @app.callback()
    def main() -> None:  # a group, as in riskclass
        pass

    return app


def test_cli_round_trip_formula_safe(tmp_path: Path, interim: Path) -> None:
    run = CliRunner().invoke
    app, db = _app(), str(tmp_path / "s.sqlite")
    res = run(app, ["cases", "list", "--store", db])
    assert res.exit_code == 2 and "no case store" in res.output
    assert not Path(db).exists()
    res = run(app, ["cases", "open", "--as-of", "2026-10", "--interim", str(interim),
                    "--store", db])  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "cases opened now: 3" in res.output
    res = run(app, ["cases", "refer", "--case", "J1:licence", "--to", "health", "--date",
                    "2026-09-04", "--by", "zhang", "--store", db])  # fmt: skip
    assert res.exit_code == 0, res.output
    res = run(app, ["cases", "refer", "--case", "J1:licence", "--to", "health", "--date",
                    "2026-09-04", "--by", "zhang", "--store", db])  # fmt: skip
    assert res.exit_code == 2 and "referred once" in res.output
    res = run(app, ["cases", "close", "--case", "J1:licence", "--disposal", "no_violation",
                    "--date", "2026-09-04", "--by", "=cmd", "--store", db])  # fmt: skip
    assert res.exit_code == 0, res.output
    out = tmp_path / "list.csv"
    res = run(app, ["cases", "list", "--division", "440103", "--out", str(out), "--store", db])
    assert res.exit_code == 0, res.output
    assert len(pd.read_csv(out)) == 1
    res = run(app, ["cases", "overdue", "--as-of", "2026-12", "--store", db,
                    "--out", str(tmp_path / "late.xlsx")])  # fmt: skip
    assert res.exit_code == 0 and "2 overdue" in res.output
    # an import where almost nothing goes through exits non-zero, rejected rows kept
    bad = tmp_path / "bad.csv"
    pd.DataFrame({"case_id": ["X:1", "X:2", "J4:food_safety"], "action": ["close"] * 3,
                  "disposal": ["=HYPERLINK(1)"] * 3, "date": ["2026-11-01"] * 3}).to_csv(
        bad, index=False)  # fmt: skip
    res = run(app, ["cases", "import", str(bad), "--store", db])
    assert res.exit_code == 2 and "only 0%" in res.output
    kept = (tmp_path / "bad.csv.rejected.csv").read_text(encoding="utf-8-sig")
    assert "'=HYPERLINK" in kept and "=HYPERLINK" not in kept.replace("'=HYPERLINK", "")


@pytest.mark.slow
def test_demo_actions_import_on_small_province(small_province, small_interim, cfg: CasesConfig,  # type: ignore[no-untyped-def]
                                               tmp_path: Path) -> None:  # fmt: skip
    from pipelines.simulate import write_case_actions
    from simulator.followup import DEPARTMENTS

    assert set(DEPARTMENTS) <= {d.code for d in cfg.departments}
    out = tmp_path / "raw_cases" / "actions.csv"
    n = write_case_actions(small_province["raw"], out, seed=3)
    assert n > 0 and n == write_case_actions(small_province["raw"], out, seed=3)
    s = CaseStore(tmp_path / "c.sqlite")
    opened = s.open_from_interim(small_interim[1], Month("2026-10"))
    r = import_actions(s, read_actions(out), cfg, "demo", "actions.csv")
    assert r.reconciles and r.accepted >= 0.9 * r.rows
    states = s.cases()["state"].value_counts()
    assert states["closed"] > 0.7 * opened.opened
    assert states.get("referred", 0) + states.get("acknowledged", 0) > 0
    assert len(s.overdue(cfg, Month("2026-10").end)) > 0


# ------------------------------------------------------------------ verification (预警处置准确性)
def test_followup_section_absent_without_store(tmp_path: Path, interim: Path) -> None:
    from pipelines.verify.followup import followup_section

    s = followup_section(tmp_path, interim, "2026-10")
    assert s["computed"] is False and "no case store" in s["why"]


def test_followup_section_point_in_time(tmp_path: Path, interim: Path, cfg: CasesConfig) -> None:
    from pipelines.cases import store_path
    from pipelines.verify.followup import case_store, followup_section

    outputs = tmp_path / "outputs"
    assert case_store(outputs) == store_path(outputs)  # both modules keep the same rule
    s = CaseStore(store_path(outputs))
    s.open_from_interim(interim, Month("2026-10"))
    s.act(cfg, "J1:licence", "close", "2026-09-11", "z", disposal="rectified")
    s.act(cfg, "J3:unspecified", "refer", "2026-09-05", "z", department="tax")
    s.act(cfg, "J3:unspecified", "close", "2026-11-02", "z", disposal="移交后已处理")
    (outputs / "2026-08").mkdir(parents=True)
    pd.DataFrame({"uscc": ["u1", "u2", "u3"]}).to_parquet(outputs / "2026-08" / "warnings.parquet")
    f = followup_section(outputs, interim, "2026-10")
    assert f["computed"]
    c = f["cases"]
    # by 10-31: J1 closed (10 days), J3 referred since 09-05 (overdue: 10 days), J4 open
    assert (c["opened"], c["disposed"], c["overdue"], c["referred_pending"]) == (3, 1, 1, 1)
    assert c["median_days_to_disposal"] == 10.0
    assert c["by_disposal"]["rectified"]["cases"] == 1
    assert c["by_disposal"]["referred_handled"]["cases"] == 0  # closed after the month end
    assert {d["division_code"]: d["opened"] for d in f["divisions"]} == {
        "440103": 1, "440104": 1, "440201": 1}  # fmt: skip
    (w,) = f["warnings"]
    # 2026-08 warnings: u1 inspected 09-01 (J1, problem), u3 on 09-03 (J3, problem); u2 on 09-02
    assert (w["month"], w["warnings"], w["acted"], w["inspected"], w["problem_found"]) == (
        "2026-08", 3, 3, 3, 2)  # fmt: skip
    assert w["days_observed"] == 61
    text = json.dumps(f)
    assert "u1" not in text and "J1" not in text  # aggregates only
    later = followup_section(outputs, interim, "2026-11")["cases"]
    assert later["by_disposal"]["referred_handled"]["cases"] == 1


@pytest.mark.slow
def test_verify_reports_followup(small_model, small_history, small_interim, tmp_path: Path,  # type: ignore[no-untyped-def]
                                 cfg: CasesConfig) -> None:  # fmt: skip
    from models.classes import ClassScheme
    from pipelines.cases import store_path
    from pipelines.verify import run_verify

    mcfg, _ = small_model
    scheme = load_config(mcfg.class_scheme, ClassScheme)
    CaseStore(store_path(tmp_path)).open_from_interim(small_interim[1], Month("2026-10"))
    v = run_verify(mcfg, scheme, small_history, small_interim[1], "2026-10", tmp_path)
    assert v.metrics.followup["computed"] and v.metrics.followup["cases"]["opened"] > 0
    on_disk = json.loads(v.out.read_text(encoding="utf-8"))
    assert on_disk["followup"]["cases"]["opened"] == v.metrics.followup["cases"]["opened"]
    html = (v.out.parent / "verification.html").read_text(encoding="utf-8")
    assert "预警处置准确性" in html


def test_simulated_actions_are_seeded_dated_and_known(cfg: CasesConfig) -> None:
    from simulator.followup import DEPARTMENTS, case_actions

    n = 2000
    insp = pd.DataFrame(
        {
            "inspection_id": [f"J{i:05d}" for i in range(n)],
            "inspection_date": [dt.date(2026, 1, 1) + dt.timedelta(days=i % 250) for i in range(n)],
            "problem_found": [i % 2 == 0 for i in range(n)],
            "problem_category": [None if i % 10 == 0 else "licence" for i in range(n)],
        }
    )
    end = dt.date(2026, 9, 30)
    a = case_actions(insp, end, seed=5)
    assert a.equals(case_actions(insp, end, seed=5)) and not a.equals(case_actions(insp, end, 6))
    assert (pd.to_datetime(a["date"]).dt.date <= end).all()
    assert set(a["inspection_id"]) <= set(insp.loc[insp["problem_found"], "inspection_id"])
    assert set(a["action"]) == {"refer", "acknowledge", "close"}
    assert set(a["department"].dropna()) <= {d.code for d in cfg.departments}
    assert set(DEPARTMENTS) <= {d.code for d in cfg.departments}
    assert set(a["disposal"].dropna()) <= {d.code for d in cfg.disposals}
    closed = a.loc[a["action"] == "close", "inspection_id"].nunique()
    referred = a.loc[a["action"] == "refer", "inspection_id"].nunique()
    assert 0.75 < closed / (n // 2) < 0.97 and 0.05 < referred / (n // 2) < 0.2
