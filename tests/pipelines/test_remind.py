"""`riskclass remind`: notices from an enterprise's own records, point in time, with no class,
score, model or feature in any file written (and no need of classes.parquet at all)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pyarrow.parquet as pq
import pytest

from features.reminders import OutreachConfig, RemindRules, dormant, reminder_facts
from models.classes import ClassScheme
from pipelines import store
from pipelines.config import load_config
from pipelines.remind import RemindError, run_remind
from pipelines.report import chromium, to_pdf
from tests.conftest import ROOT
from tests.interim import read_table
from tests.pipelines.outreach_scan import leaks

pytestmark = pytest.mark.xdist_group("report")

AS_OF = dt.date(2026, 10, 31)
D = dt.date


def _cfg() -> OutreachConfig:
    return load_config(ROOT / "configs" / "remind.yaml", OutreachConfig)


def _firm(uscc: str = "X", est: dt.date | None = None) -> pd.DataFrame:
    return pd.DataFrame({"uscc": [uscc], "established_date": [est or D(2020, 1, 1)]})


# ------------------------------------------------------------------------ facts, point in time
def test_a_report_received_after_the_month_end_does_not_count() -> None:
    reports = pd.DataFrame(
        {
            "uscc": ["X", "X", "X"],
            "report_year": [2023, 2024, 2025],
            "submitted_date": [D(2024, 5, 1), D(2025, 5, 1), D(2026, 10, 30)],
            "received_date": [D(2024, 5, 2), D(2025, 5, 2), D(2026, 11, 3)],  # 2025: too late
        }
    )
    f = reminder_facts(_firm(), {"annual_reports": reports}, AS_OF, RemindRules())
    assert f[["ref", "status"]].values.tolist() == [["2025", "overdue"]]
    assert f["until"].tolist() == [D(2026, 6, 30)]
    # before 30 June the previous year is due, not overdue (a firm set up in 2024)
    firm = _firm(est=D(2024, 2, 1))
    f = reminder_facts(firm, {"annual_reports": reports.iloc[:0]}, D(2025, 3, 31), RemindRules())
    assert f[["ref", "status"]].values.tolist() == [["2024", "due"]]
    # a firm set up in 2025 owes nothing before 2025
    f = reminder_facts(_firm(est=D(2025, 3, 1)), {"annual_reports": reports.iloc[:0]}, AS_OF,
                       RemindRules())  # fmt: skip
    assert f["ref"].tolist() == ["2025"]


def test_listings_penalties_licences_and_enforcement_point_in_time() -> None:
    abnormal = pd.DataFrame(
        {
            "uscc": ["X", "X", "X"],
            "reason": ["annual_report", "unreachable", "concealment"],
            "listed_date": [D(2026, 7, 1), D(2025, 1, 1), D(2026, 10, 20)],
            "received_date": [D(2026, 7, 2), D(2025, 1, 2), D(2026, 11, 2)],  # third: not yet
            # the second is removed, but the removal is received only after the month end
            "removed_date": [None, D(2026, 10, 30), None],
            "removal_reason": [None, "reachable", None],
            "removal_received_date": [None, D(2026, 11, 5), None],
        }
    )
    penalties = pd.DataFrame(
        {
            "uscc": ["X", "X", "X"],
            "decision_no": ["P1", "P2", "P3"],
            "penalty_kind": ["fine", "warning", "fine"],
            "decision_date": [D(2026, 9, 1), D(2026, 5, 1), D(2022, 1, 1)],  # P3: publicity over
            "amount": [1.5, None, 2.0],
            "minor": [False, True, False],
            "repaired_date": [None, None, None],
            "received_date": [D(2026, 9, 2), D(2026, 5, 2), D(2022, 1, 2)],
        }
    )
    licences = pd.DataFrame(
        {
            "uscc": ["X", "X", "X"],
            "licence_no": ["L1", "L2", "L3"],
            "licence_kind": ["food_business", "drug_business", "drug_business"],
            "issued_date": [D(2021, 12, 1), D(2021, 11, 1), D(2026, 10, 1)],
            "valid_until": [D(2026, 12, 1), D(2026, 11, 30), D(2031, 9, 30)],  # L2 renewed by L3
            "revoked_date": [None, None, None],
            "cancelled_date": [None, None, None],
            "received_date": [D(2021, 12, 2), D(2021, 11, 2), D(2026, 10, 2)],
        }
    )
    judicial = pd.DataFrame(
        {
            "uscc": ["X", "X"],
            "case_no": ["J1", "J2"],
            "kind": ["enforcement", "equity_freeze"],
            "filed_date": [D(2026, 3, 1), D(2026, 1, 1)],
            "amount": [10.0, 5.0],
            "closed_date": [None, D(2026, 6, 1)],
            "received_date": [D(2026, 3, 2), D(2026, 1, 2)],
        }
    )
    tables = {"abnormal_list": abnormal, "penalties": penalties, "licences": licences,
              "judicial": judicial}  # fmt: skip
    f = reminder_facts(_firm(), tables, AS_OF, RemindRules())
    got = {
        (k, str(r) if r is not None else c)
        for k, r, c in zip(f["kind"], f["ref"], f["code"], strict=True)
    }
    assert got == {
        ("abnormal", "annual_report"),
        ("abnormal", "unreachable"),
        ("penalty", "P1"),
        ("penalty", "P2"),
        ("licence", "L1"),
        ("enforcement", "J1"),
    }
    p = f.set_index("ref").loc[["P1", "P2"]]
    assert p["act_from"].tolist() == [D(2027, 9, 1), D(2026, 8, 1)]  # 12 months; 3 if minor
    assert p["status"].tolist() == ["wait", "repairable"]
    assert f.set_index("ref").at["L1", "act_from"] == D(2026, 11, 1)  # 30 days before


def test_dormant_needs_no_report_and_no_activity() -> None:
    firms = pd.DataFrame(
        {"uscc": ["OLD", "BUSY", "YOUNG"],
         "established_date": [D(2015, 1, 1), D(2015, 1, 1), D(2025, 1, 1)]}
    )  # fmt: skip
    reports = pd.DataFrame(
        {"uscc": ["OLD"], "report_year": [2022], "submitted_date": [D(2023, 5, 1)],
         "received_date": [D(2023, 5, 1)]}
    )  # fmt: skip
    changes = pd.DataFrame(
        {"uscc": ["BUSY"], "change_date": [D(2026, 2, 1)], "received_date": [D(2026, 2, 3)]}
    )
    found = dormant(firms, {"annual_reports": reports, "changes": changes}, AS_OF, _cfg().dormant)
    assert found["uscc"].tolist() == ["OLD"]
    assert found["last_report_year"].tolist() == [2022]


def test_an_unknown_enterprise_or_division_is_a_clear_error(small_interim, tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(RemindError, match=r"enterprises\.uscc: 1 USCC"):
        run_remind("2026-10", _cfg(), small_interim[1], tmp_path, usccs=["91000000000000000X"])
    with pytest.raises(RemindError, match=r"enterprises\.division_code: no enterprise in 999999"):
        run_remind("2026-10", _cfg(), small_interim[1], tmp_path, division="999999")
    with pytest.raises(RemindError, match="needs the PDF printer"):
        run_remind("2026-10", _cfg(), small_interim[1], tmp_path, division="44", fmt="pdf")


# ---------------------------------------------------------------------- the no-leak guarantee
@pytest.fixture(scope="module")
def county_batch(small_interim, tmp_path_factory, monkeypatch_module):  # type: ignore[no-untyped-def]
    """The largest division of the small province, HTML and the combined PDF, written with
    every parquet read recorded (outputs: an empty folder, no classes.parquet anywhere)."""
    interim = small_interim[1]
    reg = read_table(interim, "enterprises", columns=["division_code"])
    division = str(reg["division_code"].value_counts().index[0])
    read: list[str] = []
    real = pq.read_table
    real_arrow = store.TableSnapshot.arrow

    def spy(source, *a, **kw):  # type: ignore[no-untyped-def]
        read.append(str(source))
        return real(source, *a, **kw)

    def spy_store(self, *a, **kw):  # type: ignore[no-untyped-def]
        read.extend(self.files)  # the interim tables, read through the store
        return real_arrow(self, *a, **kw)

    monkeypatch_module.setattr(pq, "read_table", spy)
    monkeypatch_module.setattr(store.TableSnapshot, "arrow", spy_store)
    out = tmp_path_factory.mktemp("remind_outputs")
    fmt = "both" if _has_chromium() else "html"
    run = run_remind("2026-10", _cfg(), interim, out, division=division, fmt=fmt, printer=to_pdf)
    monkeypatch_module.undo()
    return run, read, out, interim


@pytest.fixture(scope="module")
def monkeypatch_module():  # type: ignore[no-untyped-def]
    mp = pytest.MonkeyPatch()
    yield mp
    mp.undo()


def _has_chromium() -> bool:
    try:
        chromium()
    except Exception:
        return False
    return True


def test_a_county_batch_reads_only_the_interim_tables(county_batch) -> None:  # type: ignore[no-untyped-def]
    run, read, out, interim = county_batch
    assert read and all(Path(p).is_relative_to(Path(interim).resolve()) for p in read), read
    assert not any("classes" in Path(p).name or "features" in p for p in read)
    assert not list(Path(out).rglob("classes.parquet"))
    s = run.summary
    assert s["selected"] == s["operating"] + s["not_operating"]
    assert s["operating"] == s["with_notice"] + s["nothing_to_remind"]
    assert s["with_notice"] == len(run.notices) > 10
    assert run.folder == Path(out) / "outreach" / "2026-10" / "reminders" / s["division"]
    index = pd.read_csv(run.folder / "index.csv", dtype=str, encoding="utf-8-sig")
    assert len(index) == s["with_notice"]
    if run.pdf is not None:
        assert run.pdf.read_bytes()[:5] == b"%PDF-"
        html = (run.folder / "reminders.html").read_text(encoding="utf-8")
        assert html.count('class="notice"') == s["with_notice"]  # one page per firm
        assert "page-break-after: always" in html


def test_no_file_of_a_batch_leaks_a_class_score_model_or_feature(
    county_batch, report_month
) -> None:  # type: ignore[no-untyped-def]
    run, _, _, _ = county_batch
    scheme = report_month.scheme
    assert isinstance(scheme, ClassScheme)
    classes = pd.read_parquet(
        report_month.outputs / "2026-10" / "classes.parquet",
        columns=["uscc", "score", "probability"],
    )
    named = set(classes["uscc"]) & {p.stem for p in run.notices}
    assert len(named) > 10  # the firms reminded are classified: there is something to leak
    files = [p for p in run.folder.rglob("*") if p.is_file()]
    assert {p.suffix for p in files} >= {".html", ".csv", ".json"}
    found = {p.name: leaks(p, scheme, classes) for p in files}
    assert not {k: v for k, v in found.items() if v}


def test_the_scan_finds_what_it_looks_for(county_batch, report_month, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The scanner is not blind: a notice with a class, a score or a feature is caught."""
    run, _, _, _ = county_batch
    classes = pd.read_parquet(
        report_month.outputs / "2026-10" / "classes.parquet",
        columns=["uscc", "score", "probability"],
    ).set_index("uscc")
    page = next(p for p in run.notices if p.stem in classes.index)
    text = page.read_text(encoding="utf-8")
    score = float(classes.at[page.stem, "score"])
    for planted in ("本企业为C类", "信用风险较高", "age_years", "成立年限", "score",
                    f"{classes.at[page.stem, 'probability']!r}", f"{score:.0f}分"):  # fmt: skip
        bad = tmp_path / "bad.html"
        bad.write_text(text.replace("</body>", f"<p>{planted}</p></body>"), encoding="utf-8")
        assert leaks(bad, report_month.scheme, classes.reset_index()), planted


