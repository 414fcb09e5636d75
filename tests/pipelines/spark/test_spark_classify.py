"""Classify on Spark (local[2]) gives the local path's classes file and summary.

The Spark tasks run the same per-batch function (`pipelines.classify.score_batch`) with the
model broadcast to them, so the expected difference is nil; the test still allows 1e-12 on
the floating columns (scores, probabilities, contributions, group sums), as the brief's
tolerance, and requires everything else (order, classes, risk point names, groups, values)
exactly equal.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from models.classes import ClassScheme
from pipelines.bundle import load_bundle, output_schema
from pipelines.classify import ClassifyError, input_columns, run_classify, score_batch
from pipelines.config import load_config
from pipelines.paths import features_file
from pipelines.spark.config import SparkConfig, load_spark_config

MONTH = "2026-10"
TOL = 1e-12


@pytest.fixture(scope="module")
def spark() -> Iterator[Any]:
    from pipelines.spark.session import session

    s = session(config=SparkConfig(master="local[2]", arrow_batch_rows=700))
    yield s
    s.stop()


def assert_same_classes(a: pa.Table, b: pa.Table) -> None:
    """Same schema, rows in the same order, text columns exactly, floats within `TOL`."""
    assert a.schema == b.schema
    assert a.num_rows == b.num_rows
    assert a.column("uscc").equals(b.column("uscc"))
    for name in a.column_names:
        x, y = a.column(name), b.column(name)
        if pa.types.is_floating(a.schema.field(name).type):
            xs, ys = x.to_numpy(zero_copy_only=False), y.to_numpy(zero_copy_only=False)
            assert np.array_equal(np.isnan(xs), np.isnan(ys)), name
            ok = ~np.isnan(xs)
            assert np.max(np.abs(xs[ok] - ys[ok]), initial=0.0) <= TOL, name
        else:
            assert x.equals(y), name


def test_spark_classify_equals_the_local_path(small_model, small_history, tmp_path, spark) -> None:  # type: ignore[no-untyped-def]
    cfg, _ = small_model
    scheme = load_config(cfg.class_scheme, ClassScheme)
    local = run_classify(cfg, scheme, small_history, MONTH, tmp_path / "local", alias="challenger")
    on_spark = run_classify(
        cfg, scheme, small_history, MONTH, tmp_path / "spark", alias="challenger",
        engine="spark", spark=spark, batch_rows=1000,
    )  # fmt: skip
    a, b = pq.read_table(local.summary.out), pq.read_table(on_spark.summary.out)
    assert a.schema.names[-1] == "margin" and a.num_rows > 1000  # explained, several batches
    assert_same_classes(b, a)
    assert b.column("risk_1_feature").null_count < b.num_rows  # risk points were named
    summaries = [
        json.loads((tmp_path / side / MONTH / "classes_summary.json").read_text())
        for side in ("local", "spark")
    ]
    for s in summaries:
        s.pop("out")
    assert summaries[0] == summaries[1]
    # the scratch folder of the tasks' parts is gone: only the classes and the summary
    assert sorted(p.name for p in (tmp_path / "spark" / MONTH).iterdir()) == [
        "classes.parquet",
        "classes_summary.json",
    ]


def test_spark_runs_sector_models_in_the_tasks(small_model, small_history, tmp_path, spark) -> None:  # type: ignore[no-untyped-def]
    """The small province's model deploys no sector model, so one is added here (the general
    booster grown on for the food sector, the ``boost`` rule): the tasks score and explain
    with it exactly as the local path does."""
    from pipelines.spark.classify import map_file

    cfg, _ = small_model
    bundle = load_bundle(cfg, alias="challenger")
    general_only = bundle
    bundle = dataclasses.replace(
        bundle, sectors=[("food", "sector_food", bundle.general, bundle.calibrator)]
    )
    scheme = bundle.scheme(load_config(cfg.class_scheme, ClassScheme))
    explainer = bundle.explainer(cfg.explain.engine)
    top_k = cfg.explain.top_k
    path = features_file(small_history, MONTH)
    columns = input_columns(bundle, scheme)
    assert "sector_food" in columns
    source = pq.read_table(path, columns=columns)
    assert 0 < int(np.sum(source.column("sector_food").to_numpy())) < source.num_rows
    expected = score_batch(bundle, scheme, explainer, top_k, source, as_of=MONTH)
    plain = score_batch(general_only, scheme, general_only.explainer(), top_k, source, as_of=MONTH)
    assert not expected.column("margin").equals(plain.column("margin"))  # the sector counts
    out = tmp_path / "classes.parquet"

    def score(batch: pa.Table) -> pa.Table:
        return score_batch(bundle, scheme, explainer, top_k, batch, as_of=MONTH)

    rows = map_file(path, columns, score, output_schema(top_k), out, spark=spark)
    assert rows == source.num_rows
    assert_same_classes(pq.read_table(out), expected)


def test_spark_refuses_a_scheme_of_shares(small_model, small_history, tmp_path) -> None:  # type: ignore[no-untyped-def]
    cfg, _ = small_model
    data = load_config(cfg.class_scheme, ClassScheme).model_dump()
    ladder = [c["code"] for c in data["classes"]]
    data.update(method="shares", score_bands=None, shares=dict.fromkeys(ladder[:4], 0.25))
    shares = ClassScheme.model_validate(data)
    with pytest.raises(ClassifyError, match=r"shares.*--engine local"):
        run_classify(cfg, shares, small_history, MONTH, tmp_path, alias="challenger",
                     engine="spark")  # fmt: skip
    assert not (tmp_path / MONTH / "classes.parquet").exists()


def test_the_shipped_spark_config_loads_and_a_bad_master_is_named() -> None:
    root = Path(__file__).resolve().parents[3]
    cfg = load_spark_config(root / "configs" / "spark.yaml")
    assert cfg.master == "local[2]"
    assert cfg.spark_conf()["spark.sql.execution.arrow.maxRecordsPerBatch"] == str(
        cfg.arrow_batch_rows
    )
    assert cfg.with_master("spark://127.0.0.1:7077").master == "spark://127.0.0.1:7077"
    from pipelines.config import ConfigError

    with pytest.raises(ConfigError, match=r"spark-master.*spark://host:port"):
        cfg.with_master("spark:/127.0.0.1")
