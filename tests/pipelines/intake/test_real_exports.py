"""Real departmental exports ingested with configuration only (issue 17).

Each case of `simulator.exports.CASES` writes a delivery shaped like a real export (title
rows, the department's own headers, code words, sentences, workbooks named .csv, legacy
.xls, identifiers that are not USCCs, near-miss names, results without their design ...).
``real_exports/<case>/`` holds what a bureau would write for it - the source mappings
(``sources/*.yaml``) - and the expected outcome (``case.yaml``): overrides of
``configs/ingest.yaml``, the month and delivery date, and per table the rows read, accepted
and quarantined by rule, how rows were resolved to an enterprise, notes, a few values of
accepted rows; or the error the run must stop with.

The delivery is generated into a temporary folder and ingested once per case (module cache);
each test checks one aspect, so a failure says which promise of the engine broke.
"""

from __future__ import annotations

import datetime as dt
import math
import numbers
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq
import pytest
import yaml
from stdnum.cn import ric

from contract.tables import TABLES
from pipelines.config import load_config
from pipelines.ingest import IngestError, IngestReport, run_ingest
from pipelines.intake.config import IngestConfig
from pipelines.intake.readers import StructuralError
from pipelines.intake.sources import assign, load_sources
from simulator.exports import CASES, OPERATOR_ID, TAXPAYER_OPERATOR_ID, write_case
from tests.conftest import ROOT
from tests.interim import has_quarantine, has_table, read_quarantine, read_table

HERE = Path(__file__).resolve().parent / "real_exports"
RESOLVED_BY = {"uscc", "reg_no", "org_code", "taxpayer_no", "name", "name_linkage", "opaque"}
LINEAGE = ("_source_file", "_source_row", "_resolved_by")