def test_a_single_enterprise_gets_its_own_pdf(county_batch, small_interim, tmp_path) -> None:  # type: ignore[no-untyped-def]
    run, _, _, interim = county_batch
    if not _has_chromium():
        pytest.skip("no Chromium on this machine")
    uscc = run.notices[0].stem
    one = run_remind("2026-10", _cfg(), interim, tmp_path, usccs=[uscc], fmt="pdf", printer=to_pdf)
    assert [p.name for p in one.notices] == [f"{uscc}.pdf"]
    assert one.notices[0].read_bytes()[:5] == b"%PDF-"
    assert not (one.folder / "index.html").exists()


def test_a_firm_with_nothing_to_remind_gets_no_notice(small_interim, tmp_path) -> None:  # type: ignore[no-untyped-def]
    reg = read_table(small_interim[1], "enterprises", columns=["uscc", "status"])
    cfg = _cfg()
    for uscc in reg.loc[reg["status"] == "operating", "uscc"].head(200):
        run = run_remind("2026-10", cfg, small_interim[1], tmp_path, usccs=[uscc])
        if run.summary["nothing_to_remind"] == 1:
            assert run.notices == [] and not list(run.folder.glob(f"{uscc}*"))
            return
    pytest.fail("no operating firm without facts among the first 200")


