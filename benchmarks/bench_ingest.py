"""Benchmark `riskclass ingest` on a simulated province delivered as Parquet.

For each size, simulates the province (not timed), then runs the real `riskclass ingest`
in a subprocess, samples the memory of its process tree every 0.2 s, and records wall
time, rows/s and peak memory in benchmarks/results/ingest.json. A 7.5M figure not measured
is extrapolated linearly from the largest measured size and labelled so.

    python benchmarks/bench_ingest.py --sizes 100000 1000000
    python benchmarks/bench_ingest.py --sizes 7500000      # the province target

Target (issue 4): a 7.5M-enterprise province ingests in <= 20 minutes on 2 cores, memory
bounded by chunking (DuckDB's memory limit and GE batches), not by N.
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

RESULTS = ROOT / "benchmarks" / "results" / "ingest.json"
TARGET_N, TARGET_SECONDS = 7_500_000, 20 * 60


def measure(n: int, months: int, seed: int, as_of: str, scratch: Path) -> dict[str, object]:
    py = sys.executable
    run_sampled([py, "-m", "pipelines.cli", "simulate", "--enterprises", str(n), "--months", str(months),
                 "--seed", str(seed), "--out", str(scratch / "raw"), "--truth-out", str(scratch / "truth"),
                 "--summary-out", str(scratch / "s.json")])  # fmt: skip
    wall, peak = run_sampled([py, "-m", "pipelines.cli", "ingest", "--source", str(scratch / "raw"),
                              "--out", str(scratch / "interim"), "--as-of", as_of,
                              "--report-out", str(scratch / "rec.json")])  # fmt: skip
    rec = json.loads((scratch / "rec.json").read_text(encoding="utf-8"))
    rows = sum(t["rows_read"] for t in rec["tables"].values())
    return {
        "enterprises": n,
        "measured": True,
        "rows_read": rows,
        "quarantined": sum(t["quarantined"] for t in rec["tables"].values()),
        "unaccounted": rec["unaccounted_rows"],
        "wall_seconds": round(wall, 1),
        "rows_per_second": round(rows / wall),
        "peak_rss_gib": round(peak / 2**30, 2),
        "input_bytes": folder_bytes(scratch / "raw"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--months", type=int, default=36)
    parser.add_argument("--seed", type=int, default=20261)
    parser.add_argument("--as-of", default="2026-10")
    parser.add_argument("--scratch", type=Path, default=None)
    args = parser.parse_args()
    records = json.loads(RESULTS.read_text(encoding="utf-8")) if RESULTS.exists() else {}
    measured = []
    for n in args.sizes:
        scratch = Path(tempfile.mkdtemp(prefix="bench-ingest-", dir=args.scratch))
        try:
            record = measure(n, args.months, args.seed, args.as_of, scratch)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        record["machine"] = machine()
        record["date_run"] = time.strftime("%Y-%m-%d")  # audit stamp of the benchmark only
        records[str(n)] = record
        measured.append(record)
        print(
            f"{n:>10,} enterprises: {record['rows_read']:,} rows in {record['wall_seconds']} s = "
            f"{record['rows_per_second']:,} rows/s, peak {record['peak_rss_gib']:.2f} GiB"
        )
    key = str(TARGET_N)
    if not records.get(key, {}).get("measured") and measured:
        base = max(measured, key=lambda r: int(str(r["enterprises"])))
        records[key] = extrapolate(base, TARGET_N, ("wall_seconds", "rows_read"))
        print(
            f"{TARGET_N:>10,} enterprises: {records[key]['wall_seconds']} s (EXTRAPOLATED from {base['enterprises']:,}, not measured)"
        )
    target = records.get(key)
    if target:
        label = "measured" if target.get("measured") else "extrapolated"
        ok = float(target["wall_seconds"]) <= TARGET_SECONDS
        print(
            f"target 7.5M in <= 20 min: {'MET' if ok else 'NOT MET'} ({label}), peak {target['peak_rss_gib']} GiB"
        )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(records, indent=2, sort_keys=True) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
