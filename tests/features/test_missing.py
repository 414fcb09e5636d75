"""Missing stays missing: absent tables give NaN, never a silent zero; no record gives 0
only where 0 is the truth (a count), and NaN where the value cannot exist."""

from __future__ import annotations

import pytest

from contract.tables import TABLES
from features.definitions import BLOCKS, CATALOG
from features.engine import FeatureError, Window, block_aliases, feature_sql
from pipelines.features import connect, register_sources, source_tables
from tests.features.tiny import build, config, d, firms, write

# the generic indicators table is supplementary: no feature reads it yet (issue 18)
OPTIONAL = sorted(n for n, s in TABLES.items() if not s.required and not s.supplementary)
EVERYTHING = {
    "enterprises": [*firms("E1", "E2"), {"uscc": "E0"}],
    "annual_reports": [
        {
            "uscc": "E1",
            "report_year": 2025,
            "submitted_date": d("2026-04-01"),
            "revenue": 1.0,
            "employees": 1,
            "tax_paid": 0.1,
            "total_assets": 2.0,
        }
    ],
    "changes": [{"uscc": "E1", "change_kind": "address", "change_date": d("2026-01-01")}],
    "licences": [{"uscc": "E1", "issued_date": d("2024-01-01")}],
    "pledges": [{"uscc": "E1", "registered_date": d("2026-01-01")}],
    "penalties": [{"uscc": "E1", "decision_date": d("2026-01-01")}],
    "abnormal_list": [{"uscc": "E1", "listed_date": d("2026-01-01")}],
    "serious_dishonest_list": [{"uscc": "E1", "listed_date": d("2026-01-01")}],
    "inspections": [{"uscc": "E1", "inspection_date": d("2026-01-01")}],
    "product_sampling": [{"uscc": "E1", "sample_date": d("2026-01-01")}],
    "complaints": [{"uscc": "E1", "complaint_date": d("2026-01-01")}],
    # an open enforcement case with its amount (an unknown amount leaves the total unknown:
    # tests/features/test_null_catalog.py)
    "judicial": [{"uscc": "E1", "filed_date": d("2026-01-01"), "amount": 5.0}],
    "persons": [{"uscc": "E1", "person_id": "P1", "from_date": d("2020-01-01")}],
    "enterprise_links": [{"uscc": "E1", "linked_uscc": "E2", "from_date": d("2020-01-01")}],
    "social": [{"uscc": "E1", "eval_date": d("2026-01-01")}],
    "credit_repairs": [{"uscc": "E1", "decision_no": "P00000", "decided_date": d("2026-03-01")}],
    "commitments": [{"uscc": "E1", "made_date": d("2026-01-01")}],
}


@pytest.mark.parametrize("absent", OPTIONAL)
def test_an_absent_table_makes_its_features_missing_for_everyone(tmp_path, absent: str) -> None:  # type: ignore[no-untyped-def]
    f = build(write(tmp_path, {k: v for k, v in EVERYTHING.items() if k != absent}))
    affected = [x.name for x in CATALOG if absent in x.sources]
    assert affected, f"no feature reads {absent}"
    for uscc, row in f.items():
        for name in affected:
            assert row[name] is None, f"{uscc}.{name} is {row[name]!r} without table {absent}"
    # and features that do not need it are untouched (unless they use it when delivered)
    whole = build(write(tmp_path / "whole", EVERYTHING))
    w = Window("2026-10", config(), frozenset(TABLES))
    blocks = {b.alias: b for b in BLOCKS}
    for uscc, row in f.items():
        for x in CATALOG:
            uses = {t for a in block_aliases(feature_sql(x, w)) for t in blocks[a].optional}
            if absent not in x.sources and absent not in uses:
                assert row[x.name] == whole[uscc][x.name], (uscc, x.name)


def test_no_record_is_a_true_zero_for_counts_and_missing_for_the_rest(tmp_path) -> None:  # type: ignore[no-untyped-def]
    e0 = build(write(tmp_path, EVERYTHING))["E0"]  # E0 has no record of its own anywhere
    for x in CATALOG:
        if x.fill == "zero":
            assert e0[x.name] == 0, x.name
    for name in (
        "pen_days_since_last",
        "insp_problem_rate_36m",
        "samp_fail_rate_36m",
        "jud_days_since_last",
        "tax_rating_level",
        "platform_rating",
        "ar_revenue_log",
        "ar_all_zero",
        "abn_months_listed",
        "chg_days_since_last",
        "rel_legal_rep_other_firms",
        "pen_last_date",
        "insp_last_category",
    ):
        assert e0[name] is None, name


def test_every_count_feature_with_its_tables_present_is_never_missing(tmp_path) -> None:  # type: ignore[no-untyped-def]
    f = build(write(tmp_path, EVERYTHING))
    for x in CATALOG:
        if x.fill == "zero":
            assert all(row[x.name] is not None for row in f.values()), x.name


def test_flags_are_zero_or_one(small_features) -> None:  # type: ignore[no-untyped-def]
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    folder, _ = small_features
    t = pq.read_table(folder / "2026-10.parquet")
    for x in CATALOG:
        if x.kind == "flag":
            values = set(pc.unique(t.column(x.name)).to_pylist()) - {None}
            assert values <= {0.0, 1.0}, (x.name, values)


def test_a_missing_required_table_is_named(tmp_path) -> None:  # type: ignore[no-untyped-def]
    folder = write(tmp_path, {"enterprises": firms("E1")})
    (folder / "penalties.parquet").unlink()
    con = connect(config())
    with pytest.raises(FeatureError, match=r"penalties \(行政处罚信息\).*\[rule: required table\]"):
        register_sources(con, source_tables(folder))
