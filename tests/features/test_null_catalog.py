"""Missing stays missing over the whole catalog, and "since" features respect where the
records start (issue 18, items 5 and 6).

The catalog promises (`features.catalog.Feature`): ``fill='missing'`` is NULL where the
enterprise has no record, ``fill='zero'`` is a true zero, and a feature whose source table
was not delivered is NULL. A value computed from an unknown input is unknown: never a 0 from
``CASE WHEN NULL ... ELSE 0``, a bound from ``least(NULL, 1.0)`` or a partial total from a
SUM that skips NULLs. Three angles, over every feature of `CATALOG`:

* (a) records whose every non-key column is NULL (received dates included: never known),
  with every nullable registry column NULL: each feature is NULL, a true zero, or a fact the
  short `KNOWN` list explains;
* (a) a rich province where one nullable column at a time is NULL: a feature whose value
  depends on that column (it differs between two known values) is NULL, and one that does
  not keeps its value (`JUSTIFIED` names the few deliberate exceptions and why);
* (b) optional tables not delivered, and each required table declared unavailable.

Then left-censoring: ``coverage`` (`features.engine.Window.coverage`) caps "since" features.
"""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from contract.tables import TABLES, VOCABULARIES
from features.base import population
from features.definitions import BLOCKS, BY_NAME, CATALOG
from features.engine import Window, block_aliases, coverage_pairs, feature_sql
from pipelines.features import catalog_fingerprint, run_features, table_coverage
from tests.features.test_portable import FORBIDDEN
from tests.features.tiny import build, config, d, write

MONTH = "2026-10"
#: the tables features read (the generic indicators table is supplementary: none reads it)
FEATURE_TABLES = sorted(n for n, s in TABLES.items() if not s.supplementary)
OPTIONAL = sorted(n for n in FEATURE_TABLES if not TABLES[n].required)
REQUIRED_EVENT = sorted(n for n in FEATURE_TABLES if TABLES[n].required and n != "enterprises")
ANY = object()  # a KNOWN entry whose value is a fact but not a constant

# ------------------------------------------------------------------ (a) keys only
#: Features that are facts even when every event record's values are unknown (no record is
#: known at the month end) and the registry's nullable columns are NULL: name -> (value, why).
KNOWN: dict[str, tuple[object, str]] = {
    **{
        n: (ANY, "from a registry column the contract requires (the population needs it)")
        for n in (
            "age_years",
            "young_3y",
            "entity_type",
            "legal_form",
            "industry_division",
            "city",
            "established_date",
            "addr_firm_count",
        )
    },
    "addr_cluster": (0, "a flag of addr_firm_count, which is known (address_id is required)"),
    "revoked": (0, "revoked_date NULL means not revoked (contract: the date of an event)"),
    **{
        n: (0, "sector_tags NULL is the empty list (a ;-list cannot tell the two apart)")
        for n in (
            "sector_food",
            "sector_drug",
            "sector_special_equipment",
            "sector_industrial",
            "sector_tag_count",
        )
    },
    # no annual report and no change on record is exactly what these measure
    "ar_last_due_missing": (1, "no report on record for the due year: the fact it flags"),
    "ar_missing_years": (3, "due years without a report on record (lookback 3)"),
    "months_since_activity": (ANY, "no activity on record: months since establishment"),
    "dormant": (1, "no report and no change on record, established 2015"),
    **{
        n: (0, "share of the *other* enterprises with a record: none has one (a true zero)")
        for n in (
            "ctx_industry_penalised_share",
            "ctx_division_penalised_share",
            "ctx_industry_abnormal_share",
            "ctx_division_abnormal_share",
        )
    },
    "cmp_growth_12m": (0, "(0 - 0) / (0 + 1) of two true-zero complaint counts"),
}

_KEY_VALUES: dict[str, Any] = {"report_year": 2025, "amount": 1.0}


