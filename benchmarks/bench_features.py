"""Benchmark one month of `riskclass features`, and DuckDB against a plain-pandas baseline.

For each size, simulates and ingests a province (not timed; cached under ``--work`` so that
a rerun skips it), then times one month (``--as-of``), each step in its own subprocess whose
process tree is sampled every 0.2 s for peak memory:

* ``duckdb_full``: the whole catalog through `pipelines.features.run_features` (the stage
  itself, Parquet file written);
* ``duckdb_subset``: `features.engine.build_month` with the catalog cut down to the
  features `pandas_features.FEATURES` computes, every block still run (``BLOCKS``);
* ``duckdb_subset_pruned``: the same with only the blocks those features read (for
  information: how much of ``duckdb_subset`` is blocks the subset does not need);
* ``pandas_subset``: `pandas_features.pandas_features`, the plain-pandas baseline (pandas
  and numpy only; its Parquet reader is held to the same ``--threads``).

Rows are the enterprise rows of the month (the population); rows/s is rows over the wall
time of the step's process (interpreter start and imports included, as in the other
benchmarks); ``compute_seconds`` is the time inside the step without them. The subset values
of DuckDB and pandas are compared feature by feature (same uscc, ``np.allclose`` with
``equal_nan``, rtol 1e-9). Results go to benchmarks/results/features.json; a 7.5M figure not
measured is extrapolated linearly from the largest measured size and labelled so.

    python benchmarks/bench_features.py --sizes 100000 1000000
    python benchmarks/bench_features.py --sizes 7500000 --skip-pandas   # the province target
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from common import ROOT, extrapolate, machine, run_sampled

if TYPE_CHECKING:
    from features.catalog import Feature
    from features.config import FeaturesConfig
    from features.engine import Block

RESULTS = ROOT / "benchmarks" / "results" / "features.json"
WORK = ROOT / "data" / "bench" / "features"  # git-ignored (/data/)
TARGET_N = 7_500_000
ENGINES = ("duckdb_full", "duckdb_subset", "duckdb_subset_pruned", "pandas_subset")
RTOL = 1e-9


# ------------------------------------------------------------------ the province (cached)
def _flags(**flags: object) -> list[str]:
    """Command-line options, ``--name value`` (``truth_out`` -> ``--truth-out``).

    >>> _flags(as_of="2026-10", threads=4)
    ['--as-of', '2026-10', '--threads', '4']
    """
    return [word for k, v in flags.items() for word in (f"--{k.replace('_', '-')}", str(v))]


def province(n: int, months: int, seed: int, as_of: str, work: Path) -> Path:
    """The ingested tables of a simulated province of ``n`` enterprises (cached)."""
    folder = work / f"province-{n}x{months}-seed{seed}-{as_of}"
    interim, ready = folder / "interim", folder / "ready.json"
    if ready.is_file():
        print(f"{n:>10,} enterprises: reusing the ingested province in {folder}")
        return interim
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    py = sys.executable
    print(f"{n:>10,} enterprises: simulating and ingesting (not timed, cached in {folder})")
    cli = [py, "-m", "pipelines.cli"]
    raw, truth = folder / "raw", folder / "truth"
    simulate = _flags(enterprises=n, months=months, seed=seed, out=raw, truth_out=truth)
    run_sampled([*cli, "simulate", *simulate, *_flags(summary_out=folder / "simulation.json")])
    ingest = _flags(source=raw, out=interim, as_of=as_of)
    run_sampled([*cli, "ingest", *ingest, *_flags(report_out=folder / "reconciliation.json")])
    shutil.rmtree(folder / "raw", ignore_errors=True)  # only ingestion reads them
    shutil.rmtree(folder / "truth", ignore_errors=True)
    ready.write_text(json.dumps({"enterprises": n, "months": months, "seed": seed}) + "\n")
    return interim


def input_size(interim: Path) -> tuple[int, int]:
    """Rows and bytes of the Parquet tables the features read."""
    import pyarrow.parquet as pq

    files = sorted(interim.glob("*.parquet"))
    return sum(pq.read_metadata(f).num_rows for f in files), sum(f.stat().st_size for f in files)


# ------------------------------------------------------------------ the measured steps
def _config(path: Path, threads: int) -> FeaturesConfig:
    from features.config import FeaturesConfig
    from pipelines.config import load_config

    return load_config(path, FeaturesConfig).model_copy(update={"duckdb_threads": threads})


def _subset_blocks(
    cfg: FeaturesConfig, month: str, tables: dict[str, Path], subset: tuple[Feature, ...]
) -> tuple[Block, ...]:
    """The blocks the subset's expressions read, with the blocks they need."""
    from features import engine
    from features.definitions import BLOCKS

    w = engine.Window(month, cfg, frozenset(tables))
    wanted = set().union(*(engine.block_aliases(engine.feature_sql(f, w)) for f in subset))
    by_alias = {b.alias: b for b in BLOCKS}
    todo = list(wanted)
    while todo:
        for need in by_alias[todo.pop()].needs:
            if need not in wanted:
                wanted.add(need)
                todo.append(need)
    return tuple(b for b in BLOCKS if b.alias in wanted)


