"""Invariants of a simulated province: the raw tables obey the contract and the story holds
together (no event before establishment or after deregistration, receipts after events,
known inclusion probabilities, byte-identical reruns)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from stdnum.cn import uscc as stdnum_uscc

from contract import reference
from contract.tables import SIMULATED, TABLES, VOCABULARIES
from simulator.calendar import Calendar

_ARROW = {
    "string": pa.string(),
    "int": pa.int64(),
    "float": pa.float64(),
    "date": pa.date32(),
    "bool": pa.bool_(),
}


def _con(raw: Path) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    for name in SIMULATED:
        con.execute(f"CREATE VIEW {name} AS SELECT * FROM read_parquet('{raw / name}/*.parquet')")
    return con


@pytest.fixture(scope="module")
def con(small_province):  # type: ignore[no-untyped-def]
    return _con(small_province["raw"])


@pytest.mark.parametrize("name", list(SIMULATED))
def test_schema_matches_contract(small_province, name: str) -> None:  # type: ignore[no-untyped-def]
    parts = sorted((small_province["raw"] / name).glob("part-*.parquet"))
    assert len(parts) == 3  # one per chunk
    schema = pq.read_schema(parts[0])
    spec = TABLES[name]
    assert schema.names == list(spec.column_names)
    for col in spec.columns:
        assert schema.field(col.name).type == _ARROW[col.dtype], col.name


@pytest.mark.parametrize("name", list(SIMULATED))
def test_values_obey_contract(con, name: str) -> None:  # type: ignore[no-untyped-def]
    spec = TABLES[name]
    assert con.execute(f"SELECT count(*) FROM {name}").fetchone()[0] > 0, f"{name} is empty"
    for col in spec.columns:
        if not col.nullable:
            nulls = con.execute(
                f'SELECT count(*) FROM {name} WHERE "{col.name}" IS NULL'
            ).fetchone()[0]
            assert nulls == 0, f"{name}.{col.name} has {nulls} nulls"
        if col.vocabulary in VOCABULARIES:
            values = {
                r[0] for r in con.execute(f'SELECT DISTINCT "{col.name}" FROM {name}').fetchall()
            }
            if col.is_list:
                values = {v for s in values if s for v in s.split(";")}
            assert values - {None} <= set(VOCABULARIES[col.vocabulary]), f"{name}.{col.name}"
        if col.minimum is not None:
            assert (
                con.execute(
                    f'SELECT count(*) FROM {name} WHERE "{col.name}" < {col.minimum}'
                ).fetchone()[0]
                == 0
            )
        if col.maximum is not None:
            assert (
                con.execute(
                    f'SELECT count(*) FROM {name} WHERE "{col.name}" > {col.maximum}'
                ).fetchone()[0]
                == 0
            )
    for chk in spec.checks:
        bad = con.execute(f"SELECT count(*) FROM {name} WHERE NOT ({chk.sql})").fetchone()[0]
        assert bad == 0, f"{name}: {bad} rows break {chk.name}"


def test_every_uscc_valid_and_unique(con) -> None:  # type: ignore[no-untyped-def]
    codes = [r[0] for r in con.execute("SELECT uscc FROM enterprises").fetchall()]
    assert len(codes) == 5_000 == len(set(codes))
    assert all(stdnum_uscc.is_valid(c) for c in codes)
    divisions = {
        r[0] for r in con.execute("SELECT DISTINCT division_code FROM enterprises").fetchall()
    }
    assert divisions <= reference.division_codes("44")
    industries = {
        r[0] for r in con.execute("SELECT DISTINCT industry_code FROM enterprises").fetchall()
    }
    assert industries <= reference.industry_codes()
    # the USCC carries the division and the entity type
    mismatch = con.execute(
        "SELECT count(*) FROM enterprises WHERE substr(uscc, 3, 6) <> division_code "
        "OR substr(uscc, 2, 1) <> CASE entity_type WHEN 'enterprise' THEN '1' "
        "WHEN 'individual_business' THEN '2' ELSE '3' END"
    ).fetchone()[0]
    assert mismatch == 0


@pytest.mark.parametrize("name", [n for n in SIMULATED if n != "enterprises"])
def test_events_refer_to_enterprises_within_their_life(con, small_config, name: str) -> None:  # type: ignore[no-untyped-def]
    spec = TABLES[name]
    ev = spec.event_date
    orphans = con.execute(
        f"SELECT count(*) FROM {name} x ANTI JOIN enterprises e USING (uscc)"
    ).fetchone()[0]
    assert orphans == 0
    if name == "enterprise_links":
        linked = con.execute(
            "SELECT count(*) FROM enterprise_links x ANTI JOIN enterprises e ON e.uscc = x.linked_uscc"
        ).fetchone()[0]
        assert linked == 0
    before = con.execute(
        f"SELECT count(*) FROM {name} x JOIN enterprises e USING (uscc) WHERE x.{ev} < e.established_date"
    ).fetchone()[0]
    assert before == 0, f"{name}: {before} events before establishment"
    after = con.execute(
        f"SELECT count(*) FROM {name} x JOIN enterprises e USING (uscc) WHERE x.{ev} > e.deregistered_date"
    ).fetchone()[0]
    assert after == 0, f"{name}: {after} events after deregistration"
    end = Calendar.ending(small_config.end_month, 24, small_config.burn_in_months).end_day
    late = con.execute(
        f"SELECT count(*) FROM {name} WHERE received_date > DATE '1970-01-01' + INTERVAL ({end}) DAY"
    ).fetchone()[0]
    assert late == 0, "records received after the export date must not be in the export"


def test_inclusion_probabilities_equal_configured_rates(con, small_config) -> None:  # type: ignore[no-untyped-def]
    rows = con.execute(
        "SELECT risk_class_at_draw, inclusion_probability, count(*) FROM inspections "
        "WHERE draw_mode = 'double_random' GROUP BY 1, 2"
    ).fetchall()
    assert {r[0] for r in rows} == {"A", "B", "C", "D"}
    for cls, p, _ in rows:
        assert p == small_config.inspections.class_rates[cls]
    assert (
        con.execute(
            "SELECT count(*) FROM inspections WHERE draw_mode = 'targeted' AND inclusion_probability IS NOT NULL"
        ).fetchone()[0]
        == 0
    )
    # strata name the division and the class used for the draw
    bad = con.execute(
        "SELECT count(*) FROM inspections i JOIN enterprises e USING (uscc) WHERE draw_mode = 'double_random' "
        "AND stratum <> e.division_code || ':' || risk_class_at_draw"
    ).fetchone()[0]
    assert bad == 0


def test_truth_is_apart_and_complete(small_province, con) -> None:  # type: ignore[no-untyped-def]
    truth = small_province["truth"]
    assert not (small_province["raw"] / "enterprise_months").exists()
    tcon = duckdb.connect()
    n = tcon.execute(
        f"SELECT count(*) FROM read_parquet('{truth}/inspections/*.parquet')"
    ).fetchone()[0]
    assert n == con.execute("SELECT count(*) FROM inspections").fetchone()[0]
    p = tcon.execute(
        f"SELECT min(p_problem), max(p_problem) FROM read_parquet('{truth}/enterprise_months/*.parquet')"
    ).fetchone()
    assert 0 <= p[0] < p[1] <= 1
    months = tcon.execute(
        f"SELECT count(DISTINCT month) FROM read_parquet('{truth}/enterprise_months/*.parquet')"
    ).fetchone()[0]
    assert months == 24


def _digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_same_seed_gives_byte_identical_output(
    small_province, small_config, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    """Rerun with one worker instead of two: parallelism must not change a byte."""
    from pipelines.simulate import run_simulate

    run_simulate(
        small_config,
        enterprises=5_000,
        months=24,
        seed=11,
        out=tmp_path / "raw",
        truth_out=tmp_path / "truth",
        workers=1,
    )
    assert _digest(tmp_path / "raw") == _digest(small_province["raw"])
    assert _digest(tmp_path / "truth") == _digest(small_province["truth"])


def test_other_seed_gives_other_province(small_config, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from simulator.engine import simulate_chunk

    a = simulate_chunk(small_config, 12, 0, 1_000, seed=1).tables["enterprises"]
    b = simulate_chunk(small_config, 12, 0, 1_000, seed=2).tables["enterprises"]
    assert not a["established_date"].equals(b["established_date"])
    assert not a["uscc"].equals(b["uscc"])  # the division inside the code differs too


def test_history_behaves_like_a_province(con) -> None:  # type: ignore[no-untyped-def]
    """Cheap sanity checks of the causal story (the calibration test checks the figures)."""
    # a missing annual report leads to the abnormal list, and filing it removes the firm
    reasons = dict(con.execute("SELECT reason, count(*) FROM abnormal_list GROUP BY 1").fetchall())
    assert reasons["annual_report"] > reasons.get("concealment", 0) > 0
    filed = con.execute(
        "SELECT count(*) FROM abnormal_list WHERE removal_reason = 'report_filed'"
    ).fetchone()[0]
    assert filed > 0
    # three years on the abnormal list -> serious list
    moved = con.execute(
        "SELECT count(*) FROM serious_dishonest_list WHERE reason = 'abnormal_3y'"
    ).fetchone()[0]
    assert moved > 0
    # problems found are mostly at firms the bureau later sees as risky; dormant firms are unreachable
    cats = dict(
        con.execute(
            "SELECT problem_category, count(*) FROM inspections WHERE problem_found GROUP BY 1"
        ).fetchall()
    )
    assert cats["address_unreachable"] > 0 and cats.get("food_safety", 0) > 0
    # inspections carry the items that match the firm's tags
    food_items = con.execute(
        "SELECT bool_and(items LIKE '%food_safety%') FROM inspections i JOIN enterprises e USING (uscc) "
        "WHERE e.sector_tags LIKE '%catering%'"
    ).fetchone()[0]
    assert food_items
    # a person behind many firms exists (nominees), as does an address hosting many
    top = con.execute(
        "SELECT max(c) FROM (SELECT person_id, count(DISTINCT uscc) c FROM persons "
        "WHERE role = 'legal_representative' GROUP BY 1)"
    ).fetchone()[0]
    assert top >= 5
    crowded = con.execute(
        "SELECT max(c) FROM (SELECT address_id, count(*) c FROM enterprises GROUP BY 1)"
    ).fetchone()[0]
    assert crowded >= 10
    # big capital with an empty annual report: the red flag exists
    flag = con.execute(
        "SELECT count(*) FROM enterprises e JOIN annual_reports r USING (uscc) "
        "WHERE e.registered_capital >= 10000 AND r.revenue = 0 AND r.tax_paid = 0"
    ).fetchone()[0]
    assert flag > 0
    statuses = {r[0] for r in con.execute("SELECT DISTINCT status FROM enterprises").fetchall()}
    assert statuses == {"operating", "revoked", "deregistered"}


def test_rng_is_per_chunk(small_config) -> None:  # type: ignore[no-untyped-def]
    """Chunk k's stream does not depend on how many chunks came before it."""
    from simulator.engine import chunk_rng

    assert np.array_equal(chunk_rng(5, 3).random(4), chunk_rng(5, 3).random(4))
    assert not np.array_equal(chunk_rng(5, 3).random(4), chunk_rng(5, 4).random(4))