def _key_value(table: str, column: str, uscc: str, i: int) -> Any:
    col = TABLES[table].column(column)
    if column == "uscc":
        return uscc
    if column == "linked_uscc":
        return "E1" if uscc == "E2" else "E2"
    if column in _KEY_VALUES:
        return _KEY_VALUES[column]
    if col.dtype == "date":
        return d("2026-01-01")
    if col.vocabulary is not None and col.vocabulary in VOCABULARIES:
        return next(iter(VOCABULARIES[col.vocabulary]))
    return f"{column}-{uscc}-{i}"


def keys_only(table: str, uscc: str, i: int = 0) -> dict[str, Any]:
    """A record of ``table`` with its keys (``uscc`` and the natural key) and nothing else."""
    spec = TABLES[table]
    row: dict[str, Any] = {c.name: None for c in spec.columns}
    for k in {"uscc", *spec.natural_key}:
        row[k] = _key_value(table, k, uscc, i)
    return row


def _registry(*uscc: str) -> list[dict[str, Any]]:
    """Enterprises with every nullable registry column NULL (the rest: tiny's defaults)."""
    nullable = [c.name for c in TABLES["enterprises"].columns if c.nullable]
    return [{"uscc": u, **dict.fromkeys(nullable)} for u in uscc]


FIRMS = ("E1", "E2", "E3")


def _keys_only_province(tables: list[str]) -> dict[str, list[dict[str, Any]]]:
    data: dict[str, list[dict[str, Any]]] = {"enterprises": _registry(*FIRMS)}
    for t in tables:
        if t != "enterprises":
            data[t] = [keys_only(t, u, i) for i, u in enumerate(FIRMS)]
    return data


def _check_null_or_zero_or_known(row: dict[str, Any], uscc: str) -> None:
    for f in CATALOG:
        v = row[f.name]
        if v is None:
            continue
        if f.fill == "zero" and v == 0:
            continue
        assert f.name in KNOWN, f"{uscc}.{f.name} = {v!r} from records whose values are unknown"
        expected, why = KNOWN[f.name]
        assert expected is ANY or v == expected, f"{uscc}.{f.name} = {v!r}, not {expected!r}: {why}"


def test_records_with_nothing_but_keys_give_null_a_true_zero_or_a_known_fact(
    tmp_path: Path,
) -> None:
    """(a) Every table delivered; every non-key column of every event record NULL (so no
    record is known at the month end) and every nullable registry column NULL."""
    got = build(write(tmp_path / "keys", _keys_only_province(FEATURE_TABLES)))
    empty = build(
        write(
            tmp_path / "empty",
            {**{t: [] for t in FEATURE_TABLES}, "enterprises": _registry(*FIRMS)},
        )
    )
    assert sorted(got) == list(FIRMS)
    for uscc, row in got.items():
        _check_null_or_zero_or_known(row, uscc)
        for f in CATALOG:  # records never known add nothing (they may only make a value unknown)
            assert row[f.name] is None or row[f.name] == empty[uscc][f.name], (uscc, f.name)
    for name in KNOWN:  # the list stays honest: each entry is used
        assert any(r[name] is not None for r in got.values()), f"KNOWN lists {name} needlessly"


def test_optional_tables_absent_give_null_a_true_zero_or_a_known_fact(tmp_path: Path) -> None:
    """(b) Only the required tables delivered (keys-only records): every feature that reads
    an optional table is NULL for everyone, every other one NULL, zero or known."""
    required = [t for t in FEATURE_TABLES if TABLES[t].required]
    got = build(write(tmp_path, _keys_only_province(required)))
    for uscc, row in got.items():
        for f in CATALOG:
            if set(f.sources) & set(OPTIONAL):
                assert row[f.name] is None, (
                    f"{uscc}.{f.name} without {set(f.sources) & set(OPTIONAL)}"
                )
        _check_null_or_zero_or_known(row, uscc)


