"""A quarterly retrain, measured: 24 months of features, tuning, calibration and verification
on a province that has its history (issue 21: 7.5M enterprises in <= 60 minutes on 2 cores).

Uses the provinces `bench_month.py` caches under ``data/bench/month/`` (the same simulate and
history cut; setup is cached and reported apart). Each stage is a `riskclass` command in its own
process, sampled for wall time and the peak resident memory of its process tree:

1. ``features``: every feature of every enterprise at each of the 25 month ends (24 months of
   training history and the month retrained at), point in time;
2. ``train``: labels from the double-random inspections (1/p weights), Optuna tuning with the
   project's configs/model.yaml (its trials), the sector models, calibration, the class bands,
   registered in the run's own MLflow store (@challenger);
3. ``verify``: the new version on its held-out test months (hit rates by class, lift, the plain
   baseline, calibration per class, the verdict).

    python benchmarks/bench_retrain.py --enterprises 1000000
    python benchmarks/bench_retrain.py --enterprises 7500000 --as-of 2026-09

``--as-of M`` retrains at month M on the store of every row received by its end (cached beside
`bench_month.py`'s history, which at 7.5M is the cut before the month it measures: 2026-09).
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from typing import Any

from bench_month import _timed, history, province, riskclass, write_model_config
from common import ROOT, machine

from contract.months import add_months

RESULTS = ROOT / "benchmarks" / "results" / "retrain.json"
TARGET_SECONDS = 60 * 60


def retrain(args: argparse.Namespace) -> dict[str, Any]:
    n, m = args.enterprises, args.as_of
    base, sim = province(n, args.months, args.seed)
    interim, hist = history(base, add_months(m, 1))  # every row received by the end of m
    run = base / "retrain"
    shutil.rmtree(run, ignore_errors=True)
    run.mkdir(parents=True)
    cfg_path = run / "model.yaml"
    # 24 label months ending at the month retrained at (each paired with the month end before)
    write_model_config(run, cfg_path, first_label_month=add_months(m, -23), last_label_month=m)
    feats, outputs = run / "features", run / "outputs"
    first = add_months(m, -24)
    print(f"{n:>10,} enterprises: the quarterly retrain at {m}", flush=True)
    stages = {
        "features": _timed(
            "features",
            riskclass("features", "--source", str(interim), "--out", str(feats), "--from", first, "--to", m),
        ),
        "train": _timed(
            "train",
            riskclass(
                "train", "--features", str(feats), "--interim", str(interim), "--config", str(cfg_path),
                "--metrics-out", str(run / "train_metrics.json"),
            ),
        ),
        "verify": _timed(
            "verify",
            riskclass(
                "verify", "--as-of", m, "--alias", "challenger", "--features", str(feats),
                "--interim", str(interim), "--out", str(outputs), "--config", str(cfg_path),
                "--report-only",
            ),
        ),
    }  # fmt: skip
    total = round(sum(s["wall_seconds"] for s in stages.values()), 1)
    peak = max(s["peak_gib"] for s in stages.values())
    metrics = json.loads((run / "train_metrics.json").read_text(encoding="utf-8"))
    verdict = json.loads(
        (outputs / m / "verification" / "metrics.json").read_text(encoding="utf-8")
    )
    print(f"  {'total':<10}{total:>9.1f} s {peak:>7.2f} GiB", flush=True)
    return {
        "date_run": time.strftime("%Y-%m-%d"),  # audit stamp of the benchmark only
        "enterprises": n,
        "as_of": m,
        "feature_months": 25,
        "labels": metrics.get("labelled", metrics.get("labels")),
        "test_auc": metrics.get("test_auc"),
        "verdict": verdict.get("verdict"),
        "stages": stages,
        "total_wall_seconds": total,
        "peak_gib": peak,
        "target_seconds": TARGET_SECONDS,
        "within_target": total <= TARGET_SECONDS,
        "setup": {**sim, **hist},
        "machine": machine(),
        "measured": True,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--enterprises", type=int, default=1_000_000)
    p.add_argument("--months", type=int, default=36)
    p.add_argument("--as-of", default="2026-10")
    p.add_argument("--seed", type=int, default=20261)
    args = p.parse_args()
    rec = retrain(args)
    results = json.loads(RESULTS.read_text(encoding="utf-8")) if RESULTS.is_file() else {}
    results[str(args.enterprises)] = rec
    RESULTS.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    print(f"written {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
