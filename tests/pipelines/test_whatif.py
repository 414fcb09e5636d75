"""What would lower the risk: remedies re-scored exactly from the enterprise's changed records."""

from __future__ import annotations

import dataclasses
import re

import duckdb
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from features import whatif as remedies
from features.definitions import CATALOG, month_batches
from features.engine import Window, coverage_pairs, define_macros
from pipelines import store
from pipelines.report import write_reports
from pipelines.report.context import _whatif
from pipelines.report.sentences import whatif_sentences
from pipelines.whatif import (
    COLUMNS,
    _arrow,
    _file_settings,
    _own_records,
    run_whatif,
)

pytestmark = pytest.mark.xdist_group("report")


@pytest.fixture(scope="module")
def computed(report_month, small_model, small_interim, tmp_path_factory):  # type: ignore[no-untyped-def]
    """The what-ifs of the report month (C and D), written apart from its outputs."""
    cfg, _ = small_model
    ctx = report_month
    out = tmp_path_factory.mktemp("whatif") / "whatif.parquet"
    report = run_whatif(
        ctx.bundle,
        ctx.scheme,
        cfg.whatif,
        small_interim[1],
        ctx.features_path,
        ctx.outputs / ctx.month / "classes.parquet",
        ctx.month,
        out,
    )
    return report, pq.read_table(out).to_pandas(), out


def test_the_file_has_its_columns_and_every_what_if_is_exact(computed, report_month) -> None:  # type: ignore[no-untyped-def]
    report, frame, out = computed
    assert tuple(pq.read_schema(out).names) == COLUMNS
    assert report.enterprises == int(report_month.classes["class_final"].isin(["C", "D"]).sum())
    assert len(frame) == report.scenarios > 0
    assert frame["exact"].all() and report.inexact == 0  # the unchanged copy gave the score
    assert set(frame["class_before"]) <= {"C", "D"}
    stored = report_month.classes
    assert (frame["score_before"].to_numpy() == stored.loc[frame["uscc"], "score"].to_numpy()).all()
    # each remedy alone, then all together (only with two or more)
    for _u, g in frame.groupby("uscc"):
        alone = [s for s in g["scenario"] if s != "all"]
        assert len(set(alone)) == len(alone) and set(alone) <= set(remedies.BY_KEY)
        assert ("all" in set(g["scenario"])) == (len(alone) > 1)
        if len(alone) > 1:
            assert list(g["scenario"])[-1] == "all"


def test_filing_the_reports_changes_every_feature_that_depends_on_them(
    computed, report_month
) -> None:  # type: ignore[no-untyped-def]
    _, frame, _ = computed
    ctx = report_month
    filed = frame[(frame["scenario"] == "annual_report") & frame["detail"].notna()]
    assert len(filed) > 0
    feats = pq.read_table(
        ctx.features_path,
        columns=["uscc", "ar_last_due_missing", "ar_missing_years"],
        filters=[("uscc", "in", list(filed["uscc"]))],
    ).to_pandas().set_index("uscc")  # fmt: skip
    last_missing = feats.loc[filed["uscc"], "ar_last_due_missing"].to_numpy() == 1
    owed = filed[last_missing]
    assert len(owed) > 0
    # not one column: the missing-report flag, the years missing, the late filings, ...
    for names in owed["features_changed_names"].str.split(";"):
        assert {"ar_last_due_missing", "ar_missing_years", "ar_late_3y"} <= set(names)
    assert (owed["features_changed"] >= 3).all()
    # a firm one of whose risk points was the missing report: its score falls
    points = ctx.classes.loc[owed["uscc"], [f"risk_{k}_feature" for k in range(1, ctx.top_k + 1)]]
    was = np.isin(points.to_numpy(), ["ar_last_due_missing", "ar_missing_years"]).any(axis=1)
    own = owed[was]
    assert len(own) > 0
    assert (own["score_after"] < own["score_before"]).mean() > 0.9