# ------------------------------------------------------------------ (a) one NULL at a time
def _rich() -> dict[str, list[dict[str, Any]]]:
    """Every table delivered, every column known; each enterprise exercises other paths.

    E1 large capital, a catering licence, an all-zero report, penalties (a fine and a
    warning), listings, an inspection, complaints, court cases, ratings; E2 a normal report
    history and a branch of E1; E3 a capital reduction and a move to E2's address; E4 E1's
    controlling shareholder (60 %), on the abnormal list, with a capital change after the
    month end (its capital then is the change's before-value).
    """
    return {
        "enterprises": [
            {
                "uscc": "E1",
                "registered_capital": 20000.0,
                "paid_in_capital": 100.0,
                "employees": 10,
                "sector_tags": "catering",
                "reg_no": "440100000000001",
            },
            {
                "uscc": "E2",
                "registered_capital": 100.0,
                "paid_in_capital": 50.0,
                "employees": 20,
                "sector_tags": "food_distribution",
                "reg_no": "440100000000002",
            },
            {
                "uscc": "E3",
                "registered_capital": 20000.0,
                "paid_in_capital": 0.0,
                "employees": 5,
                "sector_tags": "drugs",
                "reg_no": "440100000000003",
            },
            {
                "uscc": "E4",
                "registered_capital": 500.0,
                "paid_in_capital": 500.0,
                "employees": 1,
                "sector_tags": "cosmetics",
                "reg_no": "440100000000004",
            },
        ],
        "annual_reports": [
            {
                "uscc": "E1",
                "report_year": 2025,
                "submitted_date": d("2026-04-01"),
                "employees": 0,
                "revenue": 0.0,
                "total_assets": 0.0,
                "tax_paid": 0.0,
                "net_profit": 0.0,
                "social_insurance_count": 0,
            },
            *(
                {
                    "uscc": "E2",
                    "report_year": y,
                    "submitted_date": d(f"{y + 1}-03-01"),
                    "employees": 20,
                    "revenue": r,
                    "total_assets": 80.0,
                    "tax_paid": 3.0,
                    "net_profit": -1.0,
                    "social_insurance_count": 12,
                }
                for y, r in ((2024, 100.0), (2025, 150.0))
            ),
            {
                "uscc": "E3",
                "report_year": 2025,
                "submitted_date": d("2026-08-01"),
                "employees": 5,
                "revenue": 10.0,
                "total_assets": 20.0,
                "tax_paid": 1.0,
                "net_profit": 2.0,
                "social_insurance_count": 9,
            },
        ],
        "changes": [
            {
                "uscc": "E1",
                "change_kind": "legal_representative",
                "change_date": d("2025-12-01"),
                "before_value": "A",
                "after_value": "B",
            },
            {
                "uscc": "E3",
                "change_kind": "registered_capital",
                "change_date": d("2026-02-01"),
                "before_value": "20000",
                "after_value": "5000",
            },
            {
                "uscc": "E3",
                "change_kind": "address",
                "change_date": d("2026-03-01"),
                "before_value": "AD-E3",
                "after_value": "AD-E2",
            },
            {
                "uscc": "E4",
                "change_kind": "registered_capital",
                "change_date": d("2026-12-01"),
                "before_value": "30000",
                "after_value": "500",
            },
        ],
        "licences": [
            {"uscc": "E1", "licence_kind": "food_business", "issued_date": d("2024-01-01")}
        ],
        "pledges": [
            {
                "uscc": "E1",
                "pledge_kind": "equity",
                "registered_date": d("2026-01-01"),
                "amount": 10.0,
            }
        ],
        "penalties": [
            {"uscc": "E1", "decision_date": d("2026-01-01"), "penalty_kind": "fine", "amount": 2.0},
            {
                "uscc": "E1",
                "decision_date": d("2025-06-01"),
                "penalty_kind": "warning",
                "amount": None,
            },
            {"uscc": "E2", "decision_date": d("2026-05-01"), "amount": 1.0},
        ],
        "abnormal_list": [
            {"uscc": "E4", "listed_date": d("2026-02-01")},
            {
                "uscc": "E1",
                "listed_date": d("2024-01-01"),
                "removed_date": d("2025-01-01"),
                "removal_reason": "report_filed",
                "removal_received_date": d("2025-01-05"),
            },
        ],
        "serious_dishonest_list": [{"uscc": "E1", "listed_date": d("2025-01-01")}],
        "inspections": [
            {
                "uscc": "E1",
                "inspection_date": d("2026-02-01"),
                "problem_found": True,
                "result": "problem",
                "problem_category": "false_disclosure",
                "trigger": "complaint",
            },
            {"uscc": "E2", "inspection_date": d("2025-02-01"), "trigger": "complaint"},
        ],
        "product_sampling": [{"uscc": "E1", "sample_date": d("2026-01-01"), "result": "fail"}],
        "complaints": [
            {"uscc": "E1", "complaint_date": d("2026-06-01"), "substantiated": True},
            {"uscc": "E1", "complaint_date": d("2025-06-01"), "substantiated": False},
        ],
        "judicial": [
            {"uscc": "E1", "filed_date": d("2026-01-01"), "kind": "enforcement", "amount": 50.0},
            {
                "uscc": "E1",
                "filed_date": d("2025-01-01"),
                "kind": "dishonest_debtor",
                "amount": 0.0,
            },
        ],
        "persons": [
            {
                "uscc": "E1",
                "person_id": "P1",
                "role": "legal_representative",
                "from_date": d("2020-01-01"),
                "share_pct": 60.0,
            },
            {
                "uscc": "E2",
                "person_id": "P1",
                "role": "shareholder",
                "from_date": d("2021-01-01"),
                "share_pct": 10.0,
            },
            {
                "uscc": "E3",
                "person_id": "P2",
                "role": "legal_representative",
                "from_date": d("2022-01-01"),
                "share_pct": 30.0,
            },
        ],
        "enterprise_links": [
            {
                "uscc": "E4",
                "linked_uscc": "E1",
                "link_kind": "investment",
                "from_date": d("2020-01-01"),
                "share_pct": 60.0,
            },
            {
                "uscc": "E1",
                "linked_uscc": "E2",
                "link_kind": "branch",
                "from_date": d("2021-01-01"),
                "share_pct": 100.0,
            },
        ],
        "social": [
            {
                "uscc": "E1",
                "indicator": "tax_credit_rating",
                "value": "B",
                "eval_date": d("2025-05-01"),
                "score": 80.0,
            },
            {
                "uscc": "E1",
                "indicator": "tax_credit_rating",
                "value": "C",
                "eval_date": d("2026-05-01"),
                "score": 70.0,
            },
            {
                "uscc": "E1",
                "indicator": "platform_rating",
                "value": "4.5",
                "eval_date": d("2026-06-01"),
                "score": 4.5,
            },
            {
                "uscc": "E1",
                "indicator": "news_sentiment",
                "value": "negative",
                "eval_date": d("2026-03-01"),
                "score": -1.0,
            },
        ],
        "credit_repairs": [
            {  # E1's warning repaired
                "uscc": "E1",
                "decision_no": "P00001",
                "applied_date": d("2026-01-10"),
                "decided_date": d("2026-02-01"),
                "received_date": d("2026-02-10"),
            },
            {  # E1's fine: refused
                "uscc": "E1",
                "decision_no": "P00000",
                "decision": "refused",
                "refusal_reason": "period_not_met",
                "decided_date": d("2026-03-01"),
            },
            {  # E2's penalty repaired, the repair revoked
                "uscc": "E2",
                "decision_no": "P00002",
                "decided_date": d("2026-06-15"),
                "revoked_date": d("2026-08-01"),
                "revocation_reason": "false_materials",
                "revocation_received_date": d("2026-08-05"),
            },
        ],
        "commitments": [
            {
                "uscc": "E1",
                "made_date": d("2025-01-01"),
                "kept": True,
                "assessed_date": d("2025-07-01"),
                "assessment_received_date": d("2025-07-03"),
            },
            {
                "uscc": "E1",
                "made_date": d("2025-06-01"),
                "kept": False,
                "assessed_date": d("2026-01-01"),
                "assessment_received_date": d("2026-01-03"),
            },
            {"uscc": "E2", "made_date": d("2026-05-01")},
        ],
    }


