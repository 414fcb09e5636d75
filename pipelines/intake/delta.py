"""Writing a delivery into the interim store's Delta tables (`pipelines.store`).

A delivery's accepted rows are merged by natural key into ``<interim>/<table>/`` with
``DeltaTable.merge`` (delta-rs), keeping the semantics of the single-file merge it replaces:

* the later-received record of a key wins; on a tie (equal ``received_date``, or both
  unknown) the new delivery does; a record with a receipt date beats one without;
* NULL key parts compare equal (``IS NOT DISTINCT FROM``), as ``PARTITION BY`` did;
* columns an earlier delivery had and this one lacks (a registry export without its
  organisation codes, ``x_*``) keep their earlier values: the merge sets only the columns the
  delivery carries;
* the winning record replaces the earlier one with its lineage (the delivery that brought it
  last); only a record identical in every column, lineage included (the same delivery run
  again), is left as it is, so that a rerun rewrites no file.

What a delivery costs, in proportion to the delivery and not to the history:

* event tables are partitioned by ``_year`` (the event date's year, 0 when unknown). Where the
  natural key holds the event date (changes, pledges, listings, persons, links, annual
  reports...), the partition is a function of the key and ``t._year = s._year`` is part of the
  merge predicate: only the partitions of the delivery's years are read, and only files that
  hold a record the delivery changes are rewritten; new records are appended as new files;
* id-keyed tables (inspections, penalties, licences, samples, complaints, repairs, judicial):
  the delivery's keys are looked up in the key column alone (a columnar scan of one column,
  read, never rewritten); when none is found, as for a month's new records, the rows are
  appended; otherwise the merge is restricted to the partitions holding the keys found, and
  rewrites only the files holding them;
* the registry (``enterprises``, no event date, re-delivered whole every month) is rewritten
  each month (every record takes the new delivery's lineage): its cost follows the number of
  enterprises, not the months of history.

The counts the ingest report has always had (merged_new / merged_updated / merged_unchanged /
rows_total) are computed in DuckDB from the delivery and the earlier records it touches.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from contract.tables import Table
from pipelines import store
from pipelines.intake.rules import literal, quote
from pipelines.store import PARTITION, TableSnapshot


def partitioned(spec: Table) -> bool:
    """Event tables are partitioned by the event date's year."""
    return spec.event_date is not None


def year_sql(spec: Table, alias: str = "") -> str:
    """The partition value of a row (0 when its event date is unknown)."""
    assert spec.event_date is not None
    col = f"{alias}{quote(spec.event_date)}"
    return f"CAST(coalesce(year({col}), 0) AS INTEGER)"


def key_holds_partition(spec: Table) -> bool:
    """Whether the partition is a function of the natural key (the key holds the event date)."""
    return spec.event_date is not None and spec.event_date in spec.natural_key


def _dq(name: str) -> str:
    """A column name for delta-rs's (DataFusion's) SQL."""
    return '"' + name.replace('"', '""') + '"'


def arrow(con: duckdb.DuckDBPyConnection, sql: str) -> pa.Table:
    """The rows of a query as an Arrow table."""
    table = con.sql(sql).to_arrow_table()
    assert table is not None
    return table


def with_partition(con: duckdb.DuckDBPyConnection, spec: Table, sql: str) -> pa.Table:
    """Rows of ``sql`` as Arrow, with the partition column for an event table."""
    extra = f", {year_sql(spec)} AS {PARTITION}" if partitioned(spec) else ""
    return arrow(con, f"SELECT *{extra} FROM ({sql})")


def create(path: Path, spec: Table, data: pa.Table) -> None:
    """A new Delta table (or one replacing a withheld table's content) holding ``data``."""
    from deltalake import write_deltalake

    write_deltalake(
        str(path),
        data,
        mode="overwrite",
        schema_mode="overwrite",
        partition_by=[PARTITION] if partitioned(spec) else None,
    )


def migrate(con: duckdb.DuckDBPyConnection, spec: Table, legacy: Path, target: Path) -> None:
    """A table of the old single-file layout, written as a Delta table (its first version)."""
    data = with_partition(con, spec, f"SELECT * FROM read_parquet({literal(str(legacy))})")
    create(target, spec, data)


def migrate_quarantine(con: duckdb.DuckDBPyConnection, legacy: Path, target: Path) -> None:
    from deltalake import write_deltalake

    have = pq.read_schema(legacy).names
    extra = "" if "delivery" in have else ", NULL::VARCHAR AS delivery"
    data = arrow(con, f"SELECT *{extra} FROM read_parquet({literal(str(legacy))})")
    write_deltalake(str(target), data, mode="overwrite", schema_mode="overwrite")


def latest(path: Path) -> int:
    v = store.latest_version(path)
    assert v is not None
    return v


def candidate_files(
    con: duckdb.DuckDBPyConnection, spec: Table, previous: TableSnapshot, source: str
) -> list[str]:
    """The files of ``previous`` that may hold a key of ``source``: for a table whose key holds
    the event date, those of the delivery's years only (partition pruning)."""
    files = list(previous.files)
    if key_holds_partition(spec) and previous.partitions:
        years = {
            int(r[0])
            for r in con.execute(f"SELECT DISTINCT {year_sql(spec)} FROM {source}").fetchall()
        }
        files = [f for f, p in zip(previous.files, previous.partitions, strict=True) if p in years]
    return files


