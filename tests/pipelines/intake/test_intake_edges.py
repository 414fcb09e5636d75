"""Edges of intake by configuration (issue 17): personal ID numbers never written in clear,
wherever they hide; the accept floor judges only rows the bureau wanted; a table declared
unavailable keeps its earlier deliveries aside; a division code no list knows keeps its firm;
a mapping's default supplies a required column; a declared design ties only results
inspected after its draw."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pandas as pd
import pytest

from contract.tables import TABLES
from pipelines import store
from pipelines.config import load_config
from pipelines.ingest import IngestError, run_ingest
from pipelines.intake.config import IngestConfig
from tests.conftest import ROOT
from tests.interim import has_quarantine, has_table, read_quarantine, read_table

BASELINE = Path(__file__).resolve().parent / "ingest_cases" / "baseline"
PERSONAL_ID = "44010219800101123X"  # GB 11643 check character valid
pytestmark = pytest.mark.xdist_group("intake_edges")


def _cfg(**update: object) -> IngestConfig:
    cfg = load_config(ROOT / "configs" / "ingest.yaml", IngestConfig)
    return cfg.model_copy(update=update)


def _delivery(tmp: Path, files: dict[str, str]) -> Path:
    src = tmp / "delivery"
    shutil.copytree(BASELINE, src)
    for name, text in files.items():
        for old in src.glob(f"{Path(name).stem}.*"):
            old.unlink()
        (src / name).write_text(text, encoding="utf-8")
    return src


def _visible(folder: Path) -> tuple[object, dict[str, list[str]]]:
    """What readers see: the current state and every table's and quarantine's records."""
    seen = {}
    for name, snap in store.open_tables(folder).items():
        seen[name] = sorted(snap.pandas().map(str).apply("|".join, axis=1))
    for name in TABLES:
        if has_quarantine(folder, name):
            seen[f"quarantine/{name}"] = sorted(
                read_quarantine(folder, name).map(str).apply("|".join, axis=1)
            )
    return store.current_state(folder), seen


def _all_bytes(folder: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file())


def test_personal_ids_in_person_ids_and_spill_cells_are_never_written(tmp_path: Path) -> None:
    spaced = "440102 19800101 123X"
    src = _delivery(
        tmp_path,
        {
            "persons.csv": "person_id,uscc,role,share_pct,from_date,to_date,received_date\n"
            f"{spaced},9144010615937352X4,legal_representative,,2020-01-01,,2020-01-05\n"
            # a row shifted by one cell: the ID spills beyond the header
            f"P2,9144010615937352X4,supervisor,,2020-01-01,,2020-01-05,{PERSONAL_ID}\n",
        },
    )
    out = tmp_path / "interim"
    run_ingest(_cfg(accept_floor=0.0), src, out, as_of="2026-10")
    persons = read_table(out, "persons")
    assert persons["person_id"].iloc[0].startswith("PID-")
    data = _all_bytes(out)
    for clear in (PERSONAL_ID, spaced, PERSONAL_ID.lower()):
        assert clear.encode() not in data


def test_the_accept_floor_ignores_rows_the_bureau_filtered_out(tmp_path: Path) -> None:
    sources = tmp_path / "sources"
    sources.mkdir()
    (sources / "district.yaml").write_text(
        "table: penalties\nfiles: ['district_*.csv']\nfilters: [{column: 区局, equals: 天河}]\n",
        encoding="utf-8",
    )
    rows = [
        f"9144010615937352X4,P{i},fine,food_safety,2024-03-05,1.5,false,,2024-03-12,{d}"
        for i, d in enumerate(["天河"] + ["越秀"] * 9)
    ]
    src = _delivery(
        tmp_path,
        {
            "district_2024.csv": "uscc,decision_no,penalty_kind,cause,decision_date,amount,minor,"
            "repaired_date,received_date,区局\n" + "\n".join(rows) + "\n"
        },
    )
    (src / "penalties.csv").unlink()  # the district export replaces the header-only file
    report = run_ingest(_cfg(sources=str(sources)), src, tmp_path / "interim", as_of="2026-10")
    pen = {t.table: t for t in report.tables}["penalties"]
    assert (pen.rows_read, pen.accepted, pen.by_rule) == (10, 1, {"filtered": 9})


def test_a_run_below_the_floor_fails_and_leaves_the_previous_output(tmp_path: Path) -> None:
    bad = "".join(
        f"9144010615937352X5,P{i},fine,food_safety,2024-03-05,1.5,false,,2024-03-12\n"
        for i in range(5)
    )
    header = "uscc,decision_no,penalty_kind,cause,decision_date,amount,minor,repaired_date,received_date\n"
    out = tmp_path / "interim"
    run_ingest(_cfg(), _delivery(tmp_path / "first", {}), out, as_of="2026-10")
    before = _visible(out)
    src = _delivery(tmp_path / "second", {"penalties.csv": header + bad})
    with pytest.raises(
        IngestError, match=r"table penalties: 0 of 5 .*uscc_checksum 5.*\[rule: accept floor\]"
    ):
        run_ingest(_cfg(), src, out, as_of="2026-10")
    # the current state is as it was: same state record, same records in every table
    assert _visible(out) == before
    assert (tmp_path / "interim.rejected" / "quarantine" / "penalties.parquet").exists()
    assert (tmp_path / "interim.rejected" / "reconciliation.json").exists()
    # a later good run supersedes the refused one's evidence
    run_ingest(_cfg(), _delivery(tmp_path / "third", {}), out, as_of="2026-10")
    assert not (tmp_path / "interim.rejected").exists()


def test_a_table_declared_unavailable_keeps_earlier_deliveries_aside(tmp_path: Path) -> None:
    header = "uscc,decision_no,penalty_kind,cause,decision_date,amount,minor,repaired_date,received_date\n"
    row = "9144010615937352X4,P1,fine,food_safety,2024-03-05,1.5,false,,2024-03-12\n"
    out = tmp_path / "interim"
    run_ingest(
        _cfg(), _delivery(tmp_path / "first", {"penalties.csv": header + row}), out, as_of="2026-10"
    )
    report = run_ingest(
        _cfg(unavailable={"penalties": "处罚系统停用"}),
        _delivery(tmp_path / "second", {}),
        out,
        as_of="2026-10",
    )
    assert {t.table: t.status for t in report.tables}["penalties"] == "unavailable"
    assert not has_table(out, "penalties")  # never read by features
    state = store.current_state(out)
    assert state is not None and "penalties" in state.withheld
    kept = store.delta_snapshot(
        store.table_dir(out, "penalties"), "penalties", state.withheld["penalties"]
    )
    assert kept.num_rows() == 1  # the earlier delivery, kept aside


def test_a_division_code_no_list_knows_keeps_its_firm(tmp_path: Path) -> None:
    text = (BASELINE / "enterprises.csv").read_text(encoding="utf-8").splitlines()
    # 440102 东山区 was merged into 越秀区 in 2005: older than the retired-code map
    text[1] = text[1].replace(",440106,", ",440102,", 1)
    report = run_ingest(
        _cfg(),
        _delivery(tmp_path, {"enterprises.csv": "\n".join(text) + "\n"}),
        tmp_path / "i",
        as_of="2026-10",
    )
    ent = {t.table: t for t in report.tables}["enterprises"]
    assert ent.quarantined == 0 and ent.notes == {"division_unknown": 1}


def test_a_default_supplies_a_required_column_and_a_design_ties_only_after_its_draw(
    tmp_path: Path,
) -> None:
    sources = tmp_path / "sources"
    sources.mkdir()
    (sources / "dr.yaml").write_text(
        """