#: Nullable columns whose NULL is itself a value: the event has not happened (not removed,
#: not closed, still in office ...). A removal's reason and received date go with its date
#: (abnormal_list's contract check sets the three together); a removal without its received
#: date is not yet received (the point-in-time reading, `features.supervision._listed`).
NOT_HAPPENED = {
    "deregistered_date",
    "revoked_date",
    "cancelled_date",
    "released_date",
    "repaired_date",
    "removed_date",
    "removal_reason",
    "removal_received_date",
    "closed_date",
    "to_date",
    # a revocation's received date goes with its date (credit_repairs' contract check), and
    # so do an assessment's date and received date (commitments')
    "revocation_received_date",
    "assessed_date",
    "assessment_received_date",
}

#: Two known values of every other nullable column (a feature that depends on the column
#: gives different results for them).
VALUES: dict[tuple[str, str], tuple[Any, Any]] = {
    ("enterprises", "reg_no"): ("440100000000009", "440100000000010"),
    ("enterprises", "registered_capital"): (50.0, 50000.0),
    ("enterprises", "paid_in_capital"): (0.0, 100.0),
    ("enterprises", "employees"): (0, 500),
    ("enterprises", "sector_tags"): ("catering", "drugs"),
    ("annual_reports", "employees"): (0, 50),
    ("annual_reports", "revenue"): (0.0, 1e5),
    ("annual_reports", "total_assets"): (0.0, 1e5),
    ("annual_reports", "tax_paid"): (0.0, 100.0),
    ("annual_reports", "net_profit"): (-10.0, 10.0),
    ("annual_reports", "social_insurance_count"): (0, 500),
    ("changes", "before_value"): ("10", "99999"),
    ("changes", "after_value"): ("10", "99999"),
    ("penalties", "amount"): (0.0, 100.0),
    ("inspections", "plan_id"): ("SJ1", "SJ2"),
    ("inspections", "stratum"): ("440106:A", "440106:D"),
    ("inspections", "risk_class_at_draw"): ("A", "D"),
    ("inspections", "inclusion_probability"): (0.01, 0.5),
    ("inspections", "trigger"): ("complaint", "campaign"),
    ("inspections", "problem_category"): ("false_disclosure", "unlicensed"),
    ("complaints", "substantiated"): (False, True),
    ("judicial", "amount"): (0.0, 1000.0),
    ("persons", "share_pct"): (10.0, 90.0),
    ("enterprise_links", "share_pct"): (10.0, 90.0),
    ("social", "score"): (1.0, 5.0),
    # the repaired record's key: values that name no delivered record change nothing (a
    # repair naming a penalty or listing is tested in tests/features/test_repairs.py)
    ("credit_repairs", "decision_no"): ("CF-X1", "CF-X2"),
    ("credit_repairs", "listing_reason"): ("false_registration", "abnormal_3y"),
    ("credit_repairs", "listed_date"): (d("2020-01-01"), d("2021-01-01")),
    ("credit_repairs", "refusal_reason"): ("period_not_met", "false_materials"),
    ("credit_repairs", "revocation_reason"): ("false_materials", "commitment_broken"),
    ("commitments", "kept"): (False, True),
}

