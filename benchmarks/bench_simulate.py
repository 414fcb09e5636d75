"""Benchmark `riskclass simulate`: wall time and peak memory at given province sizes.

Runs the real command in a subprocess, samples the resident memory of the whole process
tree (the CLI and its worker processes) every 0.2 s, and writes one JSON record per size
to benchmarks/results/simulate.json. Sizes not run can be extrapolated linearly from the
largest measured one, and are labelled as such.

    python benchmarks/bench_simulate.py --sizes 100000 1000000 --months 36
    python benchmarks/bench_simulate.py --sizes 7500000 --months 36   # the province target

Target (issue 3): 7.5M enterprises x 36 months in <= 15 min and <= 12 GiB on 2 cores.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "simulate.json"
TARGET_N, TARGET_SECONDS, TARGET_GIB = 7_500_000, 15 * 60, 12.0


def _tree_rss(proc: psutil.Process) -> int:
    total = 0
    for p in [proc, *proc.children(recursive=True)]:
        with contextlib.suppress(psutil.Error):  # a worker may exit between listing and reading
            total += p.memory_info().rss
    return total


def _folder_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


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
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    ps = psutil.Process(proc.pid)
    peak = 0
    while proc.poll() is None:
        peak = max(peak, _tree_rss(ps))
        time.sleep(0.2)
    wall = time.perf_counter() - start
    stderr = proc.stderr.read().decode() if proc.stderr else ""
    if proc.returncode:
        raise SystemExit(f"simulate failed for n={n}:\n{stderr[-2000:]}")
    summary = json.loads((scratch / "summary.json").read_text(encoding="utf-8"))
    return {
        "enterprises": n,
        "months": months,
        "workers": workers,
        "measured": True,
        "wall_seconds": round(wall, 1),
        "peak_rss_gib": round(peak / 2**30, 2),
        "enterprises_per_second": round(n / wall),
        "raw_bytes": _folder_bytes(out),
        "truth_bytes": _folder_bytes(truth),
        "rows": summary["rows"],
        "oracle_auc": summary["oracle_auc"],
    }


def extrapolate(base: dict[str, object], n: int) -> dict[str, object]:
    """Linear in N for time and disk (chunks are independent); memory is per chunk, flat."""
    scale = n / int(base["enterprises"])  # type: ignore[call-overload]
    return {
        "enterprises": n,
        "months": base["months"],
        "workers": base["workers"],
        "measured": False,
        "extrapolated_from": base["enterprises"],
        "wall_seconds": round(float(base["wall_seconds"]) * scale, 1),  # type: ignore[arg-type]
        "peak_rss_gib": base["peak_rss_gib"],
        "raw_bytes": int(int(base["raw_bytes"]) * scale),  # type: ignore[call-overload]
        "truth_bytes": int(int(base["truth_bytes"]) * scale),  # type: ignore[call-overload]
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
    machine = {
        "cpus": os.cpu_count(),
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "python": platform.python_version(),
        "machine": platform.machine(),
    }
    measured = []
    for n in args.sizes:
        scratch = Path(tempfile.mkdtemp(prefix="bench-sim-", dir=args.scratch))
        try:
            rec = measure(n, args.months, args.seed, args.workers, args.config, scratch)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        rec["machine"] = machine
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
        largest = max(measured, key=lambda r: int(r["enterprises"]))  # type: ignore[call-overload]
        records[key] = extrapolate(largest, TARGET_N)
        rec = records[key]
        print(
            f"{TARGET_N:>10,} enterprises x {args.months} months: {rec['wall_seconds']:>7.1f} s, "
            f"peak {rec['peak_rss_gib']:.2f} GiB  (EXTRAPOLATED from {largest['enterprises']:,}, not measured)"
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