# ---------------------------------------------------------------------- credit repairs
def _penalties(nos: list[str], uscc: str = "X") -> pd.DataFrame:
    n = len(nos)
    return pd.DataFrame(
        {
            "uscc": [uscc] * n,
            "decision_no": nos,
            "penalty_kind": ["fine"] * n,
            "decision_date": [D(2026, 1, 1)] * n,
            "amount": [1.0] * n,
            "minor": [False] * n,
            "repaired_date": [None] * n,
            "received_date": [D(2026, 1, 2)] * n,
        }
    )


def _repair(rid: str, no: str, decision: str, decided: dt.date, received: dt.date,
            **kw: object) -> dict[str, object]:  # fmt: skip
    row: dict[str, object] = {
        "repair_id": rid, "uscc": "X", "target_table": "penalties", "decision_no": no,
        "listing_reason": None, "listed_date": None, "decision": decision, "refusal_reason": None, "decided_date": decided,
        "received_date": received, "revoked_date": None, "revocation_reason": None,
        "revocation_received_date": None,
    }  # fmt: skip
    row.update(kw)
    return row


def _repair_tables() -> dict[str, pd.DataFrame]:
    pen = _penalties(["G", "R", "V", "LATE", "RV", "OLD", "PN", "OTHER"])
    # OLD: repaired as exported on the penalty; V: too, but that repair was revoked since
    pen["repaired_date"] = [None, None, D(2026, 2, 1), None, None, D(2026, 3, 1), None, None]
    repairs = pd.DataFrame(
        [
            _repair("1", "G", "granted", D(2026, 6, 1), D(2026, 6, 2)),
            _repair("2", "R", "refused", D(2026, 7, 1), D(2026, 7, 2),
                    refusal_reason="obligations_unmet"),
            _repair("3", "V", "granted", D(2026, 2, 1), D(2026, 2, 2),
                    revoked_date=D(2026, 8, 1), revocation_reason="commitment_broken",
                    revocation_received_date=D(2026, 8, 3)),
            # decided before the month end, received after it: not known yet
            _repair("4", "LATE", "granted", D(2026, 10, 30), D(2026, 11, 2)),
            # revoked before the month end, but the revocation received after it: in force
            _repair("5", "RV", "granted", D(2026, 5, 1), D(2026, 5, 2),
                    revoked_date=D(2026, 10, 20), revocation_reason="false_materials",
                    revocation_received_date=D(2026, 11, 3)),
            _repair("6", "PN", "refused", D(2026, 4, 1), D(2026, 4, 2),
                    refusal_reason="period_not_met"),
            # another enterprise's repair of a decision with the same number: not this one's
            {**_repair("7", "OTHER", "granted", D(2026, 6, 1), D(2026, 6, 2)), "uscc": "Y"},
        ]
    )  # fmt: skip
    return {"penalties": pen, "credit_repairs": repairs}