#: The deliberate exceptions: a NULL in (table, column) that these features read as a value.
JUSTIFIED: dict[tuple[str, str], tuple[set[str], str]] = {
    ("enterprises", "sector_tags"): (
        {
            "sector_food",
            "sector_drug",
            "sector_special_equipment",
            "sector_industrial",
            "sector_tag_count",
        },
        "NULL is the empty list: a ;-separated list column cannot tell an empty list from "
        "NULL, and the simulator and exports write no key sector as NULL",
    ),
    ("complaints", "substantiated"): (
        {"cmp_substantiated_12m"},
        "counts complaints *found* substantiated: one without a verification result has not "
        "been (the catalog's description says so)",
    ),
    ("social", "score"): (
        {"platform_rating", "platform_rating_low"},
        "a platform rating's text value carries the same rating; score is its numeric form",
    ),
}

VARIED = sorted(VALUES)


def test_every_nullable_column_is_varied_or_means_not_happened() -> None:
    nullable = {
        (t, c.name)
        for t in FEATURE_TABLES
        for c in TABLES[t].columns
        if c.nullable and c.name not in NOT_HAPPENED
    }
    assert nullable == set(VALUES)


def _with(
    data: dict[str, list[dict[str, Any]]], table: str, column: str, value: Any
) -> dict[str, list[dict[str, Any]]]:
    return {
        t: [{**r, column: value} if t == table else r for r in rows] for t, rows in data.items()
    }