def test_an_override_that_still_holds_is_reported_as_held(computed, report_month) -> None:  # type: ignore[no-untyped-def]
    _, frame, _ = computed
    held = frame["override_after"].notna() & (
        frame["class_final_after"] != frame["class_model_after"]
    )
    assert (frame["override_held"] == held).all()
    # the serious list holds D whatever the score, until credit repair lifts it
    sd = frame[frame["override_before"] == "serious_dishonest_list"]
    if len(sd):
        kept = sd[sd["scenario"] != "serious_repair"]
        lifted = sd[sd["scenario"] == "serious_repair"]
        assert (kept.loc[~kept["remedies"].str.contains("serious_repair"), "override_after"]
                == "serious_dishonest_list").all()  # fmt: skip
        assert lifted["override_after"].ne("serious_dishonest_list").all()
        assert lifted["uscc"].isin(sd.loc[sd["lifted_by"].notna(), "uscc"]).all()
    row = {
        "uscc": "X",
        "scenario": "annual_report",
        "remedies": "annual_report",
        "records": 1,
        "detail": "2025",
        "score_before": 912.0,
        "score_after": 540.0,
        "class_before": "D",
        "class_model_after": "C",
        "class_final_after": "D",
        "override_before": "serious_dishonest_list",
        "override_after": "serious_dishonest_list",
        "override_held": True,
        "lifted_by": "serious_repair",
        "exact": True,
    }
    repair = {**row, "scenario": "serious_repair", "remedies": "serious_repair", "detail": None,
              "score_after": 912.0, "class_model_after": "D", "class_final_after": "D",
              "override_after": None, "override_held": False}  # fmt: skip
    text = whatif_sentences([row, repair], report_month.scheme, "zh")
    assert text[0] == (
        "补报2025年度年报，风险分预计由912降至540（C类），但因列入严重违法失信名单，仍为D类；"
        "申请严重违法失信名单信用修复后，不再因此列为D类。"
    )
    # without the repair computed, nothing is said about what would lift it
    alone = whatif_sentences([row], report_month.scheme, "zh")[0]
    assert alone.endswith("仍为D类。") and "修复" not in alone
    en = whatif_sentences([row], report_month.scheme, "en")[0]
    assert en.startswith("File the annual reports for 2025: the score would fall from 912 to 540")


def test_a_what_if_not_computed_is_never_shown(computed, report_month, tmp_path) -> None:  # type: ignore[no-untyped-def]
    _, frame, out = computed
    ctx = report_month
    row = frame.iloc[0].to_dict()
    assert whatif_sentences([{**row, "exact": False}], ctx.scheme, "zh") == []
    # a file whose scores are not the month's stored ones is ignored
    stale = frame.assign(score_before=frame["score_before"] + 1)
    stale_path = tmp_path / "stale.parquet"
    stale.to_parquet(stale_path)
    assert _whatif(stale_path, ctx.classes) == {}
    loaded = _whatif(out, ctx.classes)
    with_whatif = dataclasses.replace(ctx, whatif=loaded)
    u = str(frame["uscc"].iloc[0])
    other = next(x for x in ctx.select(klass="D") if x not in loaded)
    run = write_reports(with_whatif, [u, other], out_dir=tmp_path / "r")
    pages = {
        p.stem: re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", p.read_text("utf-8")))
        for p in run.paths
    }
    expected = whatif_sentences(loaded[u], ctx.scheme, "zh")
    assert expected and all(s in pages[u] for s in expected)
    assert "风险分预计" in pages[u] and "重新测算" in pages[u]
    assert "风险分预计" not in pages[other] and "重新测算" not in pages[other]


