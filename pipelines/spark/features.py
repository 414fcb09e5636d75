"""The feature SQL on Spark: the same catalog, blocks and final SELECT as the DuckDB path.

What a month runs is `features.engine.month_plan` (the ``pit_`` views, the population ``pop``,
the blocks in dependency order, the final SELECT sorted by ``uscc``), exactly the statements
DuckDB runs; only the dialect is translated, statement by statement, by sqlglot
(`to_spark`), with two rewrites on the parsed tree where the engines differ in meaning rather
than in spelling:

* ``days_between(a, b)`` (the definitions' one macro, `features.engine.define_macros`)
  becomes ``datediff(CAST(b AS DATE), CAST(a AS DATE))``;
* a decimal literal (``365.25``, ``1.0``) becomes a DOUBLE. DuckDB divides a DECIMAL in
  DOUBLE, but Spark keeps DECIMAL arithmetic with as few as 6 digits after the point
  (``days / 365.25`` would be off by up to 5e-7); every feature is a DOUBLE in the end anyway.

sqlglot already spells out DuckDB's ``NULLS LAST`` for ascending sorts (Spark sorts NULL
first), which the ``ROW_NUMBER()`` picks of the definitions depend on. The definitions
themselves (``features/*``) needed no change.

The result is written the way `pipelines.features._write_month` writes DuckDB's: one Parquet
file per month, by one `pyarrow.parquet.ParquetWriter`. Spark writes the sorted result as
part files (one per range partition, in ``uscc`` order) into a scratch folder, and
`month_batches` streams them back batch by batch, in partition order: the driver never holds
more than one batch, the executors write in parallel (a cluster's executors need the scratch
folder on a file system they share with the driver), and the file on disk is byte-for-byte
the kind the DuckDB path writes (same schema, metadata and writer options).
``toLocalIterator`` would also stream, but through Python ``Row`` objects, one at a time.
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import sqlglot
from sqlglot import exp

from features.base import population
from features.catalog import Feature
from features.config import FeaturesConfig
from features.definitions import BLOCKS, CATALOG
from features.derived import DerivedSpec, derive
from features.engine import SQL_TYPES, FeatureError, month_plan
from pipelines.store import PARTITION, TableSnapshot

#: The Arrow type of each SQL type the final SELECT casts to (what DuckDB hands back).
ARROW_TYPES: Mapping[str, pa.DataType] = {
    "DOUBLE": pa.float64(),
    "VARCHAR": pa.string(),
    "DATE": pa.date32(),
}

_PART = re.compile(r"^part-(\d+)-.*\.parquet$")


def _rewrite(node: exp.Expression) -> exp.Expression:
    """The two rewrites where DuckDB and Spark differ in meaning (see the module docstring)."""
    if isinstance(node, exp.Anonymous) and str(node.name).lower() == "days_between":
        a, b = node.expressions
        return exp.Anonymous(
            this="datediff",
            expressions=[exp.cast(b.copy(), "DATE"), exp.cast(a.copy(), "DATE")],
        )
    if isinstance(node, exp.Literal) and not node.is_string and not node.this.isdigit():
        return exp.cast(node.copy(), "DOUBLE")
    return node


@lru_cache(maxsize=1024)
def to_spark(sql: str) -> str:
    """One statement of the feature SQL (DuckDB dialect) in Spark SQL.

    >>> to_spark("SELECT days_between(p.d, DATE '2026-10-31') / 365.25 AS age FROM pop p")
    "SELECT DATEDIFF(CAST('2026-10-31' AS DATE), CAST(p.d AS DATE)) / CAST(365.25 AS DOUBLE) AS age FROM pop AS p"
    """
    tree = sqlglot.parse_one(sql, read="duckdb")
    return tree.transform(_rewrite).sql(dialect="spark")


def output_schema(catalog: Iterable[Feature]) -> pa.Schema:
    """The schema of a feature file: ``uscc`` then every catalog column, typed as the final
    SELECT casts it (`features.engine.SQL_TYPES`)."""
    fields = [pa.field("uscc", pa.string())]
    fields += [pa.field(f.name, ARROW_TYPES[SQL_TYPES[f.kind]]) for f in catalog]
    return pa.schema(fields)


def register_sources(spark: Any, snapshots: Mapping[str, TableSnapshot]) -> None:
    """A temporary view ``raw_<table>`` over each snapshot's Parquet files (their union by
    column name, as DuckDB's ``union_by_name``: a file written before a column existed has
    NULL there); a snapshot without files is an empty frame of its schema. The required-table
    checks are `pipelines.features.register_sources`' (run before this)."""
    for name, snap in snapshots.items():
        if not snap.files:
            frame = spark.createDataFrame(snap.schema().empty_table())
        else:
            reader = spark.read
            if len(snap.files) > 1:
                reader = reader.option("mergeSchema", "true")
            frame = reader.parquet(*snap.files)
            # the partition column lives in the path; DuckDB's view reads without it too
            if PARTITION in frame.columns:
                frame = frame.drop(PARTITION)
        frame.createOrReplaceTempView(f"raw_{name}")


