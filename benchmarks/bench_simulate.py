"""Benchmark `riskclass simulate`: wall time and peak memory at given province sizes.

Runs the real command in a subprocess, samples the resident memory of the whole process
tree (the CLI and its worker processes) every 0.2 s, and writes one JSON record per size
to benchmarks/results/simulate.json. A 7.5M figure not measured is extrapolated linearly
from the largest measured size, and labelled as such.

    python benchmarks/bench_simulate.py --sizes 100000 1000000 --months 36
    python benchmarks/bench_simulate.py --sizes 7500000 --months 36   # the province target

Target (issue 3): 7.5M enterprises x 36 months in <= 15 min and <= 12 GiB on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

from common import ROOT, extrapolate, folder_bytes, machine, run_sampled

RESULTS = ROOT / "benchmarks" / "results" / "simulate.json"
TARGET_N, TARGET_SECONDS, TARGET_GIB = 7_500_000, 15 * 60, 12.0


def measure(
    n: int, months: int, seed: int, workers: int, config: Path, scratch: Path
) -> dict[str, object]:
    out, truth = scratch / "raw", scratch / "truth"
    cmd = [
        sys.executable, "-m", "pipelines.cli", "simulate", "--config", str(config),
        "--enterprises", str(n), "--months", str(months), "--seed", str(seed),
        "--out", str(out), "--truth-out", str(truth), "--summary-out", str(scratch / "summary.json"),
        "--workers", str(workers),
    ]  # fmt: skip
    wall, peak = run_sampled(cmd)
    summary = json.loads((scratch / "summary.json").read_text(encoding="utf-8"))
    return {
        "enterprises": n,
        "months": months,
        "workers": workers,
        "measured": True,
        "wall_seconds": round(wall, 1),
        "peak_rss_gib": round(peak / 2**30, 2),
        "enterprises_per_second": round(n / wall),
        "raw_bytes": folder_bytes(out),
        "truth_bytes": folder_bytes(truth),
        "rows": summary["rows"],
        "oracle_auc": summary["oracle_auc"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--months", type=int, default=36)
    parser.add_argument("--seed", type=int, default=20261)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--config", type=Path, default=ROOT / "configs" / "simulator.yaml")
    parser.add_argument(
        "--scratch", type=Path, default=None, help="where to write (deleted after each size)"
    )
    args = parser.parse_args()

    records = json.loads(RESULTS.read_text(encoding="utf-8")) if RESULTS.exists() else {}
    measured = []
    for n in args.sizes:
        scratch = Path(tempfile.mkdtemp(prefix="bench-sim-", dir=args.scratch))
        try:
            rec = measure(n, args.months, args.seed, args.workers, args.config, scratch)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        rec["machine"] = machine()
        rec["date_run"] = time.strftime(
            "%Y-%m-%d"
        )  # audit stamp of the benchmark, not a computation input
        records[f"{n}x{args.months}"] = rec
        measured.append(rec)
        print(
            f"{n:>10,} enterprises x {args.months} months: {rec['wall_seconds']:>7.1f} s, "
            f"peak {rec['peak_rss_gib']:.2f} GiB, {rec['enterprises_per_second']:,} enterprises/s"
        )
    key = f"{TARGET_N}x{args.months}"
    if not records.get(key, {}).get("measured") and measured:
        largest = max(measured, key=lambda r: int(str(r["enterprises"])))
        records[key] = extrapolate(largest, TARGET_N, ("wall_seconds", "raw_bytes", "truth_bytes"))
        print(
            f"{TARGET_N:>10,} enterprises: {records[key]['wall_seconds']} s (EXTRAPOLATED from {largest['enterprises']:,}, not measured)"
        )
    target = records.get(key)
    if target:
        ok = (
            float(target["wall_seconds"]) <= TARGET_SECONDS
            and float(target["peak_rss_gib"]) <= TARGET_GIB
        )
        label = "measured" if target.get("measured") else "extrapolated"
        print(
            f"target 7.5M x 36 in <= 15 min and <= 12 GiB: {'MET' if ok else 'NOT MET'} ({label})"
        )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(records, indent=2, sort_keys=True) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
