"""Point-in-time feature computation: SQL definitions run by DuckDB over Parquet.

How a month is built (`build_month`):

1. the caller (`pipelines.features`) gives a connection where every delivered contract
   table is a relation ``raw_<table>`` (this module reads no files); every event table
   then gets a view ``pit_<table>``: its rows whose event date **and** received
   date are both on or before the month end (a record the bureau had not received yet
   cannot count, however early it happened);
2. ``pop`` is the month's population: enterprises established by the month end and not
   deregistered by then, with their address and registered capital as they were known at
   the month end (rebuilt from the change records, not read from today's registry);
3. every `Block` runs in dependency order into a temporary table keyed by ``uscc``;
4. one final SELECT left-joins the blocks to ``pop`` and evaluates each catalog feature's
   expression; counts with ``fill='zero'`` become 0 where an enterprise has no record,
   and every feature whose source table was not provided is NULL (NaN).

The SQL is kept to a portable subset so that the same definitions can run on Spark SQL:
ANSI joins, GROUP BY, CASE, COALESCE, ROW_NUMBER() OVER, DATE literals computed in Python,
``year()``, ``ln()``, ``greatest``/``least``, ``substr``, ``||``, ``TRY_CAST``, and one macro,
``days_between(a, b)`` (Spark: ``datediff(b, a)``). No DuckDB-only syntax (``::``, FILTER,
QUALIFY, list or struct functions); ``tests/features/test_portable.py`` enforces it.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import duckdb
import pyarrow as pa

from contract.months import month_end, parse_month
from contract.tables import TABLES
from features.catalog import Feature
from features.config import FeaturesConfig

SQL_TYPES = {"number": "DOUBLE", "flag": "DOUBLE", "category": "VARCHAR", "date": "DATE"}


def sql_date(d: dt.date) -> str:
    """A date as a portable SQL literal.

    >>> sql_date(dt.date(2026, 10, 31))
    "DATE '2026-10-31'"
    """
    return f"DATE '{d.isoformat()}'"


@dataclass(frozen=True)
class Window:
    """The month a feature set is computed for, and the dates its definitions need.

    >>> w = Window("2026-10", FeaturesConfig.model_construct(dormancy_months=12))
    >>> w.end, w.ago(3), w.dormancy_since
    ("DATE '2026-10-31'", "DATE '2026-07-31'", "DATE '2025-10-31'")
    """

    month: str
    cfg: FeaturesConfig
    tables: frozenset[str] = frozenset()

    @property
    def end_date(self) -> dt.date:
        """The month's last day."""
        return month_end(*parse_month(self.month))

    @property
    def end(self) -> str:
        """The month end as a SQL DATE literal (what definitions compare dates with)."""
        return sql_date(self.end_date)

    def ago(self, months: int) -> str:
        """The month end ``months`` months before ``end`` (a window (ago, end] is exact)."""
        y, m = parse_month(self.month)
        k = y * 12 + (m - 1) - months
        return sql_date(month_end(k // 12, k % 12 + 1))

    @property
    def dormancy_since(self) -> str:
        return self.ago(self.cfg.dormancy_months)

    def has(self, table: str) -> bool:
        return table in self.tables

    @property
    def last_due_year(self) -> int:
        """The latest report year whose annual report is past its deadline at ``end``."""
        cfg = self.cfg
        end = self.end_date
        deadline = dt.date(
            end.year, cfg.annual_report_deadline_month, cfg.annual_report_deadline_day
        )
        return end.year - 1 if end > deadline else end.year - 2

    def report_deadline(self, report_year: int) -> str:
        cfg = self.cfg
        return sql_date(
            dt.date(
                report_year + 1, cfg.annual_report_deadline_month, cfg.annual_report_deadline_day
            )
        )


@dataclass(frozen=True)
class Block:
    """An intermediate table keyed by ``uscc``, which feature expressions read as ``alias.col``.

    ``sql`` receives the `Window` and returns one SELECT over ``pop``, ``raw_*`` and
    ``pit_*`` views and the blocks named in ``needs``. ``sources`` are the contract tables
    it cannot run without (a block whose optional source is absent is skipped, and the
    features reading it are NaN); ``optional`` are tables it also reads when they were
    delivered (its SQL asks ``w.has(table)``). A block with ``joined=False`` is an
    intermediate that other blocks read (not keyed by ``uscc`` alone, or not read by any
    feature); it is never joined to the population.
    """

    alias: str
    sources: tuple[str, ...]
    sql: Callable[[Window], str]
    needs: tuple[str, ...] = field(default=())
    optional: tuple[str, ...] = field(default=())
    joined: bool = True


class FeatureError(ValueError):
    """The source data cannot give features (for example the registry is missing)."""


def _order(blocks: Iterable[Block]) -> list[Block]:
    """Blocks in an order where each comes after the blocks it needs."""
    pending = {b.alias: b for b in blocks}
    done: list[Block] = []
    names: set[str] = set()
    while pending:
        ready = [b for b in pending.values() if set(b.needs) <= names]
        if not ready:
            raise FeatureError(f"blocks depend on each other in a cycle: {sorted(pending)}")
        for b in ready:
            done.append(b)
            names.add(b.alias)
            del pending[b.alias]
    return done


def block_aliases(expr: str) -> set[str]:
    """The block aliases an expression reads (``pen.n_12m`` -> ``pen``); ``p`` is the
    population row, not a block.

    >>> sorted(block_aliases("COALESCE(pen.n_12m, 0) + abn.listed * p.revoked"))
    ['abn', 'pen']
    """
    return set(re.findall(r"\b([a-z][a-z0-9_]*)\.[a-z_]", expr)) - {"p"}


def define_macros(con: duckdb.DuckDBPyConnection) -> None:
    """The one non-ANSI helper the definitions use (Spark: ``datediff(b, a)``)."""
    con.execute(
        "CREATE OR REPLACE MACRO days_between(a, b) AS date_diff('day', CAST(a AS DATE), CAST(b AS DATE))"
    )


def _pit_views(con: duckdb.DuckDBPyConnection, w: Window) -> None:
    for name in w.tables:
        spec = TABLES[name]
        if spec.event_date is None:
            continue
        con.execute(
            f"CREATE OR REPLACE TEMP VIEW pit_{name} AS SELECT * FROM raw_{name} "
            f"WHERE {spec.event_date} <= {w.end} AND received_date <= {w.end}"
        )


def feature_sql(f: Feature, w: Window) -> str:
    """A feature's expression for one month (``{w.end}``, ``{w.cfg.<setting>}`` filled in)."""
    return f.sql.format(w=w)


def feature_select(catalog: tuple[Feature, ...], present_blocks: set[str], w: Window) -> str:
    """The final SELECT list: one expression per catalog feature, in catalog order."""
    cols = ["p.uscc AS uscc"]
    for f in catalog:
        sql_type = SQL_TYPES[f.kind]
        body = feature_sql(f, w)
        usable = all(w.has(t) for t in f.sources) and block_aliases(body) <= present_blocks
        if not usable:
            expr = "NULL"
        elif f.fill == "zero":
            expr = f"COALESCE({body}, 0)"
        else:
            expr = body
        cols.append(f"CAST({expr} AS {sql_type}) AS {f.name}")
    return ",\n  ".join(cols)


@contextmanager
def month_batches(
    con: duckdb.DuckDBPyConnection,
    month: str,
    cfg: FeaturesConfig,
    tables: Iterable[str],
    catalog: tuple[Feature, ...],
    blocks: Iterable[Block],
    population: Callable[[Window], str],
    batch_rows: int = 1_000_000,
) -> Iterator[pa.RecordBatchReader]:
    """Every feature of every enterprise of the population at the end of ``month``, sorted
    by ``uscc``, as a stream of record batches (memory stays bounded at province scale)."""
    w = Window(month, cfg, frozenset(tables))
    _pit_views(con, w)
    con.execute(f"CREATE OR REPLACE TEMP TABLE pop AS {population(w)}")
    present: set[str] = set()
    joins = []
    try:
        for b in _order(blocks):
            if not all(w.has(t) for t in b.sources) or not set(b.needs) <= present:
                continue
            con.execute(f"CREATE OR REPLACE TEMP TABLE blk_{b.alias} AS {b.sql(w)}")
            present.add(b.alias)
            if b.joined:
                joins.append(f"LEFT JOIN blk_{b.alias} {b.alias} ON {b.alias}.uscc = p.uscc")
        # sorting the projected rows is about twice as fast as ORDER BY over the joins
        query = (
            f"SELECT * FROM (SELECT {feature_select(catalog, present, w)}\nFROM pop p\n"
            + "\n".join(joins)
            + ") q ORDER BY uscc"
        )
        reader = con.sql(query).to_arrow_reader(batch_rows)
        try:
            yield reader
        finally:
            reader.close()
    finally:
        for alias in present:
            con.execute(f"DROP TABLE IF EXISTS blk_{alias}")
        con.execute("DROP TABLE IF EXISTS pop")


def build_month(
    con: duckdb.DuckDBPyConnection,
    month: str,
    cfg: FeaturesConfig,
    tables: Iterable[str],
    catalog: tuple[Feature, ...],
    blocks: Iterable[Block],
    population: Callable[[Window], str],
) -> pa.Table:
    """`month_batches` as one table (tests, small provinces)."""
    with month_batches(con, month, cfg, tables, catalog, blocks, population) as reader:
        return reader.read_all()