def _expected(case: str) -> dict[str, Any]:
    data = yaml.safe_load((HERE / case / "case.yaml").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


@dataclass
class Run:
    expected: dict[str, Any]
    delivery: Path
    out: Path
    report: IngestReport | None
    error: Exception | None


_RUNS: dict[str, Run] = {}


@pytest.fixture(scope="module")
def base_config() -> IngestConfig:
    return load_config(ROOT / "configs" / "ingest.yaml", IngestConfig)


def _config(base: IngestConfig, case: str, expected: dict[str, Any]) -> IngestConfig:
    """configs/ingest.yaml with the case's overrides: keys replace the file's, except
    ``bounds``, which are added to its bounds."""
    data = base.model_dump()
    overrides = dict(expected.get("config") or {})
    data["bounds"] = [*data["bounds"], *overrides.pop("bounds", [])]
    data.update(overrides)
    data["sources"] = str(HERE / case / "sources")
    return IngestConfig.model_validate(data)


@pytest.fixture
def run(case: str, tmp_path_factory: pytest.TempPathFactory, base_config: IngestConfig) -> Run:
    """The case's delivery, ingested once per test session (per worker)."""
    if case not in _RUNS:
        expected = _expected(case)
        root = tmp_path_factory.mktemp(case)
        delivery, out = root / "delivery", root / "interim"
        write_case(case, delivery, seed=0)
        cfg = _config(base_config, case, expected)
        report: IngestReport | None = None
        error: Exception | None = None
        try:
            report = run_ingest(
                cfg,
                delivery,
                out,
                as_of=str(expected["as_of"]),
                delivery_date=expected["delivery_date"],
            )
        except Exception as exc:  # judged by the tests: expected for some cases
            error = exc
        _RUNS[case] = Run(expected, delivery, out, report, error)
    return _RUNS[case]


def _ingested(run: Run) -> IngestReport:
    """The report of a case that must ingest; fails with the engine's error otherwise."""
    if "error" in run.expected:
        pytest.skip("this case's run must stop (see test_counts)")
    if run.error is not None:
        pytest.fail(f"run_ingest raised {type(run.error).__name__}: {run.error}")
    assert run.report is not None
    return run.report


def _accepted(run: Run, table: str) -> pd.DataFrame:
    assert has_table(run.out, table), f"{table}: no accepted table written"
    return read_table(run.out, table)


def _reconciliation(run: Run) -> dict[str, Any]:
    data = yaml.safe_load((run.out / "reconciliation.json").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


CASE_PARAMS = pytest.mark.parametrize("case", CASES)
#: The tests that ingest: a case's tests share one run, so they stay on one worker
#: (``make test`` runs ``--dist loadgroup``).
CASE_RUNS = pytest.mark.parametrize(
    "case", [pytest.param(c, marks=pytest.mark.xdist_group(f"real_exports_{c}")) for c in CASES]
)


# ----------------------------------------------------------------------- the fixtures
def test_every_case_has_its_folder() -> None:
    folders = sorted(p.name for p in HERE.iterdir() if p.is_dir())
    assert folders == sorted(CASES)
    for case in CASES:
        assert (HERE / case / "case.yaml").is_file()
        assert list((HERE / case / "sources").glob("*.yaml")), f"{case}: no source mapping"


def test_example_mappings_are_valid() -> None:
    """The commented examples of configs/sources/examples/ are valid source mappings."""
    mappings = load_sources(ROOT / "configs" / "sources" / "examples")
    assert {m.table for m in mappings} >= {"penalties", "inspections", "annual_reports"}
    assert any(m.design is not None for m in mappings)
    assert any(m.passthrough for m in mappings)


@CASE_PARAMS
def test_mappings_claim_the_delivery(case: str, tmp_path: Path) -> None:
    """The mappings load, each claims at least one file, and every file of the delivery is
    either named after its table or claimed by exactly one mapping."""
    write_case(case, tmp_path)
    mappings = load_sources(HERE / case / "sources")
    files = sorted(tmp_path.iterdir())
    claimed = assign(files, mappings)
    for m in mappings:
        assert m in claimed.values(), f"source {m.source} claims no file of the delivery"
    for f in files:
        assert f in claimed or f.stem in TABLES, f"{f.name}: neither a table's file nor claimed"


@CASE_PARAMS
def test_generator_is_deterministic(case: str, tmp_path: Path) -> None:
    """Same seed, same bytes (CSV and workbooks alike); another seed, another registry."""
    write_case(case, tmp_path / "a", seed=0)
    write_case(case, tmp_path / "b", seed=0)
    write_case(case, tmp_path / "c", seed=1)
    names = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert names == sorted(p.name for p in (tmp_path / "b").iterdir())
    assert names == sorted(p.name for p in (tmp_path / "c").iterdir())
    assert any(n.endswith(".csv") for n in names)
    for n in names:
        assert (tmp_path / "a" / n).read_bytes() == (tmp_path / "b" / n).read_bytes(), n
    assert any(
        (tmp_path / "a" / n).read_bytes() != (tmp_path / "c" / n).read_bytes() for n in names
    )


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_generator_runs_for_other_seeds(seed: int, tmp_path: Path) -> None:
    for case in CASES:
        write_case(case, tmp_path / case, seed=seed)


def test_unknown_case_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown export case"):
        write_case("no_such_case", tmp_path)


def test_personal_ids_are_real_ids() -> None:
    """The clear IDs the privacy check looks for are valid ID numbers (what the engine hashes)."""
    ids = _expected("non_uscc_identifiers")["never_in_clear"]
    assert ids == [OPERATOR_ID, TAXPAYER_OPERATOR_ID]
    assert all(ric.is_valid(x) for x in ids)


# ------------------------------------------------------------------------- the runs
@CASE_RUNS
def test_counts(case: str, run: Run) -> None:
    """Rows read = accepted + quarantined for every table; the expected counts per table
    and rule; tables declared unavailable have no Parquet; or the expected error."""
    want = run.expected
    if "error" in want:
        assert isinstance(run.error, (IngestError, StructuralError)), (
            f"expected the run to stop with {want['error']!r}, got "
            f"{type(run.error).__name__ if run.error else 'a finished run'}: {run.error}"
        )
        message = str(run.error)
        for part in [want["error"], *want.get("error_also", [])]:
            assert part in message, f"{part!r} not in the error: {message}"
        assert not run.out.exists(), "nothing is written when the run stops"
        return
    report = _ingested(run)
    assert report.unaccounted == 0
    recon = _reconciliation(run)["tables"]
    by_table = {t.table: t for t in report.tables}
    for t in report.tables:
        assert t.rows_read == t.accepted + t.quarantined, t.table
        assert recon[t.table]["rows_read"] == t.rows_read, t.table
    availability = yaml.safe_load((run.out / "availability.json").read_text(encoding="utf-8"))
    for table, exp in want["tables"].items():
        got = by_table[table]
        assert got.status == exp.get("status", "ingested"), table
        if got.status == "unavailable":
            assert not has_table(run.out, table), f"{table}: unavailable, yet written"
            assert table in availability["unavailable"], table
            continue
        if "read" in exp:
            assert (got.rows_read, got.accepted) == (exp["read"], exp["accepted"]), (
                table,
                got.by_rule,
            )
            assert got.by_rule == exp["quarantined"], table
        for key, value in (exp.get("source") or {}).items():
            assert got.source.get(key) == value, (table, key, got.source)


@CASE_RUNS
def test_lineage_and_reasons(case: str, run: Run) -> None:
    """Every accepted row says where it came from and how its enterprise was found; every
    quarantined row says which rule and why, in Chinese and English."""
    report = _ingested(run)
    delivered = {p.name for p in run.delivery.iterdir()}
    for t in report.tables:
        if t.status != "ingested":
            continue
        if t.accepted:
            frame = _accepted(run, t.table)
            missing = [c for c in LINEAGE if c not in frame.columns]
            assert not missing, f"{t.table}: no lineage columns {missing}"
            assert frame["_source_file"].notna().all() and frame["_source_row"].notna().all()
            assert set(frame["_source_file"]) <= delivered, t.table
            bad = set(frame["_resolved_by"].dropna()) - RESOLVED_BY
            assert frame["_resolved_by"].notna().all() and not bad, (t.table, bad)
        if t.quarantined:
            q = read_quarantine(run.out, t.table)
            assert len(q) == t.quarantined, t.table
            assert q["rule"].notna().all(), t.table
            assert q["reason_zh"].str.len().gt(0).all() and q["reason_en"].str.len().gt(0).all()
            assert q["source_row"].notna().all(), t.table
        reasons = (run.expected["tables"].get(t.table) or {}).get("reasons") or {}
        for rule, text in reasons.items():
            q = read_quarantine(run.out, t.table)
            rows = q[q["rule"] == rule]
            assert len(rows), (t.table, rule)
            said = rows["reason_zh"] + " | " + rows["reason_en"]
            assert said.str.contains(text, regex=False).all(), (t.table, rule, said.tolist())


@CASE_RUNS
def test_resolution_and_notes(case: str, run: Run) -> None:
    """How rows were resolved (accepted rows by ``_resolved_by``; ``review``: quarantined
    under name_review; ``unresolved``: name_unmatched), as reconciliation.json reports it
    under ``resolution``; and how many accepted rows carry each note."""
    _ingested(run)
    recon = _reconciliation(run)["tables"]
    for table, exp in run.expected["tables"].items():
        if "resolution" in exp:
            frame = _accepted(run, table)
            got = Counter(frame["_resolved_by"].dropna())
            rules = (
                Counter(read_quarantine(run.out, table)["rule"])
                if has_quarantine(run.out, table)
                else Counter()
            )
            got["review"] = rules["name_review"]
            got["unresolved"] = rules["name_unmatched"]
            want = {k: v for k, v in exp["resolution"].items() if v}
            assert {k: v for k, v in got.items() if v} == want, table
            reported = recon[table].get("resolution")
            assert reported is not None, f"{table}: reconciliation.json has no resolution"
            assert {k: reported.get(k, 0) for k in want} == want, (table, reported)
        for note, n in (exp.get("notes") or {}).items():
            frame = _accepted(run, table)
            assert "_notes" in frame.columns, f"{table}: no _notes column"
            # a note may name its column: personal_id_hashed:uscc counts as personal_id_hashed
            notes = frame["_notes"].fillna("").str.split(";")
            has = notes.map(lambda xs, note=note: any(x.split(":")[0] == note for x in xs))
            assert int(has.sum()) == n, (table, note, frame["_notes"].tolist())
    for table, n in (run.expected.get("review_files") or {}).items():
        path = run.out / "review" / f"{table}.csv"
        assert path.exists(), f"no review file for {table}"
        assert len(pd.read_csv(path, dtype=str)) == n, table


def _same(got: object, want: object) -> bool:
    if want is None:
        return got is None or bool(pd.isna(got))
    if got is None or (not isinstance(got, str) and bool(pd.isna(got))):
        return False
    if isinstance(want, bool):
        return bool(got) == want
    if isinstance(want, int | float):
        return isinstance(got, numbers.Real) and math.isclose(
            float(got), want, rel_tol=1e-9, abs_tol=1e-12
        )
    if isinstance(got, pd.Timestamp | dt.date):
        return bool(pd.Timestamp(got).strftime("%Y-%m-%d") == str(want))
    return str(got) == str(want)


@CASE_RUNS
def test_values(case: str, run: Run) -> None:
    """A few values of accepted rows (amounts in 万元, codes from words and sentences,
    design filled in, the identifier that resolved the row)."""
    _ingested(run)
    specs = run.expected.get("values") or {}
    if not specs:
        pytest.skip("no values to check in this case")
    problems = []
    for table, rows in specs.items():
        frame = _accepted(run, table)
        for spec in rows:
            mask = pd.Series(True, index=frame.index)
            for col, value in spec["where"].items():
                mask &= frame[col].map(lambda v, value=value: _same(v, value))
            hits = frame[mask]
            where = f"{table} {spec['where']}"
            if len(hits) != 1:
                problems.append(f"{where}: {len(hits)} accepted rows")
                continue
            row = hits.iloc[0]
            for col, value in (spec.get("expect") or {}).items():
                got = row[col] if col in row.index else "<no such column>"
                if not _same(got, value):
                    why = f" ({spec['why']})" if "why" in spec else ""
                    problems.append(f"{where}: {col} = {got!r}, expected {value!r}{why}")
            for col in spec.get("not_null") or []:
                if col not in row.index or _same(row[col], None):
                    problems.append(f"{where}: {col} is empty")
    assert not problems, "\n".join(problems)


def _text_of(path: Path) -> str:
    """Every text a file holds: Parquet cells (decompressed) and metadata, else the bytes."""
    if path.suffix == ".parquet":
        table = pq.read_table(path)
        parts = [str(table.schema), str(table.schema.metadata)]
        parts += [str(v) for col in table.columns for v in col.to_pylist()]
        return "\n".join(parts)
    return path.read_bytes().decode("utf-8", errors="replace")


@CASE_RUNS
def test_personal_ids_never_in_clear(case: str, run: Run) -> None:
    """A personal ID number typed into an identifier column is never written in clear: not
    in the accepted or quarantined Parquet, the review files, the reconciliation or the
    validation reports - anything under the output folder."""
    ids = run.expected.get("never_in_clear")
    if not ids:
        pytest.skip("no personal IDs in this case")
    _ingested(run)
    files = [p for p in sorted(run.out.rglob("*")) if p.is_file()]
    assert files
    found = [
        f"{p.relative_to(run.out)} holds {pid}" for p in files for pid in ids if pid in _text_of(p)
    ]
    assert not found, "\n".join(found)
