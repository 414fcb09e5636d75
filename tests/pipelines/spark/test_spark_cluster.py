"""A real Spark standalone cluster (master + 2 workers of 1 core and 1g, separate JVMs on
loopback, `pipelines.spark.cluster`): classify (and the Spark features, once they exist) on it
give the local results, and stopping the cluster leaves no process of it behind."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from models.classes import ClassScheme
from pipelines.classify import run_classify
from pipelines.config import load_config
from pipelines.spark.cluster import Cluster, group_alive, standalone_cluster
from pipelines.spark.config import SparkConfig
from tests.pipelines.spark.test_spark_classify import assert_same_classes

pytestmark = pytest.mark.slow
MONTH = "2026-10"


@pytest.fixture(scope="module")
def cluster() -> Iterator[tuple[Cluster, Any]]:
    """The cluster and a session on it; on teardown, every daemon's process group is gone."""
    from pipelines.spark.session import session

    with standalone_cluster(workers=2, cores=1, memory="1g") as c:
        assert c.alive_workers() == 2
        cfg = SparkConfig(master=c.url, executor_memory="1g", executor_cores=1)
        spark = session(config=cfg)
        try:
            yield c, spark
        finally:
            spark.stop()
        pids = c.pids
    assert pids and not any(group_alive(p) for p in pids)
    for p in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(p, 0)


def test_classify_on_a_standalone_cluster_equals_the_local_path(  # type: ignore[no-untyped-def]
    cluster, small_model, small_history, tmp_path
) -> None:
    _c, spark = cluster
    # two executors, one per worker, each in its own JVM, not in the driver's process (the
    # count includes the driver's own block manager); they register shortly after the start
    deadline = time.monotonic() + 60
    while spark.sparkContext._jsc.sc().getExecutorMemoryStatus().size() < 3:
        assert time.monotonic() < deadline, "the two executors did not register"
        time.sleep(0.5)
    cfg, _ = small_model
    scheme = load_config(cfg.class_scheme, ClassScheme)
    local = run_classify(cfg, scheme, small_history, MONTH, tmp_path / "local", alias="challenger")
    on_cluster = run_classify(
        cfg, scheme, small_history, MONTH, tmp_path / "cluster", alias="challenger",
        engine="spark", spark=spark, batch_rows=1000,
    )  # fmt: skip
    assert_same_classes(pq.read_table(on_cluster.summary.out), pq.read_table(local.summary.out))
    a, b = (
        json.loads((tmp_path / side / MONTH / "classes_summary.json").read_text())
        for side in ("local", "cluster")
    )
    a.pop("out")
    b.pop("out")
    assert a == b


def test_features_on_a_standalone_cluster_equal_duckdbs(  # type: ignore[no-untyped-def]
    cluster, small_interim, small_history, tmp_path
) -> None:
    """The Spark feature SQL (`pipelines.spark.features`, another part of the Spark engine) on
    the cluster: every feature of every enterprise equal to the DuckDB file (1e-9)."""
    from features.config import FeaturesConfig
    from pipelines.features import run_features

    _c, spark = cluster
    fcfg = load_config(
        Path(__file__).resolve().parents[3] / "configs" / "features.yaml", FeaturesConfig
    )
    out = tmp_path / "features"
    assert spark.sparkContext.master.startswith("spark://")
    # run_features uses the running session: the cluster's (pipelines.features._spark_session)
    run_features(fcfg, small_interim[1], out, [MONTH], engine="spark")
    got = pq.read_table(out / f"{MONTH}.parquet")
    want = pq.read_table(small_history / f"{MONTH}.parquet")
    assert got.column_names == want.column_names
    assert got.column("uscc").equals(want.column("uscc"))
    for name in want.column_names:
        x, y = got.column(name), want.column(name)
        if pa.types.is_floating(y.type):
            np.testing.assert_allclose(
                x.to_numpy(zero_copy_only=False), y.to_numpy(zero_copy_only=False),
                rtol=1e-9, atol=1e-9, err_msg=name,
            )  # fmt: skip
        else:
            assert x.equals(y), name