def hit_files(
    con: duckdb.DuckDBPyConnection, spec: Table, files: list[str], source: str
) -> list[str]:
    """Which of ``files`` hold a record whose natural key (NULL parts equal) is in
    ``source``: only the key columns are read."""
    if not files:
        return []
    keys = ", ".join(quote(k) for k in spec.natural_key)
    on = " AND ".join(f"p.{quote(k)} IS NOT DISTINCT FROM a.{quote(k)}" for k in spec.natural_key)
    listed = ", ".join(literal(f) for f in files)
    rows = con.execute(
        f"SELECT DISTINCT p.filename FROM (SELECT {keys}, filename FROM read_parquet([{listed}], "
        f"filename = true, union_by_name = true, hive_partitioning = false)) p "
        f"SEMI JOIN {source} a ON {on}"
    ).fetchall()
    return sorted(str(r[0]) for r in rows)


#: What a NULL key part is compared as in the join key (the exact NULL-safe test follows it).
_NULL_KEY = "chr(57344)"


def _key_match(spec: Table) -> list[str]:
    """The merge's key predicate: NULL key parts compare equal, as ``IS NOT DISTINCT FROM``
    does. A key part the contract declares non-null is an equality; a nullable one is an
    equality of its text with NULL as a private-use character, then the exact NULL-safe test:
    DataFusion then joins by hash (``IS NOT DISTINCT FROM`` beside an equality on the partition
    column makes it compare every pair). Each comparison in parentheses: DataFusion's parser
    binds ``IS NOT DISTINCT FROM`` looser than ``AND``."""
    nullable = {c.name for c in spec.columns if c.nullable}
    out = []
    for k in spec.natural_key:
        t, s = f"t.{_dq(k)}", f"s.{_dq(k)}"
        if k not in nullable:
            out.append(f"({t} = {s})")
        else:
            out.append(
                f"(coalesce(CAST({t} AS VARCHAR), {_NULL_KEY}) = "
                f"coalesce(CAST({s} AS VARCHAR), {_NULL_KEY}))"
            )
            out.append(f"({t} IS NOT DISTINCT FROM {s})")
    return out


def merge(
    path: Path,
    spec: Table,
    data: pa.Table,
    compared: list[str],
    previous: TableSnapshot,
    hits: list[str],
) -> None:
    """Merge ``data`` (the accepted rows, with the partition column) into the Delta table at
    ``path``: appended when no earlier record shares a key, else ``DeltaTable.merge``."""
    from deltalake import DeltaTable, write_deltalake

    target_cols = set(previous.schema().names)
    new_cols = any(n not in target_cols and n != PARTITION for n in data.column_names)
    if not hits:
        write_deltalake(
            str(path),
            data,
            mode="append",
            schema_mode="merge" if new_cols else None,
            partition_by=[PARTITION] if partitioned(spec) else None,
        )
        return
    on = _key_match(spec)
    if partitioned(spec):
        if key_holds_partition(spec):
            on.append(f"(t.{_dq(PARTITION)} = s.{_dq(PARTITION)})")
        else:  # only the partitions that hold a key of the delivery are read
            found = [
                p for f, p in zip(previous.files, previous.partitions, strict=True) if f in hits
            ]
            parts = sorted({p for p in found if p is not None})
            if parts and len(parts) == len(set(found)):
                on.append(f"(t.{_dq(PARTITION)} IN ({', '.join(str(p) for p in parts)}))")
    if spec.received_date:
        r = _dq("received_date")
        # the later receipt wins; on a tie the new delivery does; a known receipt beats none
        wins = f"(t.{r} IS NULL OR (s.{r} IS NOT NULL AND s.{r} >= t.{r}))"
    else:
        wins = "TRUE"
    same = " AND ".join(
        f"(t.{_dq(c)} IS NOT DISTINCT FROM s.{_dq(c)})" for c in compared if c in target_cols
    )
    differs = f"NOT ({same})" if same else "TRUE"
    sets = {_dq(c): f"s.{_dq(c)}" for c in data.column_names}
    (
        DeltaTable(str(path))
        .merge(
            data,
            " AND ".join(on),
            source_alias="s",
            target_alias="t",
            merge_schema=new_cols,
        )
        .when_matched_update(sets, predicate=f"{wins} AND {differs}")
        .when_not_matched_insert(sets)
        .execute()
    )


def replace_quarantine(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    previous: TableSnapshot | None,
    rows: pa.Table,
    run_name: str,
) -> bool:
    """This delivery's rejected rows replace its own earlier ones (a rerun); the other
    deliveries' rows stay. Returns whether the Delta table exists afterwards."""
    from deltalake import DeltaTable, write_deltalake

    if previous is None:
        if rows.num_rows == 0:
            return False
        write_deltalake(str(path), rows, mode="overwrite", schema_mode="overwrite")
        return True
    if previous.files:
        ((n,),) = con.execute(
            f"SELECT count(*) FROM {previous.sql()} WHERE delivery = {literal(run_name)}"
        ).fetchall()
        if n:
            DeltaTable(str(path)).delete(f"delivery = {literal(run_name)}")
    if rows.num_rows:
        new_cols = any(n not in set(previous.schema().names) for n in rows.column_names)
        write_deltalake(str(path), rows, mode="append", schema_mode="merge" if new_cols else None)
    return True