def test_only_features_of_other_firms_records_are_held(report_month, small_interim) -> None:  # type: ignore[no-untyped-def]
    """Exactness: the enterprises' own records, copied under synthetic keys and built alone, give
    every feature of the month's file except the held ones (other firms' records)."""
    ctx = report_month
    fcfg, coverage = _file_settings(ctx.features_path)
    tables = store.open_tables(small_interim[1])
    who = sorted(ctx.classes.index[:400])
    w = Window(ctx.month, fcfg, frozenset(tables), coverage_pairs(coverage))
    con = duckdb.connect()
    define_macros(con)
    own = _own_records(con, tables, who)
    scen = pd.DataFrame(
        {"key": [remedies.synthetic_key(u, 0) for u in who], "uscc": who,
         **{r.key: False for r in remedies.REMEDIES}}
    )  # fmt: skip
    for name, frame in remedies.apply(own, scen, w, remedies.RemedyRules()).items():
        con.register(f"raw_{name}", _arrow(frame, tables[name]))
    with month_batches(con, ctx.month, fcfg, tables, None, coverage) as reader:
        built = reader.read_all().to_pandas()
    built["uscc"] = built["uscc"].str.rsplit(remedies.KEY_SEP, n=1).str[0]
    built = built.set_index("uscc").sort_index()
    orig = pq.read_table(ctx.features_path, filters=[("uscc", "in", who)]).to_pandas()
    orig = orig.set_index("uscc").sort_index()
    held = set(remedies.held_features(CATALOG))
    assert held and not held & {"ar_last_due_missing", "abn_listed", "sd_listed"}
    for c in orig.columns:
        if c in held:
            continue
        a, b = built[c], orig[c]
        same = (a == b) | (a.isna() & b.isna())
        assert same.all(), c


def test_remedies_come_from_actionable_features() -> None:
    from features.definitions import BY_NAME

    for r in remedies.REMEDIES:
        for f in r.features:
            assert BY_NAME[f].actionable, (r.key, f)
    assert remedies.remedies_for(["ar_missing_years", "age_years"]) == ["annual_report"]
    assert remedies.remedies_for(["abn_listed"]) == [
        "annual_report",
        "abnormal_address",
        "abnormal_disclosure",
    ]


