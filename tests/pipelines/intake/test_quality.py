"""Collection quality per table and department (issue 20, item 8): working days from event to
receipt with China's official holidays and make-up working days, the share within 20 working
days, completeness and error rates per department, in reconciliation.json, the CLI and the
verification section."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from rich.console import Console

from contract.tables import TABLES
from pipelines.config import load_config
from pipelines.ingest import run_ingest
from pipelines.intake import quality
from pipelines.intake.config import IngestConfig
from pipelines.verify.collection import collection_section
from tests.conftest import ROOT

BASELINE = Path(__file__).resolve().parent / "ingest_cases" / "baseline"
pytestmark = pytest.mark.xdist_group("intake_quality")
CAL = quality.load_calendar()


def _brute(event: dt.date, received: dt.date) -> int:
    """Working days in (event, received], one day at a time."""
    hol = {d.astype(dt.date) for d in CAL.holidays}
    work = {d.astype(dt.date) for d in CAL.workdays}
    lo, hi = sorted((event, received))
    n, d = 0, lo + dt.timedelta(1)
    while d <= hi:
        n += d in work or (d.weekday() < 5 and d not in hol)
        d += dt.timedelta(1)
    return n if received >= event else -n


def _days(*dates: str) -> np.ndarray:
    return np.array(dates, dtype="datetime64[D]")


def test_working_days_follow_the_state_councils_notices() -> None:
    # same day 0; Friday -> Monday 1; the 2026 National Day: 1-7 Oct off, 10 Oct (Sat) worked
    event = _days("2026-03-06", "2026-03-06", "2026-09-30", "2026-10-09", "2025-01-24")
    received = _days("2026-03-06", "2026-03-09", "2026-10-08", "2026-10-12", "2025-02-10")
    got = quality.working_days(event, received, CAL).tolist()
    # 2025 Spring Festival: 28 Jan - 4 Feb off, 26 Jan (Sun) and 8 Feb (Sat) worked
    assert got == [0, 1, 1, 2, 7]
    assert quality.working_days(_days("2026-10-12"), _days("2026-10-09"), CAL).tolist() == [-2]
    # a whole year: 2024 had 251 working days, 2025 (13 statutory days) 248
    years = quality.working_days(
        _days("2023-12-31", "2024-12-31"), _days("2024-12-31", "2025-12-31"), CAL
    )
    assert years.tolist() == [251, 248]


def test_working_days_agree_with_counting_day_by_day() -> None:
    rng = np.random.default_rng(20)
    start = np.datetime64("2018-12-01") + rng.integers(0, 2950, 400).astype("timedelta64[D]")
    end = start + rng.integers(-5, 90, 400).astype("timedelta64[D]")
    got = quality.working_days(start, end, CAL)
    want = [_brute(a.astype(dt.date), b.astype(dt.date)) for a, b in zip(start, end, strict=True)]
    assert got.tolist() == want
    assert quality.outside_calendar(start, end, CAL) == int(
        ((start < np.datetime64("2019-01-01")) | (end > np.datetime64("2026-12-31"))).sum()
    )


@pytest.mark.parametrize(
    ("row", "rule"),
    [
        ("2026-13-01,holiday,x,y", "date must be YYYY-MM-DD"),
        ("2026-10-01,closed,x,y", "kind must be holiday or workday"),
        ("2026-10-12,workday,x,y", "must be a weekend"),  # a Monday
    ],
)
def test_a_bad_calendar_row_is_named(tmp_path: Path, row: str, rule: str) -> None:
    path = tmp_path / "cal.csv"
    path.write_text(f"date,kind,holiday_zh,notice\n2026-10-02,holiday,x,y\n{row}\n", "utf-8")
    with pytest.raises(ValueError, match=rf"cal\.csv line 3: .*{rule}"):
        quality.load_calendar(path)


def test_the_shipped_calendar_names_its_source_and_covers_2019_to_2026() -> None:
    assert (CAL.first_year, CAL.last_year) == (2019, 2026)
    assert "国务院办公厅" in CAL.source
    text = (ROOT / "contract" / "data" / quality.CALENDAR_FILE).read_text("utf-8")
    assert all("国务院办公厅" in line for line in text.splitlines()[1:])


def test_delay_figures() -> None:
    f = quality.delay_figures(np.array([0, 1, 2, 3, 20, 21, 30, 40, 50, 60]), 20)
    assert (f["records"], f["within_limit"], f["within_limit_share"]) == (10, 5, 0.5)
    assert f["median_days"] == 20.5 and f["p90_days"] == pytest.approx(51.0)
    assert quality.delay_figures(np.zeros(0, dtype=np.int64))["within_limit_share"] is None


def test_collection_config_rejects_unknown_tables_and_columns() -> None:
    with pytest.raises(ValueError, match="unknown table 'penaltys'"):
        quality_cfg = {"departments": {"penaltys": "x"}}
        IngestConfig.model_validate({**_cfg().model_dump(), "collection": quality_cfg})
    with pytest.raises(ValueError, match="licences has no column 'kind'"):
        by = {"licences": {"column": "kind", "values": {}}}
        IngestConfig.model_validate({**_cfg().model_dump(), "collection": {"by_column": by}})


def _cfg(**update: object) -> IngestConfig:
    return load_config(ROOT / "configs" / "ingest.yaml", IngestConfig).model_copy(update=update)


HEADER = (
    "uscc,decision_no,penalty_kind,cause,decision_date,amount,minor,repaired_date,received_date"
)
A, B = "9144010615937352X4", "91440106159856230D"


@pytest.fixture(scope="module")
def ingested(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """A delivery of penalties: a district's export through a mapping that names its
    department, and the file named after the table."""
    tmp = tmp_path_factory.mktemp("quality")
    sources = tmp / "sources"
    sources.mkdir()
    (sources / "district.yaml").write_text(
        "table: penalties\nfiles: ['district_*.csv']\ndepartment: 天河区市场监管局\n"
        "filters: [{column: 区局, equals: 天河}]\n",
        encoding="utf-8",
    )
    src = tmp / "delivery"
    shutil.copytree(BASELINE, src)
    rows = [
        f"{A},T1,fine,food_safety,2026-09-30,1.5,false,,2026-10-08,天河",  # 1 working day
        f"{A},T2,fine,food_safety,2026-09-01,1.5,false,,2026-09-01,天河",  # 0
        f"{B},T3,fine,food_safety,2026-08-03,1.5,false,,2026-09-30,天河",  # beyond 20
        f"{B},T4,fine,food_safety,2026-08-03,99999,false,,2026-09-30,天河",  # implausible
        f"{B},T5,fine,,2026-08-03,1.5,false,,2026-09-30,天河",  # required cause missing
        f"{B},T6,fine,food_safety,2026-08-03,1.5,false,,2026-09-30,越秀",  # filtered out
    ]
    (src / "district_2026.csv").write_text(HEADER + ",区局\n" + "\n".join(rows) + "\n", "utf-8")
    (src / "penalties.csv").write_text(
        f"{HEADER}\n{A},P1,warning,food_safety,2026-10-09,,false,,2026-10-12\n", "utf-8"
    )
    out = tmp / "interim"
    report = run_ingest(_cfg(sources=str(sources)), src, out, as_of="2026-10")
    recon = json.loads((out / "reconciliation.json").read_text("utf-8"))
    assert recon["quality"] == report.to_dict()["quality"]
    return out, recon


def test_quality_per_department_from_the_ingests_own_reconciliation(
    ingested: tuple[Path, dict[str, Any]],
) -> None:
    out, recon = ingested
    q = recon["quality"]
    rows = {(r["table"], r["department"]): r for r in q["tables"]}
    district = rows[("penalties", "天河区市场监管局")]
    assert district["rows_read"] == 6 and district["rows_counted"] == 5  # the filtered row
    assert district["quarantined_by_rule"] == {
        "filtered": 1,
        "implausible": 1,
        "required_missing": 1,
    }
    assert district["quarantined"] == 2 and district["error_rate"] == pytest.approx(2 / 5)
    required = [c for c in TABLES["penalties"].columns if not c.nullable]
    assert district["required_filled_share"] == pytest.approx(1 - 1 / (5 * len(required)))
    # the accepted rows' delays: 1, 0 and 41 working days
    assert district["records"] == 3 and district["within_limit"] == 2
    assert district["median_days"] == 1.0
    assert district["outside_calendar"] == 0
    own = rows[("penalties", "市场监管·综合执法")]  # the file named after its table
    assert (own["records"], own["median_days"], own["error_rate"]) == (1, 2.0, 0.0)
    assert own["optional_filled_share"] == 0.0  # amount and repaired_date left blank
    # counts reconcile with the table's reconciliation
    for name, t in recon["tables"].items():
        mine = [r for r in q["tables"] if r["table"] == name]
        if t["status"] == "ingested":
            assert sum(r["rows_read"] for r in mine) == t["rows_read"], name
        else:
            assert not mine, name
    deps = {d["department"]: d for d in q["departments"]}
    assert deps["天河区市场监管局"]["tables"] == ["penalties"]
    assert q["working_day_limit"] == 20 and q["calendar"]["years"] == [2019, 2026]
    # aggregates only: no enterprise leaves the module
    assert A not in json.dumps(q) and B not in json.dumps(q)

    section = collection_section(out)
    assert section["computed"] and section["delivery"] == recon["run_name"]
    assert {r["department"] for r in section["rows"]} >= {"天河区市场监管局"}
    assert A not in json.dumps(section)
    slow = min(
        (d for d in section["departments"] if d["records"]),
        key=lambda d: d["within_limit_share"],
    )
    assert section["slowest_department"] == slow["department"]


def test_the_cli_prints_a_table_per_department(
    ingested: tuple[Path, dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    from pipelines.cli import data as cli_data

    _, recon = ingested
    console = Console(record=True, width=160)
    monkeypatch.setattr(cli_data, "console", console)
    cli_data._print_quality(recon["quality"])
    text = console.export_text()
    assert "天河区市场监管局" in text and "66.7%" in text and "<=20wd" in text
    assert "40.0%" in text  # the district's error rate


def test_the_verification_section_says_why_when_not_computed(tmp_path: Path) -> None:
    assert not collection_section(tmp_path)["computed"]
    (tmp_path / "reconciliation.json").write_text('{"tables": {}}', "utf-8")
    assert "no quality section" in collection_section(tmp_path)["why"]


def test_rows_group_departments_with_their_totals_last() -> None:
    def row(t: str, d: str) -> dict[str, object]:
        return {"table": t, "department": d}

    q = {
        "tables": [row("b", "X"), row("a", "Y"), row("a", "X")],
        "departments": [{"department": "X", "records": 9}, {"department": "Y", "records": 1}],
    }
    got = [(r["department"], r["table"]) for r in quality.table_rows(q)]
    assert got == [("X", "a"), ("X", "b"), ("X", "（合计）"), ("Y", "a")]


def test_department_sql_prefers_the_mapping_then_the_code_then_the_table() -> None:
    import duckdb

    sql = quality.department_sql(
        TABLES["licences"],
        {"licences": "审批"},
        {"licences": ("licence_kind", {"drug_business": "药监"})},
        {"src1": "区局"},
    )
    con = duckdb.connect()
    got = con.execute(
        f"SELECT {sql} FROM (VALUES ('src1', 'drug_business'), (NULL, 'drug_business'), "
        "(NULL, 'food_business'), ('src2', NULL)) t(_source_name, licence_kind)"
    ).fetchall()
    assert [g[0] for g in got] == ["区局", "药监", "审批", "审批"]
    assert quality.department_sql(TABLES["judicial"], {}, {}, {}) == f"'{quality.UNASSIGNED}'"
