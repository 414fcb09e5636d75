"""Stage `features`: one Parquet file of point-in-time features per month.

``data/processed/features/<YYYY-MM>.parquet`` holds one row per enterprise of the month's
population (established by the month end, not deregistered) and the columns of the feature
catalog (`features.definitions.CATALOG`), in catalog order. The file's metadata records the
month, the catalog fingerprint and the configuration, so that a model trained on one
catalog refuses files built by another.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import queue
import shutil
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from contract.months import months_between, parse_month
from contract.tables import TABLES
from features.base import population
from features.catalog import Feature
from features.config import FeaturesConfig
from features.definitions import BLOCKS, CATALOG, full_catalog, month_batches
from features.derived import DerivedSpec, derive, discover
from features.engine import (
    FeatureError,
    Window,
    define_macros,
)
from pipelines import paths, store
from pipelines.io import PARQUET_OPTIONS, atomic_write
from pipelines.store import TableSnapshot

log = logging.getLogger(__name__)

#: Where a month's features are computed: DuckDB on this machine, or Spark SQL.
Engine = Literal["duckdb", "spark"]


def _fingerprint_sql(f: Feature) -> str:
    """A feature's SQL template as the fingerprint reads it.

    Templates named the month end ``{w.as_of}`` until `Window` called it ``end``; the
    fingerprint hashes the old spelling, so that the renaming (which changes no SQL)
    leaves the fingerprint, and so the feature files and the models trained on them, as
    they were.
    """
    return f.sql.replace("{w.end}", "{w.as_of}")


def catalog_fingerprint(cfg: FeaturesConfig, derived: DerivedSpec | None = None) -> str:
    """A hash of every feature's and block's definition: changes when any of them does
    (the features derived from the bureau's own columns included, when there are any)."""
    w = Window("2000-01", cfg, frozenset(TABLES))
    items = (
        [[f.name, f.kind, f.role, f.fill, _fingerprint_sql(f), f.sources] for f in CATALOG]
        + [[b.alias, b.sql(w)] for b in BLOCKS]
        + [population(w)]
    )
    if derived:
        extra, blocks = derive(derived)
        items += [[f.name, f.kind, f.role, f.fill, f.sql, f.sources] for f in extra]
        items += [[b.alias, b.sql(w)] for b in blocks]
    text = json.dumps(items)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass
class MonthReport:
    month: str
    enterprises: int
    seconds: float
    missing_share: dict[str, float]


@dataclass
class FeaturesReport:
    source: str
    out: str
    absent_tables: list[str]
    catalog: str
    months: list[MonthReport] = field(default_factory=list)
    unavailable: dict[str, str] = field(default_factory=dict)
    derived: DerivedSpec = field(default_factory=DerivedSpec)

    def to_dict(self) -> dict[str, Any]:
        last = self.months[-1] if self.months else None
        catalog = full_catalog(self.derived)
        return {
            "source": self.source,
            "out": self.out,
            "catalog_fingerprint": self.catalog,
            "features": sum(1 for f in catalog if f.role == "model"),
            "context_columns": sum(1 for f in catalog if f.role == "context"),
            **(
                {
                    "derived_features": len(catalog) - len(CATALOG),
                    "derived_sources": [s.key for s in self.derived.sources],
                    "derived_skipped": dict(self.derived.skipped),
                }
                if self.derived or self.derived.skipped
                else {}
            ),
            "absent_tables": self.absent_tables,
            **(
                {
                    "unavailable_tables": self.unavailable,
                    "groups_lacking": lacking_groups(self.absent_tables),
                }
                if self.unavailable
                else {}
            ),
            # no timings here: the summary is a DVC metric and must be reproducible
            "months": {m.month: {"enterprises": m.enterprises} for m in self.months},
            # missing shares of the latest month: a feature that is suddenly all missing
            # (a table not delivered, a broken join) shows up here and in `dvc metrics diff`
            "missing_share_latest": (
                {k: round(v, 4) for k, v in last.missing_share.items()} if last else {}
            ),
        }


def source_tables(source: Path, as_of: str | None = None) -> dict[str, TableSnapshot]:
    """The contract tables of an ingested folder at its current state (or at the state the
    pipeline had after the last ingest whose month is <= ``as_of``: `pipelines.store`)."""
    return store.open_tables(source, as_of)


def connect(cfg: FeaturesConfig, spill: Path | None = None) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with the configured limits and the definitions' macro."""
    con = duckdb.connect()
    con.execute(f"SET memory_limit = '{cfg.duckdb_memory_limit}'")
    con.execute(f"SET threads = {cfg.duckdb_threads}")
    if spill is not None:
        con.execute(f"SET temp_directory = '{spill.as_posix()}'")
    define_macros(con)
    return con


def unavailable_tables(source: Path, as_of: str | None = None) -> dict[str, str]:
    """Tables the bureau declared it cannot deliver (``availability.json`` of the ingested
    folder's state, current or as of a month, written by `riskclass ingest`): table -> why."""
    path = store.side_file(Path(source), "availability.json", as_of=as_of)
    if not path.is_file():
        return {}
    data = json.loads(path.read_text(encoding="utf-8"))
    return {str(k): str(v) for k, v in dict(data.get("unavailable", {})).items()}


def table_coverage(source: Path, as_of: str | None = None) -> dict[str, dt.date]:
    """The first day each delivered event table's records cover (``coverage`` of
    ``availability.json``, written by `riskclass ingest`: the earliest event date of its
    accepted rows): table -> date. "Since" features never reach back before it
    (`features.engine.Window.coverage`); none recorded: not censored. ``as_of``: of the
    state the pipeline had then (`pipelines.store`)."""
    path = store.side_file(Path(source), "availability.json", as_of=as_of)
    if not path.is_file():
        return {}
    data = json.loads(path.read_text(encoding="utf-8"))
    return {
        str(table): dt.date.fromisoformat(str(span["first"]))
        for table, span in dict(data.get("coverage", {})).items()
        if isinstance(span, dict) and span.get("first")
    }


def lacking_groups(absent: list[str]) -> dict[str, list[str]]:
    """The information groups (`contract.tables.GROUPS`) that ``absent`` tables leave short."""
    groups: dict[str, list[str]] = {}
    for t in sorted(absent):
        groups.setdefault(TABLES[t].group, []).append(t)
    return groups


def register_sources(
    con: duckdb.DuckDBPyConnection,
    tables: Mapping[str, TableSnapshot],
    unavailable: dict[str, str] | None = None,
) -> None:
    """``raw_<table>`` views over the ingested Parquet files (once per connection). A
    required table may be missing only when the bureau declared it unavailable: its
    features are then missing (NaN), never zero."""
    for name, spec in TABLES.items():
        if spec.required and name not in tables and name not in (unavailable or {}):
            raise FeatureError(
                f"features: required table {name} ({spec.zh}) is missing from the source folder "
                "[rule: required table]; run `riskclass ingest` first, or declare the table in "
                "unavailable: of configs/ingest.yaml if the bureau cannot deliver it"
            )
    if "enterprises" not in tables:
        raise FeatureError(
            "features: the registry (enterprises) is missing from the source folder "
            "[rule: required table]; run `riskclass ingest` first"
        )
    for name, snap in tables.items():
        con.execute(f"CREATE OR REPLACE VIEW raw_{name} AS SELECT * FROM {snap.sql()}")


def derived_path(out: Path) -> Path:
    """Where a features folder keeps the spec of its derived features."""
    return Path(out) / "derived.json"


def _derived_spec(
    con: duckdb.DuckDBPyConnection,
    cfg: FeaturesConfig,
    tables: Mapping[str, TableSnapshot],
    out: Path,
    last_month: str,
    rediscover: bool,
) -> DerivedSpec:
    """The derived spec of ``out`` (kept from an earlier run), or discovered now and kept."""
    path = derived_path(out)
    if path.is_file() and not rediscover:
        return DerivedSpec.from_json(path.read_text(encoding="utf-8"))
    spec = discover(con, tables, Window(last_month, cfg, frozenset(tables)), cfg.derived)
    if spec or spec.skipped:
        atomic_write(path, lambda tmp: tmp.write_text(spec.to_json(), encoding="utf-8"))
    else:
        path.unlink(missing_ok=True)
    return spec


def resolve_months(as_of: str | None, first: str | None, last: str | None) -> list[str]:
    """``--as-of M`` or ``--from A --to B`` (both inclusive); exactly one of the two forms."""
    if as_of is not None and (first is not None or last is not None):
        raise FeatureError("features: give either --as-of or --from/--to, not both")
    if as_of is not None:
        parse_month(as_of)
        return [as_of]
    if first is None or last is None:
        raise FeatureError("features: give --as-of YYYY-MM, or --from YYYY-MM and --to YYYY-MM")
    return months_between(first, last)


def _write_month(
    con: duckdb.DuckDBPyConnection,
    month: str,
    cfg: FeaturesConfig,
    tables: Mapping[str, TableSnapshot],
    path: Path,
    metadata: dict[str, str],
    derived: DerivedSpec | None = None,
    coverage: Mapping[str, dt.date] | None = None,
    spark: Any = None,
) -> tuple[int, dict[str, float]]:
    """Stream the month into ``path`` (atomically); return rows and missing share per column.
    ``coverage``: each table's first covered day (`table_coverage`). With a ``spark``
    session the month is computed on Spark (`pipelines.spark.features`: the same SQL, the
    same schema), and written here the same way."""
    rows = 0
    catalog = full_catalog(derived)
    missing = dict.fromkeys((f.name for f in catalog), 0)
    if spark is None:
        batches = month_batches(con, month, cfg, tables, derived, coverage=coverage)
    else:
        from pipelines.spark import features as spark_features

        batches = spark_features.month_batches(
            spark, month, cfg, tables, path.parent / ".spark", derived, coverage=coverage
        )
    with batches as reader:
        schema = reader.schema.with_metadata(metadata)

        def take(batch: pa.RecordBatch) -> None:
            nonlocal rows
            rows += batch.num_rows
            for f in catalog:
                col = batch.column(f.name)
                missing[f.name] += col.null_count
                if pa.types.is_floating(col.type):
                    missing[f.name] += pc.sum(pc.is_nan(col)).as_py() or 0

        atomic_write(path, lambda tmp: write_overlapped(reader, tmp, schema, take))
    return rows, {k: v / max(rows, 1) for k, v in missing.items()}


def write_overlapped(
    reader: pa.RecordBatchReader,
    path: Path,
    schema: pa.Schema,
    take: Callable[[pa.RecordBatch], None],
    queued: int = 1,
) -> None:
    """Write ``reader``'s batches to the Parquet file ``path`` on a second thread (each also
    given to ``take``, on that thread, after it is written), while this thread reads the next
    ones: the engine computes the next range of enterprises while the last one is compressed
    and written (both release the GIL), instead of one waiting for the other. At most
    ``queued`` batches wait between them. An error on either side stops both and is raised
    here; the file is then incomplete (the caller writes to a temporary name)."""
    pending: queue.Queue[pa.RecordBatch | None] = queue.Queue(maxsize=queued)
    failed: list[BaseException] = []

    def consume() -> None:
        ended = False  # the reading side has said it is done: nothing more will come
        try:
            with pq.ParquetWriter(path, schema, **PARQUET_OPTIONS) as writer:
                while (batch := pending.get()) is not None:
                    writer.write_batch(batch)
                    take(batch)
                ended = True
        except BaseException as exc:  # raised again on the reading thread
            failed.append(exc)
            while not ended and pending.get() is not None:  # let the reading side finish
                pass

    thread = threading.Thread(target=consume, name="features-writer", daemon=True)
    thread.start()
    try:
        for batch in reader:
            if failed:
                break
            pending.put(batch)
    finally:
        pending.put(None)
        thread.join()
    if failed:
        raise failed[0]


def _spark_session(master: str | None) -> tuple[Any, bool]:
    """The running SparkSession (a caller's, e.g. a test's), else a new one on ``master``
    (else ``configs/spark.yaml``'s): (session, whether this run started it and must stop it)."""
    from pyspark.sql import SparkSession

    from pipelines.spark.config import load_spark_config
    from pipelines.spark.session import session

    active = SparkSession.getActiveSession()
    if active is not None:
        return active, False
    return session(master, config=load_spark_config()), True


def run_features(
    cfg: FeaturesConfig,
    source: Path,
    out: Path,
    months: list[str],
    progress: Callable[[str], None] | None = None,
    rediscover: bool = False,
    engine: Engine = "duckdb",
    spark_master: str | None = None,
    as_of: str | None = None,
) -> FeaturesReport:
    """Build the feature file of every month in ``months`` from the ingested ``source``.

    ``as_of``: from what the pipeline knew then (the store's state after the last ingest of a
    month <= ``as_of``: its tables and its availability), not from its current state; a past
    month's features are rebuilt exactly that way after later deliveries corrected its records.

    The features derived from the bureau's own columns (`features.derived`) are discovered
    once, from the records received by the end of the latest month asked for, and kept in
    ``<out>/derived.json``; later runs into the same folder reuse them, so that every month's
    file has the same columns (``rediscover``: look again, e.g. after new indicators arrive;
    the catalog fingerprint then changes and models must be retrained).

    ``engine="spark"`` computes each month on Spark SQL (`pipelines.spark.features`) on
    ``spark_master`` (else the ``master:`` of ``configs/spark.yaml``), reusing a session that
    is already running; the files are the same as DuckDB's. The source checks and the
    discovery of derived features stay on DuckDB (they read the tables' metadata and one
    month's distinct codes, not a month's features)."""
    if engine not in ("duckdb", "spark"):
        raise FeatureError(f"features: engine {engine!r}: give duckdb or spark")
    if as_of is not None and not store.states(Path(source)):
        raise FeatureError(
            f"features: {source} is a folder of single files with no recorded states, so what "
            f"it held as of {as_of} cannot be read [rule: --interim-as-of needs the incremental "
            "store]; ingest into a store (riskclass ingest) and give its folder"
        )
    tables = source_tables(Path(source), as_of)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    spill = out / ".spill"
    con = connect(cfg, spill=spill)
    unavailable = unavailable_tables(Path(source), as_of)
    coverage = table_coverage(Path(source), as_of)
    # a supplementary table (the generic indicators) is no information group the data lacks
    absent = sorted(t for t in set(TABLES) - set(tables) if not TABLES[t].supplementary)
    try:
        register_sources(con, tables, unavailable)
        derived = _derived_spec(con, cfg, tables, out, max(months), rediscover)
    except BaseException:
        con.close()
        raise
    report = FeaturesReport(str(source), str(out), absent, catalog_fingerprint(cfg, derived))
    report.unavailable = unavailable
    report.derived = derived
    metadata = {
        "riskclass.catalog": report.catalog,
        "riskclass.config": json.dumps(cfg.model_dump(), sort_keys=True),
    }
    if derived:
        metadata["riskclass.derived"] = derived.to_json()
    if coverage:
        # where each table's records start: "since" features are "at least" that long
        metadata["riskclass.coverage"] = json.dumps(
            {t: d.isoformat() for t, d in coverage.items()}, sort_keys=True
        )
    if report.absent_tables:
        # which information groups the data lacked: model cards and reports say so
        metadata["riskclass.absent_tables"] = json.dumps(
            {t: unavailable.get(t, "not delivered") for t in report.absent_tables},
            ensure_ascii=False,
            sort_keys=True,
        )
    spark: Any = None
    own_session = False
    try:
        if engine == "spark":
            spark, own_session = _spark_session(spark_master)
            from pipelines.spark.features import register_sources as spark_sources

            spark_sources(spark, tables)
        for month in months:
            if progress is not None:
                progress(month)
            t0 = time.perf_counter()
            path = paths.features_file(out, month)
            rows, missing = _write_month(
                con,
                month,
                cfg,
                tables,
                path,
                {**metadata, "riskclass.month": month},
                derived,
                coverage=coverage,
                spark=spark,
            )
            seconds = time.perf_counter() - t0
            if rows == 0:
                path.unlink(missing_ok=True)
                raise FeatureError(
                    f"features: month {month} has no enterprises: none in the registry was "
                    "established by its end and still registered [rule: empty population]; "
                    "check the ingest reconciliation (were the registry's rows quarantined?) "
                    "and the month"
                )
            log.info("features %s: %d enterprises in %.1f s", month, rows, seconds)
            report.months.append(MonthReport(month, rows, seconds, missing))
    finally:
        con.close()
        shutil.rmtree(spill, ignore_errors=True)
        shutil.rmtree(out / ".spark", ignore_errors=True)  # Spark's part files
        if own_session and spark is not None:
            spark.stop()
    return report
