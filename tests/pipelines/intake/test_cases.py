"""The bad-input corpus: each case is a small delivery with one fault and its exact
expected outcome (an error naming file, column and rule; or quarantine counts by rule)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml

from pipelines.config import load_config
from pipelines.ingest import IngestError, run_ingest
from pipelines.intake.config import IngestConfig
from pipelines.intake.readers import StructuralError
from tests.conftest import ROOT
from tests.interim import read_quarantine, read_table

CASES = Path(__file__).resolve().parent / "ingest_cases"
CASE_DIRS = sorted(p for p in CASES.iterdir() if p.is_dir() and p.name[:2].isdigit())


def test_corpus_has_at_least_30_cases() -> None:
    assert len(CASE_DIRS) >= 30


@pytest.fixture(scope="module")
def ingest_config() -> IngestConfig:
    # tiny deliveries with one fault each: the accept floor is tested on its own
    cfg = load_config(ROOT / "configs" / "ingest.yaml", IngestConfig)
    return cfg.model_copy(update={"accept_floor": 0.0})


def _delivery(case: Path, tmp: Path, expected: dict) -> Path:  # type: ignore[type-arg]
    src = tmp / "delivery"
    shutil.copytree(CASES / "baseline", src)
    for name in expected.get("remove", []):
        (src / name).unlink()
    for f in case.iterdir():
        if f.name == "expected.yaml":
            continue
        if not expected.get("keep_baseline"):  # the case's file replaces the baseline's
            for old in src.glob(f"{f.stem}.*"):
                old.unlink()
        shutil.copy2(f, src / f.name)
    return src


@pytest.mark.parametrize("case", CASE_DIRS, ids=lambda p: p.name)
def test_case(case: Path, tmp_path: Path, ingest_config: IngestConfig) -> None:
    expected = yaml.safe_load((case / "expected.yaml").read_text(encoding="utf-8"))
    src = _delivery(case, tmp_path, expected)
    out = tmp_path / "interim"
    if "error" in expected:
        with pytest.raises((StructuralError, IngestError)) as info:
            run_ingest(ingest_config, src, out, as_of="2026-10")
        message = str(info.value)
        assert expected["error"] in message
        assert "[rule:" in message, "a structural error names its rule"
        assert not out.exists(), "nothing is written when the run stops"
        return
    report = run_ingest(ingest_config, src, out, as_of="2026-10")
    assert report.unaccounted == 0
    by_table = {t.table: t for t in report.tables}
    for table, want in expected["tables"].items():
        got = by_table[table]
        if "status" in want:
            assert got.status == want["status"]
        if "read" in want:
            assert (got.rows_read, got.accepted) == (want["read"], want["accepted"]), table
            assert got.by_rule == want["quarantined"], table
        if "notes" in want:
            assert got.notes == want["notes"], table
        if "resolution" in want:
            assert got.resolution == want["resolution"], table
    for table, want in expected.get("source", {}).items():
        for key, value in want.items():
            assert by_table[table].source[key] == value, (table, key)
    for table, columns in expected.get("values", {}).items():
        frame = read_table(out, table)
        for column, values in columns.items():
            got = frame[column].tolist()
            if frame[column].dtype.kind == "M" or column.endswith("_date"):
                got = [pd.Timestamp(v).strftime("%Y-%m-%d") for v in got]
            assert got == values, (table, column)
    # every quarantined row carries its rule and a reason in both languages
    for t in report.tables:
        if t.quarantined:
            q = read_quarantine(out, t.table)
            assert len(q) == t.quarantined
            assert (
                q["rule"].notna().all()
                and q["reason_zh"].str.len().gt(0).all()
                and q["reason_en"].str.len().gt(0).all()
            )
            assert q["source_row"].notna().all()