@pytest.mark.parametrize(("table", "column"), VARIED, ids=[f"{t}.{c}" for t, c in VARIED])
def test_a_feature_that_depends_on_an_unknown_value_is_unknown(
    tmp_path: Path, table: str, column: str
) -> None:
    """(a) One nullable column NULL in every record of its table, everything else known."""
    lo_value, hi_value = VALUES[(table, column)]
    rich = _rich()
    lo = build(write(tmp_path / "lo", _with(rich, table, column, lo_value)))
    hi = build(write(tmp_path / "hi", _with(rich, table, column, hi_value)))
    null = build(write(tmp_path / "null", _with(rich, table, column, None)))
    allowed, _why = JUSTIFIED.get((table, column), (set(), ""))
    for uscc in null:
        for f in CATALOG:
            a, b, v = lo[uscc][f.name], hi[uscc][f.name], null[uscc][f.name]
            if v is None or f.name in allowed:
                continue
            assert a == b == v, (
                f"{uscc}.{f.name} = {v!r} with {table}.{column} unknown, but {a!r} / {b!r} "
                f"with {table}.{column} = {lo_value!r} / {hi_value!r}"
            )


def test_the_reported_case_insured_share_of_an_unknown_count_is_unknown(tmp_path: Path) -> None:
    """DuckDB's least() skips NULLs: least(NULL / 20, 1.0) was 1.0 (fully insured)."""
    rich = _with(_rich(), "annual_reports", "social_insurance_count", None)
    got = build(write(tmp_path, rich))
    assert got["E2"]["ar_insured_share"] is None
    assert build(write(tmp_path / "known", _rich()))["E2"]["ar_insured_share"] == pytest.approx(0.6)


def test_justified_exceptions_are_still_needed(tmp_path: Path) -> None:
    """Each JUSTIFIED entry names a feature that really reads the NULL as a value."""
    for (table, column), (names, _why) in JUSTIFIED.items():
        lo_value, _hi = VALUES[(table, column)]
        null = build(write(tmp_path / f"{table}-{column}", _with(_rich(), table, column, None)))
        for name in names:
            assert any(r[name] is not None for r in null.values()), (table, column, name)
        assert lo_value is not None


# ------------------------------------------------------------------ (b) declared unavailable
@pytest.mark.parametrize("table", REQUIRED_EVENT)
def test_a_required_table_declared_unavailable_makes_its_features_missing(
    tmp_path: Path, table: str
) -> None:
    """(b) The bureau cannot deliver a required table (``unavailable:`` of the ingest
    configuration): every feature reading it is NULL for everyone (the population is still
    built, even without the change records), every other one is what it was."""
    folder = write(tmp_path, _rich())
    whole = build(folder)
    got = build(folder, unavailable={table: "cannot deliver"})
    assert sorted(got) == sorted(whole)
    w = Window(MONTH, config(), frozenset(TABLES))
    blocks = {b.alias: b for b in BLOCKS}
    for uscc, row in got.items():
        for f in CATALOG:
            uses = {t for a in block_aliases(feature_sql(f, w)) for t in blocks[a].optional}
            if table in f.sources:
                assert row[f.name] is None, f"{uscc}.{f.name} without {table}"
            elif table not in uses:
                assert row[f.name] == whole[uscc][f.name], (uscc, f.name)