def step(kind: str, source: Path, month: str, threads: int, config: Path, out: Path) -> None:
    """One measured step (run in a subprocess by `measure`); writes ``out/step.json``."""
    out.mkdir(parents=True, exist_ok=True)
    cfg = _config(config, threads)
    t0 = time.perf_counter()
    if kind == "duckdb_full":
        from features.definitions import CATALOG
        from pipelines.features import run_features

        report = run_features(cfg, source, out, [month])
        seconds = time.perf_counter() - t0
        rows, columns = report.months[0].enterprises, len(CATALOG)
    elif kind in ("duckdb_subset", "duckdb_subset_pruned"):
        from pandas_features import FEATURES

        from features import base, engine
        from features.definitions import BLOCKS, CATALOG
        from pipelines.features import connect, register_sources, source_tables
        from pipelines.io import write_parquet

        con = connect(cfg, spill=out / ".spill")
        tables = source_tables(source)
        register_sources(con, tables)
        subset = tuple(f for f in CATALOG if f.name in set(FEATURES))
        blocks = BLOCKS if kind == "duckdb_subset" else _subset_blocks(cfg, month, tables, subset)
        table = engine.build_month(con, month, cfg, tables, subset, blocks, base.population)
        seconds = time.perf_counter() - t0
        con.close()
        rows, columns = table.num_rows, len(subset)
        write_parquet(table, out / "values.parquet")
    elif kind == "pandas_subset":
        import pyarrow as pa
        from pandas_features import FEATURES, pandas_features

        pa.set_cpu_count(threads)  # pandas' Parquet reader gets the same thread budget
        pa.set_io_thread_count(threads)
        values = pandas_features(source, month, cfg)
        seconds = time.perf_counter() - t0
        rows, columns = len(values), len(FEATURES)
        values.to_parquet(out / "values.parquet", index=False)
    else:
        raise SystemExit(f"unknown step {kind}")
    summary = {"rows": rows, "features": columns, "compute_seconds": seconds}
    (out / "step.json").write_text(json.dumps(summary) + "\n", encoding="utf-8")


def measure(kind: str, source: Path, args: argparse.Namespace, out: Path) -> dict[str, object]:
    shutil.rmtree(out, ignore_errors=True)
    flags = _flags(source=source, as_of=args.as_of, threads=args.threads, config=args.config)
    cmd = [sys.executable, str(Path(__file__).resolve()), "--step", kind, *flags]
    cmd += _flags(step_out=out)
    wall, peak = run_sampled(cmd)
    inner = json.loads((out / "step.json").read_text(encoding="utf-8"))
    return {
        "features": inner["features"],
        "rows": inner["rows"],
        "wall_seconds": round(wall, 1),
        "compute_seconds": round(inner["compute_seconds"], 2),
        "rows_per_second": round(inner["rows"] / wall),
        "peak_rss_gib": round(peak / 2**30, 2),
    }


def compare(duck_file: Path, pandas_file: Path) -> dict[str, object]:
    """Value equality of the DuckDB and pandas subsets, feature by feature."""
    import numpy as np
    import pandas as pd
    from pandas_features import FEATURES

    duck, pdf = pd.read_parquet(duck_file), pd.read_parquet(pandas_file)
    same_rows = duck["uscc"].tolist() == pdf["uscc"].tolist()
    mismatched = {}
    if same_rows:
        for name in FEATURES:
            a, b = duck[name].to_numpy(dtype=float), pdf[name].to_numpy(dtype=float)
            bad = int((~np.isclose(a, b, rtol=RTOL, atol=0.0, equal_nan=True)).sum())
            if bad:
                mismatched[name] = bad
    return {
        "checked": True,
        "features": len(FEATURES),
        "rtol": RTOL,
        "same_uscc": same_rows,
        "mismatched_rows": mismatched,
        "all_equal": same_rows and not mismatched,
    }


# ------------------------------------------------------------------ report
def _line(label: str, r: dict) -> str:
    return (
        f"    {label:<38} {r['wall_seconds']:>7.1f} s ({r['compute_seconds']:.1f} s computing), "
        f"{r['rows_per_second']:>9,} rows/s, peak {r['peak_rss_gib']:.2f} GiB"
    )


