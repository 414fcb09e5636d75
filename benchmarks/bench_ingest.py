"""Benchmark `riskclass ingest` on a simulated province delivered as Parquet.

For each size, simulates the province (not timed), then runs the real `riskclass ingest`
in a subprocess, samples the memory of its process tree every 0.2 s, and records wall
time, rows/s and peak memory in benchmarks/results/ingest.json. A 7.5M figure not measured
is extrapolated linearly from the largest measured size and labelled so.

    python benchmarks/bench_ingest.py --sizes 100000 1000000
    python benchmarks/bench_ingest.py --sizes 7500000      # the province target
    python benchmarks/bench_ingest.py --incremental --sizes 100000 1000000

``--incremental`` (issue 21): for each size and each history length (``--histories``, months
of records before the month), ingests the history up to month M-1 (the simulator's raw files
cut by ``received_date``, `simulator.deliveries`; not timed), then times the month's delivery
(rows received in M, plus the registry) into that store, and compares it with today's cost of
a month: the whole history re-ingested into a fresh folder. Results go to
benchmarks/results/ingest_incremental.json; a month's delivery should cost about the same at 12
and 36 months of history.

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
INCREMENTAL = ROOT / "benchmarks" / "results" / "ingest_incremental.json"
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


def _month(as_of: str, back: int) -> str:
    y, m = (int(x) for x in as_of.split("-"))
    k = y * 12 + (m - 1) - back
    return f"{k // 12:04d}-{k % 12 + 1:02d}"


def _ingest(source: Path, out: Path, as_of: str, report: Path) -> tuple[float, float, dict]:  # type: ignore[type-arg]
    py = sys.executable
    wall, peak = run_sampled([py, "-m", "pipelines.cli", "ingest", "--source", str(source),
                              "--out", str(out), "--as-of", as_of,
                              "--report-out", str(report)])  # fmt: skip
    return wall, peak, json.loads(report.read_text(encoding="utf-8"))


def measure_incremental(
    n: int, histories: list[int], seed: int, scratch: Path
) -> dict[str, object]:
    """One province simulated with the longest history; for each history length H, the store
    holds the H months before the month M (M fixed at the end of the simulation), then M's
    delivery is ingested (timed); the full re-ingest of everything received by M is timed
    once, as today's cost of a month."""
    from simulator.deliveries import cut_history, cut_month

    sys.path.insert(0, str(ROOT))
    py = sys.executable
    months = max(histories) + 1
    as_of = "2026-10"
    if not (scratch / "s.json").is_file():  # a kept scratch folder keeps its province
        run_sampled([py, "-m", "pipelines.cli", "simulate", "--enterprises", str(n), "--months", str(months),
                     "--seed", str(seed), "--out", str(scratch / "raw"), "--truth-out", str(scratch / "truth"),
                     "--summary-out", str(scratch / "s.json")])  # fmt: skip
    prev = _month(as_of, 1)
    delivery = scratch / "delivery"
    counts = cut_month(scratch / "raw", delivery, as_of)
    out: dict[str, object] = {
        "enterprises": n,
        "month": as_of,
        "delivery_rows": sum(counts.values()),
        "delivery_registry_rows": counts.get("enterprises", 0),
        "by_history": {},
    }
    by: dict[str, object] = {}
    for h in histories:
        first = _month(as_of, h)  # records received after this month's end ... up to M-1
        hist = scratch / f"history-{h}"
        counts_h = cut_history(scratch / "raw", hist, prev)
        if h < months - 1:  # a shorter history: drop what was received before its first month
            import duckdb

            con = duckdb.connect()
            from contract.tables import TABLES

            for name, spec in TABLES.items():
                f = hist / f"{name}.parquet"
                if name == "enterprises" or not spec.received_date or not f.is_file():
                    continue
                tmp = hist / f".{name}.parquet"
                con.execute(f"COPY (SELECT * FROM read_parquet('{f}') WHERE received_date > "
                            f"last_day(strptime('{first}-01', '%Y-%m-%d')::DATE)) TO '{tmp}' (FORMAT parquet)")  # fmt: skip
                tmp.replace(f)
            con.close()
        store_dir = scratch / f"interim-{h}"
        shutil.rmtree(store_dir, ignore_errors=True)  # a fresh store (a kept scratch folder)
        wall_h, _, rec_h = _ingest(hist, store_dir, prev, scratch / f"rec-h{h}.json")
        wall, peak, rec = _ingest(delivery, store_dir, as_of, scratch / f"rec-m{h}.json")
        history_rows = sum(int(t["rows_in_interim"]) for t in rec_h["tables"].values())
        by[str(h)] = {
            "history_months": h,
            "history_rows_in_store": history_rows,
            "history_ingest_seconds": round(wall_h, 1),
            "month_wall_seconds": round(wall, 1),
            "month_peak_rss_gib": round(peak / 2**30, 2),
            "month_rows_read": sum(int(t["rows_read"]) for t in rec["tables"].values()),
            "month_unaccounted": rec["unaccounted_rows"],
            "month_merge": {
                k: t["merge"] for k, t in rec["tables"].items() if t["status"] == "ingested"
            },
        }
        del counts_h
        print(f"{n:>10,} enterprises, {h} months of history ({history_rows:,} rows): month's "
              f"delivery in {wall:.1f} s, peak {peak / 2**30:.2f} GiB", flush=True)  # fmt: skip
        shutil.rmtree(hist, ignore_errors=True)
        shutil.rmtree(store_dir, ignore_errors=True)
    out["by_history"] = by
    full = scratch / "full"
    cut_history(scratch / "raw", full, as_of)
    shutil.rmtree(scratch / "interim-full", ignore_errors=True)  # today's cost: a fresh folder
    wall, peak, rec = _ingest(full, scratch / "interim-full", as_of, scratch / "rec-full.json")
    out["full_reingest"] = {
        "history_months": months,
        "rows_read": sum(int(t["rows_read"]) for t in rec["tables"].values()),
        "wall_seconds": round(wall, 1),
        "peak_rss_gib": round(peak / 2**30, 2),
    }
    print(f"{n:>10,} enterprises: full re-ingest of {months} months in {wall:.1f} s", flush=True)
    return out