def test_credit_repairs_granted_refused_revoked_point_in_time() -> None:
    rules = _cfg().remind
    tables = _repair_tables()
    f = reminder_facts(_firm(), tables, AS_OF, rules).set_index("ref")
    # G granted and OLD repaired on the penalty: not listed; RV's revocation is not known yet
    assert sorted(f.index) == ["LATE", "OTHER", "PN", "R", "V"]
    assert f.at["R", "repair"] == "refused" and f.at["R", "repair_reason"] == "obligations_unmet"
    assert f.at["R", "status"] == "remedy"  # no date: once the refusal reason is remedied
    assert f.at["V", "repair"] == "revoked" and f.at["V", "repair_date"] == D(2026, 8, 1)
    assert f.at["V", "act_from"] == D(2029, 8, 1)  # 3 years after the revocation
    assert f.at["V", "status"] == "wait"
    # period_not_met: again once the usual wait has passed (configs/remind.yaml: 0 months)
    assert f.at["PN", "act_from"] == D(2027, 1, 1) and f.at["PN", "status"] == "wait"
    assert f.loc[["LATE", "OTHER"], "repair"].isna().all()
    assert f.loc[["LATE", "OTHER"], "act_from"].tolist() == [D(2027, 1, 1)] * 2
    # a month later, the late repair and the revocation of RV are known
    g = reminder_facts(_firm(), tables, D(2026, 11, 30), rules).set_index("ref")
    assert "LATE" not in g.index and g.at["RV", "repair"] == "revoked"
    # without the table, repaired_date alone decides (V counts as repaired again)
    h = reminder_facts(_firm(), {"penalties": tables["penalties"]}, AS_OF, rules)
    assert sorted(h["ref"]) == ["G", "LATE", "OTHER", "PN", "R", "RV"]


