"""Classify on Spark: the month's feature file scored, classed and explained in Spark tasks.

`pipelines.classify.run_classify` (``engine="spark"``) hands this module one function,
``score(batch) -> table`` (`pipelines.classify.score_batch` bound to the deployed model, the
class scheme and the TreeSHAP explainer), and `map_file` runs it in the executors with
``mapInArrow`` over the feature file as Spark reads it. This module knows nothing of models or
classes: the stage owns the per-batch work, so the local and the Spark engine run the very
same code on each batch and cannot drift apart.

How the model reaches the executors: the bound function (LightGBM boosters as their model
text, the calibrators, the per-leaf TreeSHAP tables already built) is **broadcast** once,
rather than loaded by each executor from the MLflow store by version. A broadcast needs no
shared filesystem or MLflow access on the workers (a standalone or YARN cluster's workers are
other machines), puts no load of many readers on the registry's SQLite database, builds the
TreeSHAP tables once instead of once per Python worker, and is fetched by each executor once
and kept by its Python workers (Spark reuses them), which is the cache per worker. The numba
kernel is compiled once per machine (``cache=True`` beside the installed ``models``).

The result is still one file: each task writes its rows, with their position in the feature
file (Parquet's ``_metadata.row_index``), as a part under a scratch folder beside the output
(a cluster's workers must see that folder: the outputs on a shared filesystem); the driver
then streams the parts, in the feature file's order, into the single classes file (bounded
memory: one Arrow batch at a time), checking that every row is there exactly once, and
removes the scratch folder. Sorting is by the feature file's row order, the order the local
path writes.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from pyspark import cloudpickle

from pipelines.io import PARQUET_OPTIONS, atomic_write
from pipelines.spark.config import SparkConfig
from pipelines.spark.session import session

#: The hidden column carrying each row's position in the feature file through the tasks.
ROW = "__riskclass_row"


class SparkClassifyError(RuntimeError):
    """The Spark run did not give every row of the feature file exactly once."""


def _spark_schema(schema: pa.Schema) -> Any:
    """Spark's struct for an Arrow schema (strings and doubles: what the classes file holds)."""
    from pyspark.sql.pandas.types import from_arrow_schema

    return from_arrow_schema(schema)


#: The batch function this Python worker has unpickled, with the broadcast it came from (held,
#: so that the identity check below cannot match a new broadcast at a reused address): one
#: unpickling per worker and job, however many tasks the worker runs (Spark reuses workers).
_LOADED: list[tuple[Any, Callable[[pa.Table], pa.Table]]] = []


def _loaded(job: Any) -> Callable[[pa.Table], pa.Table]:
    """The broadcast batch function, unpickled once per Python worker."""
    if not _LOADED or _LOADED[0][0] is not job:
        _LOADED[:] = [(job, cloudpickle.loads(job.value))]  # an earlier job's model goes
    return _LOADED[0][1]


def map_file(
    path: Path,
    columns: list[str],
    score: Callable[[pa.Table], pa.Table],
    schema: pa.Schema,
    out: Path,
    *,
    config: SparkConfig | None = None,
    master: str | None = None,
    spark: Any = None,
    batch_rows: int = 50_000,
    on_table: Callable[[pa.Table], None] | None = None,
) -> int:
    """Run ``score`` over ``columns`` of the Parquet file ``path`` in Spark tasks and write
    its output (``schema``) to the single file ``out``, in ``path``'s row order, row groups of
    ``batch_rows``; ``on_table`` sees each piece written (the summary's counts). Returns the
    number of rows.

    ``spark``: a running session to use (left running); else one is started from ``config``
    (``master`` replacing its master) and stopped at the end.
    """
    own = spark is None
    if own:
        spark = session(master, app="riskclass-classify", config=config or SparkConfig())
    try:
        return _map_file(spark, path, columns, score, schema, out, batch_rows, on_table)
    finally:
        if own:
            spark.stop()


def _map_file(
    spark: Any,
    path: Path,
    columns: list[str],
    score: Callable[[pa.Table], pa.Table],
    schema: pa.Schema,
    out: Path,
    batch_rows: int,
    on_table: Callable[[pa.Table], None] | None,
) -> int:
    from pyspark.sql import functions as sf

    path = Path(path).resolve()
    out = Path(out).resolve()
    source = pq.read_schema(path)
    # the exact Arrow types of the file (Spark reads unsigned and dictionary columns as other
    # types): each task casts back, so the batch function sees what the local path reads
    input_schema = pa.schema([source.field(c).remove_metadata() for c in columns])
    wanted = pa.schema([*schema, pa.field(ROW, pa.int64())])
    # cloudpickle (Spark's own): the function may be a closure, not only a module-level one
    job = spark.sparkContext.broadcast(cloudpickle.dumps(score))  # type: ignore[no-untyped-call]

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        fn = _loaded(job)
        for batch in batches:
            if batch.num_rows == 0:
                continue
            rows = batch.column(ROW)
            data = pa.Table.from_batches([batch.drop_columns([ROW])]).cast(input_schema)
            table = fn(data).append_column(ROW, rows.cast(pa.int64()))
            yield from table.cast(wanted).to_batches()

    frame = spark.read.parquet(str(path)).select(
        *[sf.col(f"`{c}`") for c in columns], sf.col("_metadata.row_index").alias(ROW)
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f".{out.stem}-spark-", dir=out.parent))
    try:
        parts_dir = scratch / "parts"
        frame.mapInArrow(run, _spark_schema(wanted)).write.parquet(str(parts_dir))
        expected = pq.ParquetFile(path).metadata.num_rows
        return _merge(parts_dir, schema, out, batch_rows, expected, on_table)
    finally:
        job.unpersist()
        shutil.rmtree(scratch, ignore_errors=True)


def _merge(
    parts_dir: Path,
    schema: pa.Schema,
    out: Path,
    batch_rows: int,
    expected: int,
    on_table: Callable[[pa.Table], None] | None,
) -> int:
    """The tasks' parts streamed into ``out`` in the feature file's row order."""
    parts = []
    for part in sorted(parts_dir.glob("*.parquet")):
        f = pq.ParquetFile(part)
        if f.metadata.num_rows == 0:
            continue
        first = f.read_row_group(0, columns=[ROW]).column(0)[0].as_py()
        parts.append((first, part))
    parts.sort()
    written = 0

    def write(tmp: Path) -> None:
        nonlocal written
        with pq.ParquetWriter(tmp, schema, **PARQUET_OPTIONS) as writer:
            for _first, part in parts:
                for batch in pq.ParquetFile(part).iter_batches(batch_size=batch_rows):
                    rows = batch.column(ROW).to_numpy()
                    if rows[0] != written or np.any(np.diff(rows) != 1):
                        raise SparkClassifyError(
                            f"the Spark tasks' output for {out.name} is not every row of the "
                            f"feature file once, in order (at row {written}): nothing written"
                        )
                    table = pa.Table.from_batches([batch.drop_columns([ROW])]).cast(schema)
                    writer.write_table(table, row_group_size=batch_rows)
                    written += table.num_rows
                    if on_table is not None:
                        on_table(table)
        if written != expected:
            raise SparkClassifyError(
                f"the Spark tasks gave {written} rows for {out.name}, the feature file has "
                f"{expected}: nothing written"
            )

    atomic_write(out, write)
    return written