def incremental(args: argparse.Namespace) -> None:
    records = json.loads(INCREMENTAL.read_text(encoding="utf-8")) if INCREMENTAL.exists() else {}
    for n in args.sizes:
        # --scratch: the simulated province is kept there for a rerun; else a temporary folder
        scratch = (
            args.scratch / f"bench-ingest-inc-{n}"
            if args.scratch
            else Path(tempfile.mkdtemp(prefix="bench-ingest-inc-"))
        )
        scratch.mkdir(parents=True, exist_ok=True)
        try:
            record = measure_incremental(n, args.histories, args.seed, scratch)
        finally:
            if not args.scratch:
                shutil.rmtree(scratch, ignore_errors=True)
        record["machine"] = machine()
        record["date_run"] = time.strftime("%Y-%m-%d")  # audit stamp of the benchmark only
        records[str(n)] = record
        INCREMENTAL.parent.mkdir(parents=True, exist_ok=True)
        INCREMENTAL.write_text(json.dumps(records, indent=2, sort_keys=True) + "\n", "utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--months", type=int, default=36)
    parser.add_argument("--seed", type=int, default=20261)
    parser.add_argument("--as-of", default="2026-10")
    parser.add_argument("--scratch", type=Path, default=None)
    parser.add_argument(
        "--incremental", action="store_true", help="a month's delivery into a store"
    )
    parser.add_argument("--histories", type=int, nargs="+", default=[12, 36])
    args = parser.parse_args()
    if args.incremental:
        incremental(args)
        return
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