table: inspections
files: ['抽查结果*.csv']
columns:
  inspection_id: {from: 检查记录编号}
  uscc: {from: 统一社会信用代码}
  draw_mode: {value: double_random}
  items: {value: disclosure}
  inspection_date: {from: 检查完成日期}
  result: {from: 检查结果, map: {未发现问题: no_problem, 发现问题已责令改正: corrected}}
  received_date: {default: "{delivery_date}"}
design:
  plan_id: SJ-2024-1
  draw_date: 2024-03-01
  all_rows: true
  strata: {"*": {rate: 0.05}}
""",
        encoding="utf-8",
    )
    src = _delivery(
        tmp_path,
        {
            "抽查结果_2024.csv": "检查记录编号,统一社会信用代码,检查完成日期,检查结果\n"
            "J1,9144010615937352X4,2024-04-10,未发现问题\n"
            "J2,91440106159856230D,2024-02-10,发现问题已责令改正\n"
        },
    )
    report = run_ingest(
        _cfg(sources=str(sources)),
        src,
        tmp_path / "i",
        as_of="2026-10",
        delivery_date=dt.date(2024, 5, 1),
    )
    insp = {t.table: t for t in report.tables}["inspections"]
    assert (insp.rows_read, insp.accepted) == (2, 2), insp.by_rule
    got = read_table(tmp_path / "i", "inspections").set_index("inspection_id")
    assert (
        got.loc["J1", "inclusion_probability"] == 0.05 and got.loc["J1", "plan_id"] == "SJ-2024-1"
    )
    assert pd.isna(got.loc["J2", "inclusion_probability"])  # inspected before the draw
    assert bool(got.loc["J2", "problem_found"]) and not bool(got.loc["J1", "problem_found"])
    assert (got["received_date"].astype(str) == "2024-05-01").all()
    assert insp.notes == {"design_declared": 1, "design_unknown": 1}


def test_features_refuse_a_month_with_no_enterprises(tmp_path: Path) -> None:
    from features.config import FeaturesConfig
    from features.engine import FeatureError
    from pipelines.features import run_features

    out = tmp_path / "interim"
    run_ingest(_cfg(), _delivery(tmp_path, {}), out, as_of="2026-10")
    cfg = load_config(ROOT / "configs" / "features.yaml", FeaturesConfig)
    # every enterprise of the registry was established after 2000
    with pytest.raises(
        FeatureError, match=r"month 2000-01 has no enterprises.*\[rule: empty population\]"
    ):
        run_features(cfg, out, tmp_path / "features", ["2000-01"])
    assert not (tmp_path / "features" / "2000-01.parquet").exists()