def test_optional_tables_declared_unavailable_are_not_read(tmp_path: Path) -> None:
    """(b) Files of a table declared unavailable are never read, whatever they hold."""
    folder = write(tmp_path, _rich())
    got = build(folder, unavailable=dict.fromkeys(OPTIONAL, "cannot deliver"))
    for uscc, row in got.items():
        for f in CATALOG:
            if set(f.sources) & set(OPTIONAL):
                assert row[f.name] is None, (uscc, f.name)


# ------------------------------------------------------------------ left-censoring
def _months(since: str, month: str = MONTH) -> float:
    end = Window(month, config()).end_date
    return (end - d(since)).days / 30.4375


def _old_firms() -> dict[str, list[dict[str, Any]]]:
    """E1 established 2009, nothing on record; E2 the same with a change in 2025-01;
    E3 established after the records start; E4 established 2009, a report in 2024."""
    return {
        "enterprises": [
            {"uscc": "E1", "established_date": d("2009-05-01")},
            {"uscc": "E2", "established_date": d("2009-05-01")},
            {"uscc": "E3", "established_date": d("2025-01-15")},
            {"uscc": "E4", "established_date": d("2009-05-01")},
        ],
        "changes": [{"uscc": "E2", "change_kind": "name", "change_date": d("2025-01-01")}],
        "annual_reports": [
            {
                "uscc": "E4",
                "report_year": 2023,
                "submitted_date": d("2024-04-01"),
                "revenue": 1.0,
                "total_assets": 1.0,
                "tax_paid": 1.0,
                "employees": 1,
            }
        ],
    }


COVERAGE = {"annual_reports": d("2023-11-01"), "changes": d("2023-11-01")}


def test_months_since_activity_is_capped_at_the_start_of_the_records(tmp_path: Path) -> None:
    """A firm established in 2009 with no records since coverage began in 2023-11 has had no
    activity for *at least* the months since 2023-11, not for 200 months."""
    folder = write(tmp_path, _old_firms())
    plain = build(folder)
    censored = build(folder, coverage=COVERAGE)
    # uncensored, the months since 2009 are capped at 36 ("36 or more": issue 19; longer
    # would only measure how far the records reach back)
    assert _months("2009-05-01") > 200
    assert plain["E1"]["months_since_activity"] == pytest.approx(36.0)
    assert censored["E1"]["months_since_activity"] == pytest.approx(_months("2023-11-01"))
    # activity on record, or an establishment after the records start: unchanged
    for uscc, since in (("E2", "2025-01-01"), ("E3", "2025-01-15"), ("E4", "2024-04-01")):
        assert censored[uscc]["months_since_activity"] == pytest.approx(_months(since)), uscc
        assert censored[uscc]["months_since_activity"] == plain[uscc]["months_since_activity"]
    # one table censored later than the other: the later start bounds what is known
    later = build(folder, coverage={"annual_reports": d("2024-06-01")})
    assert later["E1"]["months_since_activity"] == pytest.approx(_months("2024-06-01"))
    assert later["E4"]["months_since_activity"] == pytest.approx(_months("2024-06-01"))
    # a month end before the records start: nothing is known yet
    early = build(folder, month="2023-09", coverage=COVERAGE)
    assert early["E1"]["months_since_activity"] is None