def test_a_notice_says_a_refused_or_revoked_repair_and_leaks_nothing(tmp_path: Path) -> None:
    interim = tmp_path / "interim"
    interim.mkdir()
    registry = pd.DataFrame(
        {"uscc": ["X"], "name": ["某某公司"], "division_code": ["440106"],
         "established_date": [D(2020, 1, 1)], "deregistered_date": [None],
         "revoked_date": [None]}
    )  # fmt: skip
    for name, frame in {"enterprises": registry, **_repair_tables()}.items():
        frame.to_parquet(interim / f"{name}.parquet", index=False)
    run = run_remind("2026-10", _cfg(), interim, tmp_path / "out", usccs=["X"])
    assert "credit_repairs" not in run.summary["tables_absent"]
    assert run.summary["facts"]["penalty"] == 5
    text = run.notices[0].read_text(encoding="utf-8")
    assert "决定书G" not in text and "决定书RV" not in text and "决定书OLD" not in text
    assert "2026年7月1日对该处罚的信用修复申请作出不予信用修复决定" in text
    assert "未履行行政处罚决定或未消除危害后果和不良影响" in text  # the refusal reason's label
    assert "消除上述情形后可再次申请信用修复" in text
    assert "已于2026年8月1日被撤销（撤销原因：“未履行信用修复承诺”）" in text
    assert "自2029年8月1日起可再次申请信用修复" in text
    scheme = SimpleNamespace(classes=[])  # the feature and internal words; no class to name
    assert leaks(run.notices[0], scheme) == []  # type: ignore[arg-type]


def test_a_listing_whose_repair_was_revoked_is_on_again() -> None:
    abnormal = pd.DataFrame(
        {
            "uscc": ["X", "X", "X"],
            "reason": ["annual_report", "unreachable", "concealment"],
            "listed_date": [D(2025, 1, 1), D(2025, 2, 1), D(2025, 3, 1)],
            "received_date": [D(2025, 1, 2), D(2025, 2, 2), D(2025, 3, 2)],
            "removed_date": [D(2026, 5, 1)] * 3,
            "removal_reason": ["credit_repair"] * 3,
            "removal_received_date": [D(2026, 5, 2)] * 3,
        }
    )
    listing = {"target_table": "abnormal_list", "decision_no": None}
    repairs = pd.DataFrame(
        [
            # in force: the removal stands, nothing to remind
            _repair("1", "", "granted", D(2026, 5, 1), D(2026, 5, 2), **listing,
                    listing_reason="annual_report", listed_date=D(2025, 1, 1)),
            # revoked, the revocation received: on the list again
            _repair("2", "", "granted", D(2026, 5, 1), D(2026, 5, 2), **listing,
                    listing_reason="unreachable", listed_date=D(2025, 2, 1),
                    revoked_date=D(2026, 9, 1), revocation_reason="false_materials",
                    revocation_received_date=D(2026, 9, 2)),
            # revoked, but the revocation received after the month end: still removed
            _repair("3", "", "granted", D(2026, 5, 1), D(2026, 5, 2), **listing,
                    listing_reason="concealment", listed_date=D(2025, 3, 1),
                    revoked_date=D(2026, 10, 30), revocation_reason="false_materials",
                    revocation_received_date=D(2026, 11, 2)),
        ]
    )  # fmt: skip
    tables = {"abnormal_list": abnormal, "credit_repairs": repairs}
    f = reminder_facts(_firm(), tables, AS_OF, RemindRules())
    assert f[["kind", "code"]].values.tolist() == [["abnormal", "unreachable"]]
    assert reminder_facts(_firm(), {"abnormal_list": abnormal}, AS_OF, RemindRules()).empty
