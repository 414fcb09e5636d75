"""What the incremental store costs the DuckDB feature path: one month of features read from
the Delta tables of an interim store, and from the same tables laid out the old way (one Parquet
file per table, the layout before issue 21, which `pipelines.store` still reads), with the same
code, alternately, each in its own process.

The old layout is written from the store's current state (not timed): same rows, same
availability. The issue's check is "the DuckDB path at 7.5M stays as fast as it is today
(within 10%)": with ``--before REV`` (the last commit before issue 21: de18f76) the feature code
of that revision, checked out in a git worktree, runs too, on the old layout it read, so the
figure compares the path as it was with the path as it is, not only the two layouts.

    python benchmarks/bench_store_layout.py --before de18f76 \\
        --interim data/bench/month/province-7500000x36-s20261/run-duckdb/interim --month 2026-10
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from common import ROOT, machine, run_measured

RESULTS = ROOT / "benchmarks" / "results" / "store_layout.json"


def legacy_copy(interim: Path, folder: Path) -> None:
    """The store's current tables as one Parquet file each, with its availability."""
    from pipelines import store

    folder.mkdir(parents=True, exist_ok=True)
    for name, snap in store.open_tables(interim).items():
        pq.write_table(snap.arrow(), folder / f"{name}.parquet")
    shutil.copy2(store.side_file(interim, "availability.json"), folder / "availability.json")


def timed(source: Path, month: str, out: Path, code: Path = ROOT) -> dict[str, float]:
    """One month of features by the CLI of the code in ``code`` (a checkout of this project),
    in its own process, with this project's environment."""
    shutil.rmtree(out, ignore_errors=True)
    cmd = [
        sys.executable, "-m", "pipelines.cli", "features", "--source", str(source.resolve()),
        "--out", str(out.resolve()), "--from", month, "--to", month,
    ]  # fmt: skip
    wall, _rss, pss = run_measured(cmd, cwd=code)
    return {"wall_seconds": round(wall, 1), "peak_gib": round(pss / 2**30, 2)}


def compare(a_path: Path, b_path: Path) -> dict[str, Any]:
    """The two feature files: same enterprises in the same order, same columns, and per
    column equal or, for floats, the largest relative difference (DuckDB sums the rows of
    several files in another order than those of one file: the last bits of a sum may differ)."""
    import numpy as np

    a, b = pq.read_table(a_path), pq.read_table(b_path)
    if a.column_names != b.column_names or a.num_rows != b.num_rows:
        return {"same_shape": False}
    if not a.column("uscc").equals(b.column("uscc")):
        return {"same_shape": True, "same_enterprises": False}
    differ: dict[str, float | None] = {}
    for name in a.column_names:
        x, y = a.column(name), b.column(name)
        if x.equals(y):
            continue
        if pa.types.is_floating(x.type) and x.type == y.type:
            u, v = x.to_numpy(zero_copy_only=False), y.to_numpy(zero_copy_only=False)
            both = ~np.isnan(u) & ~np.isnan(v)
            if (np.isnan(u) != np.isnan(v)).any():
                differ[name] = None
                continue
            scale = np.maximum(np.abs(v[both]), np.finfo(float).tiny)
            differ[name] = float(np.max(np.abs(u[both] - v[both]) / scale))
        else:
            differ[name] = None  # not floats: any difference is a real one
    return {
        "same_shape": True,
        "same_enterprises": True,
        "columns_differing": differ,  # None: not a float rounding difference
        "identical": not differ,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--interim", type=Path, required=True)
    p.add_argument("--month", required=True)
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument(
        "--before",
        metavar="REV",
        help="also run the features of this git revision on the old layout (de18f76: the code "
        "before issue 21)",
    )
    args = p.parse_args()
    with tempfile.TemporaryDirectory(dir=args.interim.parent) as tmp:
        legacy = Path(tmp) / "legacy"
        t0 = time.perf_counter()
        legacy_copy(args.interim, legacy)
        print(f"old layout written in {time.perf_counter() - t0:.0f} s (not timed)", flush=True)
        variants: list[tuple[str, Path, Path]] = [
            ("delta", args.interim, ROOT),
            ("single_files", legacy, ROOT),
        ]
        if args.before:
            old = Path(tmp) / "before"
            subprocess.run(
                ["git", "worktree", "add", "--detach", "-q", str(old), args.before],
                cwd=ROOT,
                check=True,
            )
            variants.append(("before", legacy, old))
        runs: dict[str, list[dict[str, float]]] = {kind: [] for kind, _, _ in variants}
        try:
            for rep in range(args.repeats):
                # each repeat starts one variant later (an order effect would otherwise fall on
                # the same variant every time), and the last run's writes reach the disk first
                for kind, source, code in (
                    variants[rep % len(variants) :] + variants[: rep % len(variants)]
                ):
                    os.sync()
                    rec = timed(source, args.month, Path(tmp) / f"features-{kind}", code)
                    print(f"  {kind:<13}{rec['wall_seconds']:>8.1f} s {rec['peak_gib']:>6.2f} GiB")
                    runs[kind].append(rec)
        finally:
            if args.before:
                subprocess.run(["git", "worktree", "remove", "--force", str(old)], cwd=ROOT)
        compared = {
            kind: compare(
                Path(tmp) / "features-delta" / f"{args.month}.parquet",
                Path(tmp) / f"features-{kind}" / f"{args.month}.parquet",
            )
            for kind, _, _ in variants[1:]
        }
    best = {k: min(r["wall_seconds"] for r in v) for k, v in runs.items()}
    rec: dict[str, Any] = {
        "date_run": time.strftime("%Y-%m-%d"),  # audit stamp of the benchmark only
        "interim": str(args.interim),
        "month": args.month,
        "runs": runs,
        "best_seconds": best,
        "delta_over_single_files": round(best["delta"] / best["single_files"], 3),
        "features_compared_with_delta": compared,
        "machine": machine(),
        "measured": True,
    }
    if args.before:
        rec["before_revision"] = args.before
        rec["delta_over_before"] = round(best["delta"] / best["before"], 3)
    results = json.loads(RESULTS.read_text(encoding="utf-8")) if RESULTS.is_file() else {}
    results[args.interim.parent.parent.name] = rec
    RESULTS.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    print(json.dumps(rec["best_seconds"]), json.dumps(compared))


if __name__ == "__main__":
    main()