def _extrapolated(records: dict) -> dict[str, object] | None:
    """A 7.5M record from the largest measured size of each engine (linear in N)."""
    out: dict[str, object] = {
        "enterprises": TARGET_N,
        "measured": False,
        "note": (
            "EXTRAPOLATED, not measured: wall time scaled linearly in N from the largest "
            "measured size (benchmarks/common.extrapolate); peak memory is copied from that "
            "size, which understates it wherever memory grows with N (pandas holds every "
            "table in memory)"
        ),
    }
    found = False
    for engine in ENGINES:
        measured = [
            r for r in records.values() if r.get("measured") and isinstance(r.get(engine), dict)
        ]
        if not measured:
            out[engine] = None
            continue
        base_rec = max(measured, key=lambda r: int(r["enterprises"]))
        flat = {**base_rec[engine], "enterprises": base_rec["enterprises"]}
        est = extrapolate(flat, TARGET_N, ("wall_seconds", "rows"))
        est["rows_per_second"] = round(int(est["rows"]) / float(est["wall_seconds"]))
        est["threads"] = base_rec.get("threads")
        out[engine] = est
        found = True
    return out if found else None


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--months", type=int, default=36)
    parser.add_argument("--seed", type=int, default=20261)
    parser.add_argument("--as-of", default="2026-10")
    parser.add_argument("--threads", type=int, default=2, help="DuckDB threads (duckdb_threads)")
    parser.add_argument("--config", type=Path, default=ROOT / "configs" / "features.yaml")
    parser.add_argument(
        "--skip-pandas", action="store_true", help="no pandas baseline (sizes it cannot hold)"
    )
    parser.add_argument(
        "--work", type=Path, default=WORK, help="cache of simulated provinces and step outputs"
    )
    parser.add_argument("--step", choices=ENGINES, help=argparse.SUPPRESS)
    parser.add_argument("--source", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--step-out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.step:
        step(args.step, args.source, args.as_of, args.threads, args.config, args.step_out)
        return

    records = json.loads(RESULTS.read_text(encoding="utf-8")) if RESULTS.exists() else {}
    for n in args.sizes:
        interim = province(n, args.months, args.seed, args.as_of, args.work)
        input_rows, input_bytes = input_size(interim)
        runs = args.work / f"run-{n}"
        kinds = ENGINES[:3] if args.skip_pandas else ENGINES
        result = {k: measure(k, interim, args, runs / k) for k in kinds}
        rec: dict[str, object] = {
            "enterprises": n,
            "measured": True,
            "as_of": args.as_of,
            "months": args.months,
            "seed": args.seed,
            "threads": args.threads,
            "rows": result["duckdb_full"]["rows"],
            "input_rows": input_rows,
            "input_bytes": input_bytes,
            **{k: result.get(k) for k in ENGINES},
        }
        if "pandas_subset" in result:
            pd_, sub, pruned = (result[k] for k in ("pandas_subset", *ENGINES[1:3]))
            rec["pandas_over_duckdb_subset"] = {
                "wall": round(float(pd_["wall_seconds"]) / float(sub["wall_seconds"]), 2),
                "compute": round(float(pd_["compute_seconds"]) / float(sub["compute_seconds"]), 2),
            }
            rec["pandas_over_duckdb_subset_pruned"] = {
                "wall": round(float(pd_["wall_seconds"]) / float(pruned["wall_seconds"]), 2),
                "compute": round(
                    float(pd_["compute_seconds"]) / float(pruned["compute_seconds"]), 2
                ),
            }
            rec["equality"] = compare(
                runs / "duckdb_subset" / "values.parquet", runs / "pandas_subset" / "values.parquet"
            )
        else:
            rec["pandas_over_duckdb_subset"] = rec["pandas_over_duckdb_subset_pruned"] = None
            rec["equality"] = {"checked": False, "reason": "--skip-pandas"}
        rec["machine"] = machine()
        rec["date_run"] = time.strftime("%Y-%m-%d")  # audit stamp of the benchmark only
        records[str(n)] = rec
        shutil.rmtree(runs, ignore_errors=True)

        print(f"{n:>10,} enterprises, {args.as_of}: {rec['rows']:,} rows, {args.threads} threads")
        n_sub = result["duckdb_subset"]["features"]
        n_full = result["duckdb_full"]["features"]
        print(_line(f"duckdb, full catalog ({n_full} features)", result["duckdb_full"]))
        print(_line(f"duckdb, subset ({n_sub} features)", result["duckdb_subset"]))
        print(_line("duckdb, subset, its blocks only", result["duckdb_subset_pruned"]))
        if "pandas_subset" in result:
            print(_line(f"pandas, subset ({n_sub} features)", result["pandas_subset"]))
            ratio, ratio_p, eq = (
                rec["pandas_over_duckdb_subset"],
                rec["pandas_over_duckdb_subset_pruned"],
                rec["equality"],
            )
            print(
                f"    pandas / duckdb on the subset: {ratio['wall']:.2f}x wall, "
                f"{ratio['compute']:.2f}x computing (blocks pruned: {ratio_p['wall']:.2f}x, "
                f"{ratio_p['compute']:.2f}x)"
            )
            verdict = "EQUAL" if eq["all_equal"] else f"DIFFERENT {eq['mismatched_rows']}"
            print(f"    values, duckdb subset vs pandas: {verdict} ({eq['features']} features)")

    key = str(TARGET_N)
    if not records.get(key, {}).get("measured"):
        est = _extrapolated(records)
        if est is not None:
            records[key] = est
            print(f"{TARGET_N:>10,} enterprises (EXTRAPOLATED linearly, not measured):")
            for engine in ENGINES:
                r = est[engine]
                if r is not None:
                    print(
                        f"    {engine:<22} {r['wall_seconds']:>8.1f} s "
                        f"(from {r['extrapolated_from']:,}; peak memory not extrapolated)"
                    )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(records, indent=2, sort_keys=True) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
