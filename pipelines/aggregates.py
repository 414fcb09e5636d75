"""Simple per-enterprise aggregates of the delivered tables: the plain baseline's inputs.

What a data scientist computes in ten minutes from the ingested folder
(``data/interim``, read through `pipelines.store`), point in time, with no domain
logic. For each label row (``uscc``, ``feature_month``), over the records whose event date
and received date (`contract.tables.Table.event_date`, ``received_date``) are both on or
before the feature month's end:

- every delivered event table: the record count; for each numeric column (integer, float,
  boolean as 0/1, the intake's pass-through ``x_*`` columns included) the mean, min, max, sum
  and the latest value (by event date, then received date); for each text column with at most
  `LOW_CARDINALITY` distinct values over the whole table, the count of each value;
- the generic long ``indicators`` table, pivoted per indicator code (the `MAX_INDICATORS`
  most frequent): the latest value, the mean and the count;
- the registry (``enterprises``): its passthrough numbers, its categoricals (entity type, legal
  form, the 2-digit industry, the division) and the age in years at the month end (when
  ``established_date`` exists); not its capital or employees, which are today's values of
  things that changed over time (the catalog rebuilds capital at the month end instead).

Columns a record gets after its own date (`FILLED_LATER`: a list's removal reason, a
complaint's verdict) are never read; "latest" orders by event date, received date, then the
record's natural key (report year ...), never by the value alone.

The columns depend on what was delivered: `plan` decides them from a folder (an `AggregateSpec`,
stored with the plain model so that verification computes the same ones) and `compute`
computes them with DuckDB, one query per table over all label rows and feature months at
once. Lineage columns (``_source_file`` ...) are never aggregated; a column that holds only
NULL, an id that is not a USCC, a registry of ids alone and a table missing at scoring time
all work (a missing table's columns are NaN). Sums and means use DuckDB's compensated
summation (``fsum``, ``favg``), so the figures do not depend on the thread count.

Shared by `pipelines.train` (fits the plain GBM) and `pipelines.verify` (rescores it).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from contract.tables import TABLES
from pipelines import store

#: A text column is counted per value when it holds at most this many distinct values.
LOW_CARDINALITY = 12
#: The indicator codes pivoted, the most frequent first (ties by code).
MAX_INDICATORS = 200
#: The registry's categoricals: output name -> SQL over the registry's columns (and the column
#: it needs).
REGISTRY_CATEGORICALS: dict[str, tuple[str, str]] = {
    "entity_type": ("entity_type", "CAST(entity_type AS VARCHAR)"),
    "legal_form": ("legal_form", "CAST(legal_form AS VARCHAR)"),
    "industry2": ("industry_code", "substr(CAST(industry_code AS VARCHAR), 1, 2)"),
    "division": ("division_code", "CAST(division_code AS VARCHAR)"),
}
NUMERIC = re.compile(
    r"^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|UHUGEINT"
    r"|FLOAT|DOUBLE|REAL|DECIMAL.*|BOOLEAN)$"
)
TEXT = re.compile(r"^VARCHAR$")
NUMERIC_STATS = ("mean", "min", "max", "sum", "last")


@dataclass(frozen=True)
class TableSpec:
    """One event table's aggregates: its date columns, numeric columns, and the text columns
    counted per value (column, its values)."""

    table: str
    event: str
    received: str
    numeric: tuple[str, ...]
    categorical: tuple[tuple[str, tuple[str, ...]], ...]

    def columns(self) -> list[str]:
        out = [name(self.table, "n")]
        for c in self.numeric:
            out += [name(self.table, c, s) for s in NUMERIC_STATS]
        for c, values in self.categorical:
            out += [value_name(self.table, c, k, v) for k, v in enumerate(values)]
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "table": self.table,
            "event": self.event,
            "received": self.received,
            "numeric": list(self.numeric),
            "categorical": [[c, list(v)] for c, v in self.categorical],
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TableSpec:
        return cls(
            d["table"],
            d["event"],
            d["received"],
            tuple(d["numeric"]),
            tuple((c, tuple(v)) for c, v in d["categorical"]),
        )


@dataclass(frozen=True)
class AggregateSpec:
    """Which aggregates a folder gives (`plan`), and so which columns `compute` returns."""

    tables: tuple[TableSpec, ...] = ()
    indicators: tuple[str, ...] = ()  # the codes pivoted
    registry_numeric: tuple[str, ...] = ()
    registry_categorical: tuple[str, ...] = ()  # keys of REGISTRY_CATEGORICALS
    registry_age: bool = False

    def indicator_columns(self) -> list[str]:
        return [
            name("indicators", f"{k:03d}_{_slug(code)}", s)
            for k, code in enumerate(self.indicators)
            for s in ("last", "mean", "n")
        ]

    def registry_columns(self) -> list[str]:
        out = [name("registry", c) for c in self.registry_numeric]
        out += self.categorical_columns()
        return out + ([name("registry", "age_years")] if self.registry_age else [])

    def categorical_columns(self) -> list[str]:
        """The registry's categoricals (text: the plain GBM level-codes them)."""
        return [name("registry", c) for c in self.registry_categorical]

    def count_columns(self) -> list[str]:
        """Counts: 0, not missing, for an enterprise without records in a delivered table."""
        out = [name(t.table, "n") for t in self.tables]
        for t in self.tables:
            out += [
                value_name(t.table, c, k, v) for c, vs in t.categorical for k, v in enumerate(vs)
            ]
        return out + [c for c in self.indicator_columns() if c.endswith("__n")]

    def columns(self) -> list[str]:
        """Every output column, in order."""
        out = [c for t in self.tables for c in t.columns()]
        return out + self.indicator_columns() + self.registry_columns()

    def to_dict(self) -> dict[str, Any]:
        return {
            "tables": [t.to_dict() for t in self.tables],
            "indicators": list(self.indicators),
            "registry_numeric": list(self.registry_numeric),
            "registry_categorical": list(self.registry_categorical),
            "registry_age": self.registry_age,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> AggregateSpec:
        return cls(
            tuple(TableSpec.from_dict(t) for t in d["tables"]),
            tuple(d["indicators"]),
            tuple(d["registry_numeric"]),
            tuple(d["registry_categorical"]),
            bool(d["registry_age"]),
        )


# ------------------------------------------------------------------ names
def _slug(text: str) -> str:
    """``text`` as a safe column-name part: ASCII letters, digits and ``_``; a text that had to
    change keeps a short hash of itself, so that two values never share a name.

    >>> _slug("x_revenue"), _slug("A"), _slug("食品")
    ('x_revenue', 'A', 'h_6840b7e0')
    """
    s = re.sub(r"[^0-9A-Za-z_]+", "_", str(text)).strip("_")[:40]
    if s == str(text):
        return s
    digest = hashlib.sha256(str(text).encode("utf-8")).hexdigest()[:8]
    return f"{s}_{digest}" if s else f"h_{digest}"


def name(*parts: str) -> str:
    """An output column: its parts joined by ``__``."""
    return "__".join(_slug(p) for p in parts)


def value_name(table: str, column: str, k: int, value: str) -> str:
    """The count of ``value`` (the ``k``-th of the column's values) in ``table.column``."""
    return name(table, column, f"eq{k:02d}_{_slug(value)}")


def _q(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


# ------------------------------------------------------------------ plan
def _connect(threads: int) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute(f"SET threads = {int(threads)}")
    return con


def _source(interim: Path, table: str) -> str | None:
    snap = store.open_table(interim, table)
    return snap.sql() if snap is not None else None


def _columns(con: duckdb.DuckDBPyConnection, source: str) -> dict[str, str]:
    """Column -> DuckDB type, lineage columns (``_...``) left out."""
    rows = con.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()
    return {str(r[0]): str(r[1]) for r in rows if not str(r[0]).startswith("_")}


def _low_cardinality(
    con: duckdb.DuckDBPyConnection, source: str, text: list[str]
) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """The text columns with 1 .. LOW_CARDINALITY distinct values, with their values sorted."""
    if not text:
        return ()
    counts = con.execute(
        "SELECT " + ", ".join(f"count(DISTINCT {_q(c)})" for c in text) + f" FROM {source}"
    ).fetchall()[0]
    out = []
    for c, n in zip(text, counts, strict=True):
        if 1 <= int(n) <= LOW_CARDINALITY:
            values = con.execute(
                f"SELECT DISTINCT {_q(c)} FROM {source} WHERE {_q(c)} IS NOT NULL ORDER BY 1"
            ).fetchall()
            out.append((c, tuple(str(v[0]) for v in values)))
    return tuple(out)


#: Columns filled in after the record's own date (a removal from a list, a complaint's verdict):
#: their value at an earlier month end is not known from the record, so they are never read
#: (date columns, such as removed_date or closed_date, are never aggregated anyway).
FILLED_LATER = frozenset({"removal_reason", "substantiated"})


def plan(interim: Path, threads: int = 1) -> AggregateSpec:
    """The aggregates the ingested folder ``interim`` gives (see the module doc)."""
    con = _connect(threads)
    tables = []
    for t in TABLES.values():
        if t.name in ("indicators", "enterprises") or t.event_date is None:
            continue
        source = _source(interim, t.name)
        if source is None or t.received_date is None:
            continue
        cols = _columns(con, source)
        if not {"uscc", t.event_date, t.received_date} <= set(cols):
            continue
        rest = [
            c
            for c in cols
            if c not in ("uscc", t.event_date, t.received_date) and c not in FILLED_LATER
        ]
        numeric = tuple(c for c in rest if NUMERIC.match(cols[c]))
        text = [c for c in rest if TEXT.match(cols[c])]
        tables.append(
            TableSpec(
                t.name,
                t.event_date,
                t.received_date,
                numeric,
                _low_cardinality(con, source, text),
            )
        )
    indicators: tuple[str, ...] = ()
    source = _source(interim, "indicators")
    if source is not None and {"uscc", "indicator", "indicator_date", "received_date"} <= set(
        _columns(con, source)
    ):
        rows = con.execute(
            f"SELECT CAST(indicator AS VARCHAR) AS code, count(*) AS n FROM {source} "
            "WHERE indicator IS NOT NULL GROUP BY 1 ORDER BY n DESC, code "
            f"LIMIT {MAX_INDICATORS}"
        ).fetchall()
        indicators = tuple(str(r[0]) for r in rows)
    reg_numeric: tuple[str, ...] = ()
    reg_categorical: tuple[str, ...] = ()
    age = False
    source = _source(interim, "enterprises")
    if source is not None:
        cols = _columns(con, source)
        if "uscc" in cols:
            # amounts of today's registry (capital, employees) changed over time: only its
            # passthrough numbers, which the registry delivers as fixed facts, are read
            reg_numeric = tuple(c for c in cols if c.startswith("x_") and NUMERIC.match(cols[c]))
            reg_categorical = tuple(k for k, (c, _) in REGISTRY_CATEGORICALS.items() if c in cols)
            age = cols.get("established_date", "").startswith(("DATE", "TIMESTAMP"))
    con.close()
    return AggregateSpec(tuple(tables), indicators, reg_numeric, reg_categorical, age)


# ------------------------------------------------------------------ compute
_KEYS = "uscc, feature_month"
_MONTH_END = "last_day(CAST(k.feature_month || '-01' AS DATE))"


def _ties(t: TableSpec) -> str:
    """The record key after the dates in "latest" (an export that stamps every annual report
    with one date still gives the latest report year, never the largest value)."""
    keys = [c for c in TABLES[t.table].natural_key if c not in ("uscc", t.event, t.received)]
    return "".join(f", 'k{i}': e.{_q(c)}" for i, c in enumerate(keys))


def _table_sql(t: TableSpec, source: str) -> str:
    e, r = f"e.{_q(t.event)}", f"e.{_q(t.received)}"
    aggs = [f"count(*) AS {_q(name(t.table, 'n'))}"]
    for c in t.numeric:
        v = f"CAST(e.{_q(c)} AS DOUBLE)"
        # NULL values skipped
        latest = f"arg_max({v}, {{'d': {e}, 'r': {r}{_ties(t)}, 'v': {v}}})"
        for stat, sql in zip(
            NUMERIC_STATS,
            (f"favg({v})", f"min({v})", f"max({v})", f"fsum({v})", latest),
            strict=True,
        ):
            aggs.append(f"{sql} AS {_q(name(t.table, c, stat))}")
    for c, values in t.categorical:
        col = f"CAST(e.{_q(c)} AS VARCHAR)"
        for k, v in enumerate(values):
            aggs.append(
                f"count(*) FILTER (WHERE {col} = {_lit(v)}) AS {_q(value_name(t.table, c, k, v))}"
            )
    return (
        f"SELECT k.uscc, k.feature_month, {', '.join(aggs)} "
        f"FROM keys k JOIN {source} e ON CAST(e.uscc AS VARCHAR) = k.uscc "
        f"WHERE {e} <= {_MONTH_END} AND {r} <= {_MONTH_END} "
        f"GROUP BY k.uscc, k.feature_month"
    )


def _indicators_sql(codes: tuple[str, ...], source: str) -> str:
    e = "e.indicator_date"
    v = "CAST(e.value AS DOUBLE)"
    latest = f"arg_max({v}, {{'d': {e}, 'r': e.received_date, 'v': {v}}})"
    wanted = ", ".join(_lit(c) for c in codes)
    return (
        f"SELECT k.uscc, k.feature_month, CAST(e.indicator AS VARCHAR) AS code, {latest} AS last, "
        f"favg({v}) AS mean, count(*) AS n "
        f"FROM keys k JOIN {source} e ON CAST(e.uscc AS VARCHAR) = k.uscc "
        f"WHERE CAST(e.indicator AS VARCHAR) IN ({wanted}) "
        f"AND {e} <= {_MONTH_END} AND e.received_date <= {_MONTH_END} "
        f"GROUP BY k.uscc, k.feature_month, code"
    )


def _registry_sql(spec: AggregateSpec, source: str) -> str:
    inner = [
        f"min(CAST({_q(c)} AS DOUBLE)) AS {_q(name('registry', c))}" for c in spec.registry_numeric
    ]
    outer = [f"r.{_q(name('registry', c))}" for c in spec.registry_numeric]
    for key in spec.registry_categorical:
        alias = _q(name("registry", key))
        inner.append(f"min({REGISTRY_CATEGORICALS[key][1]}) AS {alias}")
        outer.append(f"r.{alias}")
    if spec.registry_age:
        inner.append("min(CAST(established_date AS DATE)) AS established")
        outer.append(
            f"date_diff('day', r.established, {_MONTH_END}) / 365.25 "
            f"AS {_q(name('registry', 'age_years'))}"
        )
    registry = f"SELECT CAST(uscc AS VARCHAR) AS uscc, {', '.join(inner)} FROM {source} GROUP BY 1"
    return (
        f"SELECT k.uscc, k.feature_month, {', '.join(outer)} "
        f"FROM keys k JOIN ({registry}) r ON r.uscc = k.uscc"
    )


def _parts(
    con: duckdb.DuckDBPyConnection, interim: Path, spec: AggregateSpec
) -> Iterator[pd.DataFrame]:
    """One frame per table, indexed by (uscc, feature_month); tables missing now are skipped."""
    for t in spec.tables:
        source = _source(interim, t.table)
        if source is not None:
            yield con.execute(_table_sql(t, source)).df().set_index(["uscc", "feature_month"])
    source = _source(interim, "indicators")
    if spec.indicators and source is not None:
        long = con.execute(_indicators_sql(spec.indicators, source)).df()
        names = dict(zip(spec.indicators, range(len(spec.indicators)), strict=True))
        wide = long.pivot_table(  # one row per key and code: "first" is that row
            index=["uscc", "feature_month"],
            columns="code",
            values=["last", "mean", "n"],
            aggfunc="first",
            dropna=True,
        )
        cols = {}
        for (stat, code), values in wide.items():
            k = names[str(code)]
            cols[name("indicators", f"{k:03d}_{_slug(str(code))}", str(stat))] = values
        yield pd.DataFrame(cols, index=wide.index)
    source = _source(interim, "enterprises")
    if spec.registry_columns() and source is not None:
        yield con.execute(_registry_sql(spec, source)).df().set_index(["uscc", "feature_month"])


def delivered(interim: Path, spec: AggregateSpec) -> bool:
    """Does ``interim`` hold any of the tables ``spec`` aggregates? (None: every column would
    be missing, and a model scored on nothing says nothing.)"""
    names = [t.table for t in spec.tables]
    names += ["indicators"] if spec.indicators else []
    names += ["enterprises"] if spec.registry_columns() else []
    return any(_source(interim, n) is not None for n in names)


def compute(
    interim: Path, rows: pd.DataFrame, spec: AggregateSpec, threads: int = 1
) -> pd.DataFrame:
    """The aggregates ``spec`` names for each of ``rows`` (columns ``uscc`` and
    ``feature_month``, YYYY-MM), in the order of ``rows`` and with its index: one column per
    `AggregateSpec.columns`, numbers as float64 (counts 0 where a delivered table has no
    record), the registry's categoricals as text (missing: None)."""
    keys = (
        pd.DataFrame(
            {
                "uscc": rows["uscc"].astype("string").astype(object),
                "feature_month": rows["feature_month"].astype("string").astype(object),
            }
        )
        .drop_duplicates()
        .reset_index(drop=True)
    )
    con = _connect(threads)
    con.register("keys", keys)
    wide = pd.DataFrame(index=pd.MultiIndex.from_frame(keys))
    for part in _parts(con, interim, spec):
        wide = wide.join(part, how="left")
    con.close()
    present = {t.table for t in spec.tables if _source(interim, t.table) is not None}
    have_indicators = _source(interim, "indicators") is not None
    counted = [
        c
        for c in spec.count_columns()
        if c.split("__", 1)[0] in present or (have_indicators and c.startswith("indicators__"))
    ]
    categorical = set(spec.categorical_columns())
    out: dict[str, Any] = {}
    for c in spec.columns():
        if c not in wide.columns:
            values = pd.Series(np.nan, index=wide.index, dtype="float64")
        else:
            values = wide[c]
        if c in categorical:
            out[c] = values.astype(object).where(values.notna(), None)
        else:
            v = pd.to_numeric(values, errors="coerce").astype("float64")
            out[c] = v.fillna(0.0) if c in counted else v
    frame = pd.DataFrame(out, index=wide.index)
    look = pd.MultiIndex.from_arrays(
        [
            rows["uscc"].astype("string").astype(object).to_numpy(),
            rows["feature_month"].astype("string").astype(object).to_numpy(),
        ]
    )
    result = frame.reindex(look)
    result.index = rows.index
    return result
