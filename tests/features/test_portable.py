"""Feature SQL stays within a subset that Spark SQL also runs (see features/engine.py)."""

from __future__ import annotations

import re

import pytest

from contract.tables import TABLES
from features.base import population
from features.definitions import BLOCKS, CATALOG
from features.engine import Window, feature_sql
from tests.features.tiny import config

# DuckDB-only constructs, each with what to write instead
FORBIDDEN = {
    r"::": "CAST(x AS type)",
    r"\bFILTER\s*\(": "SUM(CASE WHEN ... THEN 1 ELSE 0 END)",
    r"\bQUALIFY\b": "ROW_NUMBER() in a subquery",
    r"\b(list_|struct_|array_|map_)\w*\(": "plain columns",
    r"\bILIKE\b": "LOWER(x) LIKE",
    r"\b(arg_max|arg_min|max_by|min_by)\s*\(": "ROW_NUMBER() in a subquery",
    r"\bdate_diff\s*\(|\bdatediff\s*\(": "days_between(a, b)",
    r"\bEXCLUDE\b|\bREPLACE\s*\(": "explicit column lists",
    r"\bINTERVAL\b": "DATE literals from Window.ago()",
    r"\bUSING\s*\(": "ON a.x = b.x",
    r"->": "plain columns",
}


def _all_sql() -> list[tuple[str, str]]:
    w = Window("2026-10", config(), frozenset(TABLES))
    out = [("population", population(w))]
    out += [(f"block {b.alias}", b.sql(w)) for b in BLOCKS]
    out += [(f"feature {f.name}", feature_sql(f, w)) for f in CATALOG]
    return out


@pytest.mark.parametrize(("where", "sql"), _all_sql(), ids=lambda x: x if len(x) < 40 else "")
def test_no_duckdb_only_syntax(where: str, sql: str) -> None:
    for pattern, instead in FORBIDDEN.items():
        # replace(a, b, c) on strings is portable; only SELECT * REPLACE (...) is not
        text = re.sub(r"replace\(p\.sector_tags", "", sql)
        assert not re.search(pattern, text, flags=re.IGNORECASE), (
            f"{where}: {pattern} -> use {instead}"
        )
