"""The final join and sort run one range of enterprises at a time (`features.engine.month_batches`,
``range_rows``): the month must be the same rows, in the same order, with the same values as
one query over the whole population; and the file writer that overlaps with it must write what
it is given and stop on an error from either side."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from features import base, engine
from features.definitions import BLOCKS, CATALOG
from pipelines.features import (
    connect,
    register_sources,
    source_tables,
    table_coverage,
    write_overlapped,
)
from tests.features.tiny import config, d, firms, write


def _month(con, month, cfg, tables, coverage=None, range_rows=1_000_000) -> pa.Table:  # type: ignore[no-untyped-def]
    with engine.month_batches(
        con,
        month,
        cfg,
        tables,
        CATALOG,
        BLOCKS,
        base.population,
        batch_rows=3,
        coverage=coverage,
        range_rows=range_rows,
    ) as reader:
        return reader.read_all()


def test_ranges_give_the_whole_population_query(small_interim) -> None:  # type: ignore[no-untyped-def]
    """The synthetic province, a month in ranges of 37 enterprises against one range."""
    _report, folder = small_interim
    cfg = config()
    con = connect(cfg)
    tables = source_tables(folder)
    register_sources(con, tables)
    coverage = table_coverage(folder)
    whole = _month(con, "2026-09", cfg, tables, coverage)
    ranged = _month(con, "2026-09", cfg, tables, coverage, range_rows=37)
    assert whole.num_rows > 37 * 3  # several ranges
    assert ranged.schema == whole.schema
    assert ranged.equals(whole)
    usccs = whole.column("uscc").to_pylist()
    assert usccs == sorted(usccs)


def test_range_bounds_quote_the_key(tmp_path: Path) -> None:
    """A key holding a quote is one more value to range on, not SQL; ranges of one."""
    keys = ["E1", "E'2", "E3", "E4", "E5"]
    folder = write(
        tmp_path,
        {
            "enterprises": firms(*keys),
            "penalties": [{"uscc": "E'2", "decision_date": d("2026-05-01")}],
        },
    )
    cfg = config()
    con = connect(cfg)
    tables = source_tables(folder)
    register_sources(con, tables)
    whole = _month(con, "2026-10", cfg, tables)
    ranged = _month(con, "2026-10", cfg, tables, range_rows=1)
    assert ranged.equals(whole)
    assert ranged.column("uscc").to_pylist() == sorted(keys)
    assert "pop" not in {r[0] for r in con.execute("SHOW TABLES").fetchall()}  # dropped


def test_range_bounds() -> None:
    import duckdb

    con = duckdb.connect()
    con.execute(
        "CREATE TEMP TABLE pop AS SELECT * FROM (VALUES ('E5'), ('E1'), (NULL), ('E3'), ('E2')) t(uscc)"
    )
    assert engine.range_bounds(con, 2) == ["E3"]  # [E1, E2] [E3, E5] and the NULL
    assert engine.range_bounds(con, 1) == ["E2", "E3", "E5"]
    assert engine.range_bounds(con, 4) == []
    with pytest.raises(ValueError, match="range of 0 rows"):
        engine.range_bounds(con, 0)


def test_the_plan_sql_is_one_query_without_ranges() -> None:
    """Spark runs `MonthPlan.final`: the whole population, no range condition."""
    plan = engine.month_plan("2026-10", config(), {"enterprises"}, CATALOG, BLOCKS, base.population)
    assert plan.final == plan.final_range(None, None)
    assert "uscc >=" not in plan.final and "FROM pop p" in plan.final
    ranged = plan.final_range("A", "B")
    assert "(SELECT * FROM pop WHERE uscc >= 'A' AND uscc < 'B') p" in ranged
    last = plan.final_range("B", None)
    assert "(SELECT * FROM pop WHERE (uscc >= 'B') OR uscc IS NULL) p" in last


def _batches(n: int) -> list[pa.RecordBatch]:
    return [pa.record_batch({"x": pa.array(range(i * 10, i * 10 + 10))}) for i in range(n)]


def test_overlapped_writer_writes_every_batch_in_order(tmp_path: Path) -> None:
    batches = _batches(7)
    seen: list[int] = []
    reader = pa.RecordBatchReader.from_batches(batches[0].schema, iter(batches))
    path = tmp_path / "f.parquet"
    write_overlapped(reader, path, batches[0].schema, lambda b: seen.append(b.num_rows))
    assert pq.read_table(path).column("x").to_pylist() == list(range(70))
    assert seen == [10] * 7


def test_overlapped_writer_stops_on_a_reading_error(tmp_path: Path) -> None:
    batches = _batches(3)

    def failing():  # type: ignore[no-untyped-def]
        yield from batches
        raise RuntimeError("engine failed")

    reader = pa.RecordBatchReader.from_batches(batches[0].schema, failing())
    with pytest.raises(RuntimeError, match="engine failed"):
        write_overlapped(reader, tmp_path / "f.parquet", batches[0].schema, lambda b: None)


def test_overlapped_writer_stops_on_a_writing_error(tmp_path: Path) -> None:
    batches = _batches(50)
    pulled: list[int] = []

    def counted():  # type: ignore[no-untyped-def]
        for b in batches:
            pulled.append(1)
            yield b

    def take(_b: pa.RecordBatch) -> None:
        raise OSError("disk full")

    reader = pa.RecordBatchReader.from_batches(batches[0].schema, counted())
    with pytest.raises(OSError, match="disk full"):
        write_overlapped(reader, tmp_path / "f.parquet", batches[0].schema, take)
    assert len(pulled) < 50  # the reading side stopped, it did not read the month to the end


def test_overlapped_writer_stops_when_closing_the_file_fails(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The error comes after the last batch (the file's footer): nothing more will be read,
    and the writer must not wait for it."""
    import threading

    import pipelines.features as pf

    class Failing(pq.ParquetWriter):  # type: ignore[misc]
        def close(self) -> None:
            super().close()
            raise OSError("footer not written")

    monkeypatch.setattr(pf.pq, "ParquetWriter", Failing)
    batches = _batches(3)
    reader = pa.RecordBatchReader.from_batches(batches[0].schema, iter(batches))
    raised: list[BaseException] = []

    def run() -> None:
        try:
            write_overlapped(reader, tmp_path / "f.parquet", batches[0].schema, lambda b: None)
        except OSError as exc:
            raised.append(exc)

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(timeout=60)
    assert not worker.is_alive(), "the writer waits forever after a failed close"
    assert [str(e) for e in raised] == ["footer not written"]
