"""The raw-data contract is coherent and executable in DuckDB (its generated docs:
`tests/pipelines/test_contract_docs.py`)."""

from __future__ import annotations

import duckdb
import pytest

from contract.tables import EXTERNAL_VOCABULARIES, GROUPS, TABLES, VOCABULARIES, table, vocabulary

_SQL_TYPE = {
    "string": "VARCHAR",
    "int": "BIGINT",
    "float": "DOUBLE",
    "date": "DATE",
    "bool": "BOOLEAN",
}

REQUIRED_TABLES = {
    "enterprises",
    "annual_reports",
    "changes",
    "licences",
    "pledges",
    "penalties",
    "abnormal_list",
    "serious_dishonest_list",
    "inspections",
    "product_sampling",
    "complaints",
    "judicial",
    "persons",
    "enterprise_links",
    "social",
}


def test_contract_has_every_table_the_bureau_provides() -> None:
    assert set(TABLES) >= REQUIRED_TABLES


@pytest.mark.parametrize("name", list(TABLES))
def test_table_is_keyed_by_uscc_and_dated(name: str) -> None:
    t = TABLES[name]
    assert t.group in GROUPS
    uscc = t.column("uscc")
    assert uscc.is_uscc and uscc.dtype == "string" and not uscc.nullable
    assert len(set(t.column_names)) == len(t.column_names), "duplicate column names"
    for key in t.natural_key:
        assert key in t.column_names
    if name != "enterprises":
        assert t.event_date and t.column(t.event_date).dtype == "date"
        assert not t.column(t.event_date).nullable
        assert t.received_date == "received_date"
        assert t.column("received_date").dtype == "date"
        assert t.column("uscc").references == "enterprises"


@pytest.mark.parametrize("name", list(TABLES))
def test_vocabularies_exist_and_are_bilingual(name: str) -> None:
    for col in TABLES[name].columns:
        assert col.zh and col.en
        if col.vocabulary:
            assert col.vocabulary in VOCABULARIES or col.vocabulary in EXTERNAL_VOCABULARIES
    for codes in VOCABULARIES.values():
        for code, (zh, en) in codes.items():
            assert code.isascii() and zh and en


@pytest.mark.parametrize("name", [n for n in TABLES if TABLES[n].checks])
def test_row_rules_are_valid_duckdb_sql(name: str) -> None:
    t = TABLES[name]
    con = duckdb.connect()
    cols = ", ".join(f'"{c.name}" {_SQL_TYPE[c.dtype]}' for c in t.columns)
    con.execute(f"CREATE TABLE t ({cols})")
    for chk in t.checks:
        con.execute(f"SELECT count(*) FROM t WHERE NOT ({chk.sql})").fetchone()


def test_unknown_names_get_clear_errors() -> None:
    with pytest.raises(KeyError, match="'penalty' is not a contract table"):
        table("penalty")
    with pytest.raises(KeyError, match="not a vocabulary"):
        vocabulary("colour")