def test_each_remedy_changes_only_its_own_records() -> None:
    """The remedies on a hand-made enterprise: what each adds or changes, and nothing else."""
    import datetime as dt

    from features.config import FeaturesConfig
    from tests.conftest import ROOT, load_config

    d = dt.date
    cfg = load_config(ROOT / "configs" / "features.yaml", FeaturesConfig)
    w = Window("2026-10", cfg, frozenset())
    end = d(2026, 10, 31)
    u = "X1"
    t = {
        "enterprises": pd.DataFrame({"uscc": [u], "established_date": [d(2022, 3, 1)]}),
        "annual_reports": pd.DataFrame(
            {"uscc": [u], "report_year": [2022], "submitted_date": [d(2023, 5, 1)],
             "received_date": [d(2023, 5, 2)], "revenue": [10.0]}
        ),
        "abnormal_list": pd.DataFrame(
            {"uscc": [u, u], "reason": ["annual_report", "unreachable"],
             "listed_date": [d(2025, 7, 1)] * 2, "received_date": [d(2025, 7, 2)] * 2,
             "removed_date": [None, None], "removal_reason": [None, None],
             "removal_received_date": [None, None]}
        ),
        "licences": pd.DataFrame(
            {"uscc": [u, u], "licence_no": ["L1", "L2"], "licence_kind": ["food_business", "drug_business"],
             "issued_date": [d(2021, 1, 1), d(2021, 1, 1)], "valid_until": [d(2026, 5, 1), d(2025, 1, 1)],
             "revoked_date": [None, None], "cancelled_date": [None, None],
             "received_date": [d(2021, 1, 2), d(2021, 1, 2)]}
        ),
        "judicial": pd.DataFrame(
            {"case_no": ["J1", "J2"], "uscc": [u, u], "kind": ["enforcement", "equity_freeze"],
             "filed_date": [d(2026, 1, 1)] * 2, "amount": [5.0, None], "closed_date": [None, None],
             "received_date": [d(2026, 1, 2)] * 2}
        ),
        "penalties": pd.DataFrame(
            {"uscc": [u, u], "decision_no": ["P1", "P2"], "penalty_kind": ["fine", "fine"],
             "cause": ["other", "other"], "decision_date": [d(2024, 12, 1), d(2026, 6, 1)],
             "amount": [1.0, 1.0], "minor": [False, False], "repaired_date": [None, None],
             "received_date": [d(2024, 12, 2), d(2026, 6, 2)]}
        ),
        "serious_dishonest_list": pd.DataFrame(
            {"uscc": [u], "reason": ["major_violation"], "listed_date": [d(2026, 3, 1)],
             "received_date": [d(2026, 3, 2)], "removed_date": [None], "removal_reason": [None],
             "removal_received_date": [None]}
        ),
    }  # fmt: skip
    rules = remedies.RemedyRules()
    tgt = remedies.targets(t, w, rules)
    assert tgt.detail["annual_report"][u] == "2023,2024,2025"
    assert tgt.records["annual_report"][u] == 3 + 1  # three reports and one listing
    assert tgt.records["abnormal_address"][u] == 1 and u not in tgt.records["abnormal_disclosure"]
    assert tgt.records["licence"][u] == 1  # the food licence lapsed in 12 months; not the old one
    assert tgt.records["court"][u] == 1  # the enforcement case, not the equity freeze
    assert tgt.records["penalty_repair"][u] == 1  # only the penalty decided 12+ months ago
    assert u not in tgt.records["serious_repair"]  # listed under 12 months: not yet allowed
    keys = [r.key for r in remedies.REMEDIES]
    scen = pd.DataFrame(
        [{"key": f"{u}#{i}", "uscc": u, **{k: k == on for k in keys}} for i, on in
         enumerate(["", "annual_report", "licence", "court", "penalty_repair"])]
    )  # fmt: skip
    out = remedies.apply(t, scen, w, rules)
    ar = out["annual_reports"]
    assert sorted(ar.loc[ar["uscc"] == f"{u}#1", "report_year"]) == [2022, 2023, 2024, 2025]
    assert (ar.loc[ar["uscc"] != f"{u}#1", "report_year"] == 2022).all()
    new = ar[(ar["uscc"] == f"{u}#1") & (ar["report_year"] > 2022)]
    assert (new["submitted_date"] == end).all() and (new["revenue"] == 10.0).all()
    ab = out["abnormal_list"].set_index(["uscc", "reason"])
    assert ab.at[(f"{u}#1", "annual_report"), "removed_date"] == end
    assert ab.at[(f"{u}#1", "annual_report"), "removal_reason"] == "report_filed"
    assert pd.isna(ab.at[(f"{u}#1", "unreachable"), "removed_date"])
    assert pd.isna(ab.at[(f"{u}#0", "annual_report"), "removed_date"])
    lic = out["licences"]
    renewed = lic[lic["licence_no"] == "L1-R"]
    assert list(renewed["uscc"]) == [f"{u}#2"] and renewed["valid_until"].iloc[0] == d(2031, 10, 31)
    jud = out["judicial"].set_index(["uscc", "case_no"])
    assert jud.at[(f"{u}#3", "J1"), "closed_date"] == end
    assert pd.isna(jud.at[(f"{u}#3", "J2"), "closed_date"])
    pen = out["penalties"].set_index(["uscc", "decision_no"])
    assert pen.at[(f"{u}#4", "P1"), "repaired_date"] == end
    assert pd.isna(pen.at[(f"{u}#4", "P2"), "repaired_date"])
    assert pd.isna(pen.at[(f"{u}#0", "P1"), "repaired_date"])


def test_classify_computes_them_unless_told_not_to(
    small_model, small_history, small_interim, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    from models.classes import ClassScheme
    from pipelines.classify import run_classify
    from pipelines.paths import Outputs
    from tests.conftest import load_config

    cfg, _ = small_model
    scheme = load_config(cfg.class_scheme, ClassScheme)
    run = run_classify(cfg, scheme, small_history, "2026-10", tmp_path, alias="challenger",
                       interim=small_interim[1], whatif=cfg.whatif)  # fmt: skip
    path = Outputs(tmp_path).whatif("2026-10")
    assert run.whatif is not None and path.is_file() and run.whatif.scenarios > 0
    assert run.whatif.inexact == 0
    # classes without what-ifs: none of an earlier run is left beside them
    again = run_classify(cfg, scheme, small_history, "2026-10", tmp_path, alias="challenger")
    assert again.whatif is None and not path.exists()