def _checkpoint(spark: Any, view: str, sql: str, folder: Path, spread: bool = False) -> None:
    """``sql`` computed once, written as Parquet under ``folder`` and read back as the
    temporary view ``view`` (DuckDB's ``TEMP TABLE``): the population and the blocks are each
    read by several later statements and must not be recomputed by each.

    Why files rather than ``persist``: a cached frame keeps its whole lineage, so the final
    SELECT over ~20 cached blocks was a plan of several MB that Spark re-analysed and
    re-printed at every adaptive step, and each ``persist`` was computed lazily inside the
    next query that read it. A file cuts the lineage (the final plan reads ~20 small scans),
    is computed here, eagerly, one statement at a time, gives the optimiser real sizes for
    its broadcast joins, and, unlike ``localCheckpoint``, survives the loss of an executor on a
    cluster (``folder`` is on the scratch file system the part files already need).
    ``spread``: as many files as the session has cores, so that the statements driven by this
    view (the population: every block and the final join) run in that many tasks, not one.
    """
    frame = spark.sql(to_spark(sql))
    if spread:
        frame = frame.repartition(max(1, int(spark.sparkContext.defaultParallelism)), "uscc")
    path = str(folder / view)
    frame.write.mode("overwrite").parquet(path)
    spark.read.parquet(path).createOrReplaceTempView(view)


def _parts(folder: Path) -> list[Path]:
    """Spark's part files in partition order (the order of a global sort)."""
    found = [(int(m.group(1)), p) for p in folder.iterdir() if (m := _PART.match(p.name))]
    return [p for _, p in sorted(found)]


def _stream(parts: list[Path], schema: pa.Schema, batch_rows: int) -> Iterator[pa.RecordBatch]:
    """The part files' rows as batches of ``schema``; refuses parts out of ``uscc`` order
    (a sort that did not hold across partitions would silently break the file's order)."""
    last: str | None = None
    for part in parts:
        for batch in pq.ParquetFile(part).iter_batches(batch_size=batch_rows):
            if batch.num_rows == 0:
                continue
            out = pa.RecordBatch.from_arrays(
                [batch.column(n).cast(f.type) for n, f in zip(schema.names, schema, strict=True)],
                schema=schema,
            )
            first = out.column(0)[0].as_py()
            if last is not None and first <= last:
                raise FeatureError(
                    f"features (spark): part {part.name} starts at a uscc not after the previous "
                    "part's last [rule: sorted by uscc]"
                )
            last = out.column(0)[out.num_rows - 1].as_py()
            yield out


@contextmanager
def month_batches(
    spark: Any,
    month: str,
    cfg: FeaturesConfig,
    tables: Iterable[str],
    scratch: Path,
    derived: DerivedSpec | None = None,
    coverage: Mapping[str, dt.date] | None = None,
    cutoff: dt.date | None = None,
    batch_rows: int = 200_000,
) -> Iterator[pa.RecordBatchReader]:
    """Every feature of every enterprise of ``month``'s population on Spark, sorted by
    ``uscc``, as a stream of record batches with the DuckDB path's schema
    (`features.definitions.month_batches` on DuckDB). The ``raw_<table>`` views must exist
    (`register_sources`); ``scratch`` is a folder for Spark's part files (removed after)."""
    extra, derived_blocks = derive(derived) if derived else ((), ())
    catalog = CATALOG + extra
    plan = month_plan(
        month, cfg, tables, catalog, BLOCKS + derived_blocks, population, coverage, cutoff
    )
    schema = output_schema(catalog)
    views: list[str] = []
    parts = Path(scratch) / f"spark-{month}"
    blocks = Path(scratch) / f"spark-{month}-blocks"
    try:
        for view, select in plan.pit:
            spark.sql(to_spark(select)).createOrReplaceTempView(view)
            views.append(view)
        shutil.rmtree(blocks, ignore_errors=True)
        views.append("pop")
        _checkpoint(spark, "pop", plan.population, blocks, spread=True)
        for b, select in plan.blocks:
            views.append(f"blk_{b.alias}")
            _checkpoint(spark, f"blk_{b.alias}", select, blocks)
        shutil.rmtree(parts, ignore_errors=True)
        spark.sql(to_spark(plan.final)).write.mode("overwrite").parquet(str(parts))
        reader = pa.RecordBatchReader.from_batches(
            schema, _stream(_parts(parts), schema, batch_rows)
        )
        try:
            yield reader
        finally:
            reader.close()
    finally:
        for view in views:
            spark.catalog.dropTempView(view)
        shutil.rmtree(parts, ignore_errors=True)
        shutil.rmtree(blocks, ignore_errors=True)


def build_month(
    spark: Any,
    month: str,
    cfg: FeaturesConfig,
    tables: Iterable[str],
    scratch: Path,
    derived: DerivedSpec | None = None,
    coverage: Mapping[str, dt.date] | None = None,
    cutoff: dt.date | None = None,
) -> pa.Table:
    """`month_batches` as one table (tests, small provinces)."""
    with month_batches(spark, month, cfg, tables, scratch, derived, coverage, cutoff) as reader:
        return reader.read_all()
