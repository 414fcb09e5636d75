"""Spark computes the same features as DuckDB: every feature of every enterprise (issue 21).

Tolerance: integers, strings, dates and flags exactly; floats within rtol 1e-9 and atol 1e-12
(the two engines order a float expression's operations alike, but DuckDB evaluates some in
DECIMAL before the final DOUBLE cast, and ``ln``/division may differ in the last bit:
the differences seen are about 1e-15); NULLs in the same places.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from features.base import population
from features.config import FeaturesConfig
from features.definitions import BLOCKS, CATALOG
from features.engine import FeatureError, build_month
from pipelines.config import load_config
from pipelines.features import connect, register_sources, run_features, table_coverage
from pipelines.spark import features as spark_features
from pipelines.store import open_tables

ROOT = Path(__file__).resolve().parents[3]
RTOL, ATOL = 1e-9, 1e-12

pytestmark = pytest.mark.slow  # a Spark session and its first queries: a minute or more


def _config() -> FeaturesConfig:
    return load_config(ROOT / "configs" / "features.yaml", FeaturesConfig)


@pytest.fixture(scope="module")
def spark() -> Iterator[Any]:
    """One local[2] session for the module (run_features reuses it, and leaves it running)."""
    from pipelines.spark.session import session

    s = session("local[2]")
    yield s
    s.stop()


def assert_same(duck: pa.Table, spark: pa.Table) -> None:
    """Every column of ``spark`` equal to ``duck``'s (see the module docstring)."""
    assert spark.schema.equals(duck.schema, check_metadata=True)
    assert spark.column("uscc").equals(duck.column("uscc")), "not the same enterprises in order"
    for name in duck.column_names:
        d, s = duck.column(name), spark.column(name)
        d_null = d.is_null().to_numpy(zero_copy_only=False)
        s_null = s.is_null().to_numpy(zero_copy_only=False)
        where = np.flatnonzero(d_null != s_null)
        assert where.size == 0, f"{name}: NULL in one engine only, e.g. row {where[:3]}"
        if pa.types.is_floating(d.type):
            dv = d.to_numpy(zero_copy_only=False)[~d_null]
            sv = s.to_numpy(zero_copy_only=False)[~s_null]
            np.testing.assert_allclose(sv, dv, rtol=RTOL, atol=ATOL, err_msg=name)
        else:
            assert s.equals(d), name


@pytest.fixture(scope="module")
def both_engines(small_interim, spark, tmp_path_factory):  # type: ignore[no-untyped-def]
    """run_features on DuckDB and on Spark into two folders: (duckdb, spark, months)."""
    months = ["2026-03", "2026-10"]
    base = tmp_path_factory.mktemp("spark_features")
    duck = run_features(_config(), small_interim[1], base / "duckdb", months)
    on_spark = run_features(_config(), small_interim[1], base / "spark", months, engine="spark")
    return duck, on_spark, months


def test_every_feature_of_every_enterprise_equal(both_engines) -> None:  # type: ignore[no-untyped-def]
    duck, on_spark, months = both_engines
    for month in months:
        d = pq.read_table(Path(duck.out) / f"{month}.parquet")
        s = pq.read_table(Path(on_spark.out) / f"{month}.parquet")
        assert d.num_rows > 1000
        assert_same(d, s)  # the file's metadata (catalog, config, month) included
    assert on_spark.catalog == duck.catalog
    for dm, sm in zip(duck.months, on_spark.months, strict=True):
        assert (sm.month, sm.enterprises) == (dm.month, dm.enterprises)
        assert sm.missing_share == pytest.approx(dm.missing_share)
    assert not (Path(on_spark.out) / ".spark").exists(), "Spark's part files were left behind"


def test_within_month_cutoff_equal(small_interim, spark, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A within-month update's cutoff day (`pipelines.update`) on both engines."""
    interim = small_interim[1]
    tables = open_tables(interim)
    coverage = table_coverage(interim)
    cutoff = dt.date(2026, 10, 15)
    cfg = _config()
    con = connect(cfg)
    try:
        register_sources(con, tables)
        duck = build_month(
            con, "2026-10", cfg, tables, CATALOG, BLOCKS, population, coverage, cutoff
        )
    finally:
        con.close()
    spark_features.register_sources(spark, tables)
    on_spark = spark_features.build_month(
        spark, "2026-10", cfg, tables, tmp_path, coverage=coverage, cutoff=cutoff
    )
    assert_same(duck, on_spark)


def test_unknown_engine_is_refused(tmp_path: Path) -> None:
    with pytest.raises(FeatureError, match="engine 'polars'"):
        run_features(_config(), tmp_path, tmp_path, ["2026-10"], engine="polars")  # type: ignore[arg-type]