def test_years_before_the_records_start_are_not_counted_as_missing_reports(
    tmp_path: Path,
) -> None:
    """Reports filed from 2024-03 on are on record: report year 2023 (filed Jan-Jun 2024)
    may have been filed before, so only 2024 and 2025 count as missing in 2026-10, and in
    2025-05 (latest due year 2023) nothing can be said."""
    folder = write(tmp_path, _old_firms())
    coverage = {"annual_reports": d("2024-03-01")}
    assert Window(MONTH, config(), coverage=coverage_pairs(coverage)).first_report_year == 2024
    plain, censored = build(folder), build(folder, coverage=coverage)
    assert plain["E1"]["ar_missing_years"] == 3
    assert censored["E1"]["ar_missing_years"] == 2
    assert censored["E1"]["ar_last_due_missing"] == plain["E1"]["ar_last_due_missing"] == 1
    early = build(folder, month="2025-05", coverage=coverage)
    assert early["E1"]["ar_missing_years"] is None
    assert early["E1"]["ar_last_due_missing"] is None
    assert build(folder, month="2025-05")["E1"]["ar_missing_years"] == 3


def test_dormancy_needs_the_whole_window_on_record(tmp_path: Path) -> None:
    """Dormant means no change for 24 months: with change records from 2025-06 only, a firm
    without any is not known to be dormant; one with a change in the window is known not."""
    folder = write(tmp_path, _old_firms())
    plain = build(folder)
    censored = build(folder, coverage={"changes": d("2025-06-01")})
    assert plain["E1"]["dormant"] == 1
    assert censored["E1"]["dormant"] is None
    assert plain["E2"]["dormant"] == censored["E2"]["dormant"] == 0  # changed in 2025-01
    covered = build(folder, coverage={"changes": d("2024-06-01")})  # before the window
    assert covered["E1"]["dormant"] == 1


def test_a_censored_window_stays_hashable_and_portable() -> None:
    cfg = config()
    w = Window(MONTH, cfg, frozenset(TABLES), coverage_pairs(COVERAGE))
    # frozen, and the coverage a hashable value (the config's own dicts are not hashable)
    assert w == Window(MONTH, cfg, frozenset(TABLES), coverage_pairs(dict(COVERAGE)))
    assert hash(w.coverage) == hash(coverage_pairs(dict(reversed(COVERAGE.items()))))
    with pytest.raises(dataclasses.FrozenInstanceError):
        w.coverage = ()  # type: ignore[misc]
    assert w.first_covered("changes") == d("2023-11-01") and w.first_covered("social") is None
    sql = [population(w), *(b.sql(w) for b in BLOCKS), *(feature_sql(f, w) for f in CATALOG)]
    for text in sql:
        text = re.sub(r"replace\(p\.sector_tags", "", text)
        for pattern in FORBIDDEN:
            assert not re.search(pattern, text, flags=re.IGNORECASE), pattern
    # the fingerprint renders the blocks for 2000-01, uncensored: coverage (data) never
    # enters it, only the definitions (the templates name coverage, not its dates)
    assert re.fullmatch(r"[0-9a-f]{16}", catalog_fingerprint(cfg))
    assert "{w.covered_from[changes]}" in BY_NAME["months_since_activity"].sql


def test_the_features_stage_reads_coverage_from_availability_json(tmp_path: Path) -> None:
    folder = write(tmp_path / "interim", _old_firms())
    coverage = {t: {"first": v.isoformat(), "last": "2026-10-31"} for t, v in COVERAGE.items()}
    (folder / "availability.json").write_text(
        json.dumps({"unavailable": {}, "absent": [], "groups_lacking": {}, "coverage": coverage}),
        encoding="utf-8",
    )
    assert table_coverage(folder) == COVERAGE
    assert table_coverage(tmp_path) == {}  # no availability.json: not censored
    out = tmp_path / "features"
    run_features(config(), folder, out, [MONTH])
    t = pq.read_table(out / f"{MONTH}.parquet")
    rows = {r["uscc"]: r for r in t.to_pylist()}
    assert rows["E1"]["months_since_activity"] == pytest.approx(_months("2023-11-01"))
    meta = t.schema.metadata or {}
    assert json.loads(meta[b"riskclass.coverage"]) == {k: v["first"] for k, v in coverage.items()}
