"""Ingestion end to end on a simulated province: a clean delivery is accepted whole, the
messy copy ends with every row accounted for and every injected fault explained, reruns
are identical, monthly deliveries merge by natural key, and a killed run loses nothing."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from contract.tables import SIMULATED, TABLES
from pipelines import store
from pipelines.config import load_config
from pipelines.ingest import run_ingest
from pipelines.intake.config import IngestConfig
from pipelines.intake.engine import LINEAGE
from tests.conftest import ROOT
from tests.interim import has_table, read_quarantine, read_table, table_sql


@pytest.fixture(scope="module")
def cfg() -> IngestConfig:
    return load_config(ROOT / "configs" / "ingest.yaml", IngestConfig)


@pytest.fixture(scope="module")
def clean(small_interim):  # type: ignore[no-untyped-def]
    return small_interim


@pytest.fixture(scope="module")
def messy(small_province, cfg, tmp_path_factory):  # type: ignore[no-untyped-def]
    out = tmp_path_factory.mktemp("interim_messy") / "interim"
    return run_ingest(cfg, small_province["base"] / "messy", out, as_of="2026-10"), out


def test_clean_province_is_accepted_whole(clean) -> None:  # type: ignore[no-untyped-def]
    """The simulator writes exactly what the contract allows: nothing is quarantined."""
    report, out = clean
    assert report.unaccounted == 0
    for t in report.tables:
        if t.table not in SIMULATED:  # the generic indicators table: nothing simulated
            assert t.status == "absent"
            continue
        assert t.status == "ingested" and t.quarantined == 0, (t.table, t.by_rule)
        assert t.rows_read == t.accepted == t.rows_total > 0
        assert t.source["format"] == "parquet"
        assert t.expectations["success"], (t.table, t.expectations)
    rec = json.loads((out / "reconciliation.json").read_text(encoding="utf-8"))
    assert rec["unaccounted_rows"] == 0 and set(rec["tables"]) == set(TABLES)


def test_accepted_tables_are_typed_as_the_contract_says(clean, small_province) -> None:  # type: ignore[no-untyped-def]
    _, out = clean
    for name, spec in SIMULATED.items():
        got = read_table(out, name)
        # the contract's columns, then the lineage every accepted row keeps
        assert list(got.columns) == [*spec.column_names, *(n for n, _ in LINEAGE)]
        assert got["_source_row"].notna().all() and (got["_resolved_by"] == "uscc").all()
        got = got[list(spec.column_names)]
        src = pd.read_parquet(small_province["raw"] / name)
        assert len(got) == len(src)
        # same records, whatever the order
        key = list(spec.natural_key)
        a = got.sort_values(key).reset_index(drop=True)
        b = src.sort_values(key).reset_index(drop=True)
        pd.testing.assert_frame_equal(a, b, check_dtype=False)


def test_data_docs_written(clean) -> None:  # type: ignore[no-untyped-def]
    report, out = clean
    index = Path(report.data_docs)
    assert index.is_file() and index.is_relative_to(out)
    html = index.read_text(encoding="utf-8")
    assert "contract-penalties" in html or "ingest-penalties" in html
    yml = (out / "validation" / "gx" / "great_expectations.yml").read_text(encoding="utf-8")
    assert "analytics_enabled: false" in yml


def test_messy_copy_every_row_accounted_and_every_fault_explained(messy, small_province) -> None:  # type: ignore[no-untyped-def]
    report, out = messy
    manifest = small_province["manifest"]["tables"]
    assert report.unaccounted == 0
    registry = set(read_table(out, "enterprises")["uscc"])
    expected_rule = {
        "invalid_uscc": {"uscc_format", "uscc_checksum"},
        "unknown_enterprise": {"unknown_enterprise"},
        "date_disorder": {"row_check", "after_as_of"},
        "bad_vocabulary": {"vocabulary"},
        "duplicate": {"duplicate"},
    }
    for t in report.tables:
        if t.table not in manifest:  # the generic indicators table: not simulated
            continue
        info = manifest[t.table]
        assert t.rows_read == info["rows"]
        q = read_quarantine(out, t.table) if t.quarantined else pd.DataFrame()
        rule_at = dict(zip(q.get("source_row", []), q.get("rule", []), strict=True))
        first_data_row = info["title_rows"] + 2
        for fault, rows in info["fault_rows"].items():
            for pos in rows:
                rule = rule_at.get(pos + first_data_row)
                if fault in expected_rule:
                    # the injected fault, or an earlier-ranked rule the row also breaks because
                    # its enterprise was itself rejected from the registry (a cascade; when the
                    # registry row's own code was corrupted, the event's code is simply unknown)
                    assert rule is not None, (t.table, fault, pos)
                    assert rule in expected_rule[fault] | {
                        "registry_rejected",
                        "unknown_enterprise",
                        "reg_no_unmatched",
                        "name_unmatched",
                    }, (t.table, fault, rule)
        # a copy with the same natural key: the later receipt wins, so the copy or the row it
        # repeats is quarantined as superseded (both as key_conflict when receipts tie), unless
        # both fell with their enterprise
        pairs = zip(
            info["fault_rows"]["natural_key_duplicate"],
            info["copies_of"]["natural_key_duplicate"],
            strict=True,
        )
        cascade = {"registry_rejected", "unknown_enterprise", "reg_no_unmatched", "name_unmatched"}
        for copy, original in pairs:
            rules_ = {
                rule_at.get(copy + first_data_row),
                rule_at.get(original + first_data_row),
            } - {None}
            assert rules_ & {"superseded", "key_conflict"} or (rules_ <= cascade and rules_), (
                t.table,
                copy,
                rules_,
            )
        accepted = read_table(out, t.table)
        assert not accepted.duplicated(list(TABLES[t.table].natural_key)).any(), t.table
    # repairable faults (full-width codes, amounts as text, name- or number-only rows) are
    # accepted unless the enterprise itself was rejected
    for name in ("penalties", "annual_reports", "persons"):
        info = manifest[name]
        q = read_quarantine(out, name)
        rejected = set(q["source_row"])
        first = info["title_rows"] + 2
        for fault in ("fullwidth", "amount_text"):
            for pos in info["fault_rows"].get(fault, []):
                if pos + first in rejected:
                    assert q.set_index("source_row").loc[pos + first, "rule"] in {
                        "registry_rejected",
                        "unknown_enterprise",
                        "duplicate",
                        "superseded",
                        "key_conflict",
                        "row_check",
                        "after_as_of",
                    }
    assert registry


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _digest_frame(frame: pd.DataFrame) -> str:
    """The records of a table whatever their order or files."""
    rows = frame.map(str).apply("|".join, axis=1).sort_values()
    return hashlib.sha256("\n".join(rows).encode()).hexdigest()


def test_rerun_gives_the_same_result(small_province, cfg, tmp_path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "interim"
    first = run_ingest(cfg, small_province["raw"], out, as_of="2026-10")
    before = {n: s.files for n, s in store.open_tables(out).items()}
    second = run_ingest(cfg, small_province["raw"], out, as_of="2026-10")
    after = {n: s.files for n, s in store.open_tables(out).items()}
    # the same delivery again changes no record: no data file is written or replaced
    assert before == after
    assert (
        first.to_dict()["tables"]["penalties"]["rows_read"]
        == second.to_dict()["tables"]["penalties"]["rows_read"]
    )
    for t in second.tables:
        assert t.merged_new == 0 and t.merged_updated == 0 and t.merged_unchanged == t.accepted


def test_monthly_deliveries_merge_by_natural_key(small_province, cfg, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """June's delivery, then October's (which repeats June's records): the result is what
    October alone gives, with no key twice."""
    june = tmp_path / "june"
    june.mkdir()
    con = duckdb.connect()
    for name, spec in SIMULATED.items():
        src = small_province["raw"] / name
        cond = (
            "established_date <= DATE '2026-06-30'"
            if name == "enterprises"
            else "received_date <= DATE '2026-06-30'"
        )
        if spec.event_date and name != "enterprises":
            cond += f" AND {spec.event_date} <= DATE '2026-06-30'"
        con.execute(
            f"COPY (SELECT * FROM read_parquet('{src}/*.parquet') WHERE {cond}) TO '{june / name}.parquet' (FORMAT parquet)"
        )
    merged = tmp_path / "merged"
    r1 = run_ingest(cfg, june, merged, as_of="2026-06")
    assert r1.unaccounted == 0
    r2 = run_ingest(cfg, small_province["raw"], merged, as_of="2026-10")
    alone = tmp_path / "alone"
    run_ingest(cfg, small_province["raw"], alone, as_of="2026-10")
    for name, spec in SIMULATED.items():
        # the same records; their lineage says which delivery brought them
        a = read_table(merged, name)[list(spec.column_names)]
        b = read_table(alone, name)[list(spec.column_names)]
        assert not a.duplicated(list(spec.natural_key)).any(), name
        key = list(spec.natural_key)
        pd.testing.assert_frame_equal(
            a.sort_values(key).reset_index(drop=True),
            b.sort_values(key).reset_index(drop=True),
            check_dtype=False,
        )
    pen = {t.table: t for t in r2.tables}["penalties"]
    assert pen.merged_unchanged > 0 and pen.merged_new > 0


def test_killed_run_leaves_previous_output_and_next_run_completes(
    small_province, cfg, tmp_path, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    from pipelines.intake import engine as ingest_module

    out = tmp_path / "interim"
    run_ingest(cfg, small_province["raw"], out, as_of="2026-10")
    before = {n: s.files for n, s in store.open_tables(out).items()}
    content = {n: _digest_frame(read_table(out, n)) for n in before}
    original = ingest_module._Ingest._merge_accepted
    calls = {"n": 0}

    def dying(self, spec, report, previous):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == 5:
            raise KeyboardInterrupt("killed halfway")
        return original(self, spec, report, previous)

    monkeypatch.setattr(ingest_module._Ingest, "_merge_accepted", dying)
    with pytest.raises(KeyboardInterrupt):
        run_ingest(cfg, small_province["raw"], out, as_of="2026-10")
    # readers still see the state before the run (its commits are past the recorded state)
    after = {n: s.files for n, s in store.open_tables(out).items()}
    assert after == before
    assert {n: _digest_frame(read_table(out, n)) for n in before} == content
    monkeypatch.setattr(ingest_module._Ingest, "_merge_accepted", original)
    report = run_ingest(cfg, small_province["raw"], out, as_of="2026-10")
    assert report.unaccounted == 0
    assert not list(tmp_path.glob(".interim.*")), "no scratch folder is left behind"


def test_absent_optional_table_is_reported(small_province, cfg, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import shutil

    src = tmp_path / "delivery"
    shutil.copytree(small_province["raw"], src)
    shutil.rmtree(src / "social")
    report = run_ingest(cfg, src, tmp_path / "interim", as_of="2026-10")
    social = {t.table: t for t in report.tables}["social"]
    assert social.status == "absent" and not has_table(tmp_path / "interim", "social")
    availability = json.loads((tmp_path / "interim" / "availability.json").read_text("utf-8"))
    assert "social" not in availability["coverage"] and "penalties" in availability["coverage"]


def test_availability_records_where_each_tables_records_start(clean) -> None:  # type: ignore[no-untyped-def]
    """availability.json keeps what it said and adds ``coverage``: the earliest and latest
    event date of each event table's accepted rows (the registry has none), which features
    read so that "since" features never reach back before the records (issue 18)."""
    import datetime as dt

    from pipelines.features import table_coverage

    _, out = clean
    availability = json.loads((out / "availability.json").read_text(encoding="utf-8"))
    assert availability["unavailable"] == {} and availability["absent"] == []
    expected = {}
    for name, spec in SIMULATED.items():
        if spec.event_date is None:
            continue
        lo, hi = duckdb.sql(
            f"SELECT MIN({spec.event_date}), MAX({spec.event_date}) FROM {table_sql(out, name)}"
        ).fetchall()[0]
        expected[name] = {"first": lo.isoformat(), "last": hi.isoformat()}
    assert availability["coverage"] == expected
    assert "enterprises" not in expected and "indicators" not in availability["coverage"]
    assert table_coverage(out) == {
        t: dt.date.fromisoformat(v["first"]) for t, v in expected.items()
    }
