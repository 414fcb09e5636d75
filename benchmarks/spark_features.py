"""One month of features on DuckDB and on Spark local[N]: the figures the scaling harness needs.

`spark_features_seconds` times `pipelines.features.run_features` with ``engine="spark"`` (the
stage itself: the Parquet file written as DuckDB's is) on a session started before the clock
starts (its start-up, about 10 s, is reported apart: it is paid once per run, not per month);
`duckdb_features_seconds` times the same stage on DuckDB. The interim folder must exist
(``riskclass ingest``).

    python benchmarks/spark_features.py --interim /tmp/p100k/interim --month 2026-10 \\
        --masters 'local[1]' 'local[2]'
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from common import ROOT


def _config():  # type: ignore[no-untyped-def]
    from features.config import FeaturesConfig
    from pipelines.config import load_config

    return load_config(ROOT / "configs" / "features.yaml", FeaturesConfig)


def duckdb_features_seconds(interim: Path, month: str) -> float:
    """Wall seconds of one month of features on DuckDB (file written)."""
    from pipelines.features import run_features

    with tempfile.TemporaryDirectory() as out:
        t0 = time.perf_counter()
        run_features(_config(), interim, Path(out), [month])
        return time.perf_counter() - t0


def spark_features_seconds(interim: Path, month: str, master: str) -> dict[str, float]:
    """Wall seconds of one month of features on Spark ``master`` (file written), and of the
    session's start-up before it."""
    from pipelines.features import run_features
    from pipelines.spark.config import load_spark_config
    from pipelines.spark.session import session

    t0 = time.perf_counter()
    spark = session(master, config=load_spark_config(ROOT / "configs" / "spark.yaml"))
    started = time.perf_counter() - t0
    try:
        with tempfile.TemporaryDirectory() as out:
            t1 = time.perf_counter()
            run_features(_config(), interim, Path(out), [month], engine="spark")
            return {"session_start": started, "month": time.perf_counter() - t1}
    finally:
        spark.stop()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--interim", type=Path, required=True)
    ap.add_argument("--month", default="2026-10")
    ap.add_argument("--masters", nargs="*", default=["local[1]", "local[2]"])
    args = ap.parse_args()
    out: dict[str, object] = {"duckdb": duckdb_features_seconds(args.interim, args.month)}
    print(json.dumps(out), flush=True)
    for master in args.masters:
        out[master] = spark_features_seconds(args.interim, args.month, master)
        print(json.dumps({master: out[master]}), flush=True)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
