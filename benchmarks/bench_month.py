"""One whole month, measured: a province that already has its history takes in the month's
delivery and runs every stage a bureau runs at a month end.

Setup (cached under ``data/bench/month/``, timed and reported apart from the month):

* the province of ``--enterprises`` firms x ``--months`` months (`riskclass simulate`);
* its history: the raw tables cut at the end of the month before ``--as-of`` (rows received
  by then; `simulator.deliveries`), ingested into the incremental interim store;
* a model version: trained (`riskclass train`, the project's configs/model.yaml, its own MLflow
  store under the work folder) on a province of ``--train-size`` firms built the same way
  (a quarterly retrain is `bench_retrain.py`'s business, not a month's), registered @challenger.

The month, each stage a `riskclass` command in its own process, sampled for wall time and the
peak memory of its whole process tree (summed PSS, and RSS; Spark's JVMs included):

1. ``ingest``: the month's delivery (the rows received in ``--as-of``, and the registry) into
   the store that holds the history;
2. ``features``: every feature of every enterprise at the month end;
3. ``classify``: score, class and every enterprise's explanation (exact TreeSHAP), and the
   what-if of the highest classes;
4. ``plan``: the routine double-random round (configs/campaigns/routine.yaml);
5. ``verify``: the month's verification (hit rates by class, lift, the verdict);
6. ``reports``: the report of every class-D enterprise (HTML).

Targets on 2 cores (issue 21): 7.5M enterprises in <= 30 minutes and <= 16 GiB.

    python benchmarks/bench_month.py --enterprises 1000000
    python benchmarks/bench_month.py --enterprises 7500000 --setup-only   # the cached setup alone
    python benchmarks/bench_month.py --enterprises 7500000
    python benchmarks/bench_month.py --enterprises 100000 --engine spark --spark-master 'local[2]'
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from common import ROOT, folder_bytes, machine, run_measured

from contract.months import add_months, previous_month

RESULTS = ROOT / "benchmarks" / "results" / "month.json"
WORK = ROOT / "data" / "bench" / "month"
TARGET_SECONDS = 30 * 60
TARGET_GIB = 16.0
STAGES = ("ingest", "features", "classify", "plan", "verify", "reports")


def riskclass(*args: str) -> list[str]:
    return [sys.executable, "-m", "pipelines.cli", *args]


def _timed(label: str, cmd: list[str]) -> dict[str, float]:
    """Wall time and peak memory of one command's process tree: ``peak_gib`` is the summed PSS
    (what the tree holds: forked workers' shared pages counted once), ``peak_rss_gib`` the
    summed RSS (each worker's shared pages counted again)."""
    print(f"  {label:<10}", end="", flush=True)
    wall, rss, pss = run_measured(cmd)
    rec = {
        "wall_seconds": round(wall, 1),
        "peak_gib": round(pss / 2**30, 2),
        "peak_rss_gib": round(rss / 2**30, 2),
    }
    print(
        f"{rec['wall_seconds']:>9.1f} s {rec['peak_gib']:>7.2f} GiB (RSS sum {rec['peak_rss_gib']:.2f})",
        flush=True,
    )
    return rec


def province(n: int, months: int, seed: int) -> tuple[Path, dict[str, Any]]:
    """The raw province of ``n`` firms (cached); (folder, setup figures)."""
    base = WORK / f"province-{n}x{months}-s{seed}"
    ready = base / "ready.json"
    if ready.is_file():
        return base, json.loads(ready.read_text(encoding="utf-8"))
    shutil.rmtree(base, ignore_errors=True)
    base.mkdir(parents=True)
    print(f"{n:>10,} enterprises: simulate {months} months (setup)", flush=True)
    rec = _timed(
        "simulate",
        riskclass(
            "simulate",
            "--enterprises", str(n),
            "--months", str(months),
            "--seed", str(seed),
            "--out", str(base / "raw"),
            "--truth-out", str(base / "truth"),
            "--summary-out", str(base / "simulate.json"),
        ),
    )  # fmt: skip
    info = {"simulate": rec, "raw_bytes": folder_bytes(base / "raw")}
    ready.write_text(json.dumps(info, indent=2), encoding="utf-8")
    return base, info


def history(base: Path, as_of: str, more: tuple[str, ...] = ()) -> tuple[Path, dict[str, Any]]:
    """The province's interim store holding every row received before ``as_of``, last month's
    features built from it (and those of the ``more`` months: verification's reference month),
    and the month's delivery cut beside it (each cached)."""
    from simulator.deliveries import cut_history, cut_month

    prev = previous_month(as_of)
    hist = base / f"history-{prev}"
    delivery = base / f"delivery-{as_of}"
    interim = base / f"interim-{prev}"
    feats = base / f"features-{prev}"
    ready = interim.parent / f"interim-{prev}.json"
    info: dict[str, Any] = {}
    if ready.is_file() and (interim / "_state").is_dir():
        info = json.loads(ready.read_text(encoding="utf-8"))
    else:
        for p in (hist, delivery, interim, feats):
            shutil.rmtree(p, ignore_errors=True)
        cut_history(base / "raw", hist, prev)
        cut_month(base / "raw", delivery, as_of)
        print(f"  history up to {prev}: ingest (setup)", flush=True)
        info["ingest_history"] = _timed(
            "history",
            riskclass("ingest", "--source", str(hist), "--out", str(interim), "--as-of", prev),
        )
        info["history_bytes"] = folder_bytes(hist)
        info["delivery_bytes"] = folder_bytes(delivery)
    for m in sorted({prev, *more}):
        if not (feats / f"{m}.parquet").is_file():
            print(f"  earlier features {m} (setup)", flush=True)
            info[f"features_{m}"] = _timed(
                "features",
                riskclass("features", "--source", str(interim), "--out", str(feats), "--from", m, "--to", m),
            )  # fmt: skip
    ready.write_text(json.dumps(info, indent=2), encoding="utf-8")
    return interim, info


def write_model_config(work: Path, path: Path, **overrides: Any) -> None:
    """The project's configs/model.yaml with its own MLflow store under ``work`` and the
    files it names made absolute (the benchmark runs its commands on folders of its own);
    ``overrides``: top-level keys set (e.g. the label months of a retrain at another month)."""
    import yaml

    cfg = yaml.safe_load((ROOT / "configs" / "model.yaml").read_text(encoding="utf-8"))
    cfg.update(overrides)
    cfg["mlflow"]["tracking_uri"] = f"sqlite:///{work / 'mlflow.db'}"
    cfg["mlflow"]["artifact_root"] = str(work / "artifacts")
    for key in ("class_scheme", "indicator_weights"):
        if isinstance(cfg.get(key), str) and not Path(cfg[key]).is_absolute():
            cfg[key] = str(ROOT / cfg[key])
    path.write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")


def model(train_size: int, months: int, seed: int, as_of: str) -> tuple[Path, dict[str, Any]]:
    """A registered model version (@challenger) trained on a province of ``train_size``
    firms, and the model config that points at its MLflow store (cached)."""
    base, _ = province(train_size, months, seed)
    work = base / "model"
    cfg_path = work / "model.yaml"
    ready = work / "ready.json"
    if ready.is_file():
        return cfg_path, json.loads(ready.read_text(encoding="utf-8"))
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)

    write_model_config(work, cfg_path)
    interim = work / "interim"
    feats = work / "features"
    prev = previous_month(as_of)
    first = add_months(prev, -24)  # 24 months of training history, and the last month
    print(f"{train_size:>10,} enterprises: the model version (setup)", flush=True)
    info = {
        "train_size": train_size,
        "ingest": _timed(
            "ingest",
            riskclass("ingest", "--source", str(base / "raw"), "--out", str(interim), "--as-of", prev),
        ),
        "features": _timed(
            "features",
            riskclass("features", "--source", str(interim), "--out", str(feats), "--from", first, "--to", prev),
        ),
        "train": _timed(
            "train",
            riskclass(
                "train", "--features", str(feats), "--interim", str(interim),
                "--config", str(cfg_path), "--metrics-out", str(work / "train_metrics.json"),
            ),
        ),
    }  # fmt: skip
    ready.write_text(json.dumps(info, indent=2), encoding="utf-8")
    return cfg_path, info


def verification_reference(cfg_path: Path) -> str:
    """The month whose population verification measures drift against (the model's)."""
    from models.config import ModelConfig
    from pipelines.config import load_config
    from pipelines.verify.monitoring import reference_month

    return reference_month(load_config(cfg_path, ModelConfig))


def commands(args: argparse.Namespace, base: Path, run: Path, cfg: Path) -> dict[str, list[str]]:
    """Each stage of the month, in order: the `riskclass` command on the run's folders."""
    m = args.as_of
    interim, feats, outputs = run / "interim", run / "features", run / "outputs"
    engine = (
        ["--engine", "spark", "--spark-master", args.spark_master] if args.engine == "spark" else []
    )
    return {
        "ingest": riskclass(
            "ingest", "--source", str(base / f"delivery-{m}"), "--out", str(interim), "--as-of", m
        ),
        "features": riskclass(
            "features", "--source", str(interim), "--out", str(feats), "--from", m, "--to", m,
            *engine,
        ),
        "classify": riskclass(
            "classify", "--as-of", m, "--features", str(feats), "--out", str(outputs),
            "--config", str(cfg), "--alias", "challenger", "--interim", str(interim), *engine,
        ),
        "plan": riskclass(
            "plan", "--as-of", m, "--campaign", str(ROOT / "configs" / "campaigns" / "routine.yaml"),
            "--seed", str(args.seed), "--outputs", str(outputs), "--interim", str(interim),
            "--config", str(cfg),
        ),
        "verify": riskclass(
            "verify", "--as-of", m, "--from", m, "--alias", "challenger", "--features", str(feats),
            "--interim", str(interim), "--out", str(outputs), "--config", str(cfg), "--report-only",
        ),
        "reports": riskclass(
            "report", "--as-of", m, "--class", "D", "--outputs", str(outputs), "--features", str(feats),
            "--interim", str(interim), "--config", str(cfg), "--out", str(run / "reports-D"),
        ),
    }  # fmt: skip


def rerun(args: argparse.Namespace, record: dict[str, Any]) -> dict[str, Any]:
    """Measure ``args.rerun`` stages again on the last run's folders (after a change to those
    stages; a stage's inputs are the earlier stages' outputs, which are still there), and
    keep the figures beside the run's: ``remeasured`` per stage with its date, and the total
    with them in place of the first figures (``total_wall_seconds_remeasured``)."""
    base, _sim = province(args.enterprises, args.months, args.seed)
    cfg, _trained = model(args.train_size, args.months, args.seed, args.as_of)
    run = base / f"run-{args.engine}"
    if not (run / "outputs").is_dir():
        raise SystemExit(f"no earlier run in {run}: run the month first")
    cmds = commands(args, base, run, cfg)
    again = record.setdefault("remeasured", {})
    for stage in args.rerun:
        again[stage] = {**_timed(stage, cmds[stage]), "date_run": time.strftime("%Y-%m-%d")}
    now = {k: again.get(k, v) for k, v in record["stages"].items()}
    record["total_wall_seconds_remeasured"] = round(sum(s["wall_seconds"] for s in now.values()), 1)
    record["peak_gib_remeasured"] = max(s["peak_gib"] for s in now.values())
    record["within_targets_remeasured"] = (
        record["total_wall_seconds_remeasured"] <= TARGET_SECONDS
        and record["peak_gib_remeasured"] <= TARGET_GIB
    )
    print(
        f"  {'total':<10}{record['total_wall_seconds_remeasured']:>9.1f} s "
        f"{record['peak_gib_remeasured']:>7.2f} GiB (with the stages measured again)",
        flush=True,
    )
    return record


def month(args: argparse.Namespace) -> dict[str, Any]:
    n, m = args.enterprises, args.as_of
    base, sim = province(n, args.months, args.seed)
    cfg, trained = model(args.train_size, args.months, args.seed, m)
    interim_hist, hist = history(base, m, (verification_reference(cfg),))
    if args.setup_only:
        return {}
    # every run starts from the same history: a copy of the cached store (not timed)
    run = base / f"run-{args.engine}"
    shutil.rmtree(run, ignore_errors=True)
    run.mkdir(parents=True)
    interim = run / "interim"
    shutil.copytree(interim_hist, interim)
    feats, outputs = run / "features", run / "outputs"
    # last month's features were built last month: verification reads them (the outcomes of
    # this month's inspections against the features the plan was drawn from)
    shutil.copytree(base / f"features-{previous_month(m)}", feats)
    print(f"{n:>10,} enterprises: the month {m} ({args.engine})", flush=True)
    stages = {name: _timed(name, cmd) for name, cmd in commands(args, base, run, cfg).items()}
    total = round(sum(s["wall_seconds"] for s in stages.values()), 1)
    peak = max(s["peak_gib"] for s in stages.values())
    summary = json.loads((outputs / m / "classes_summary.json").read_text(encoding="utf-8"))
    reports = sum(1 for _ in (run / "reports-D").rglob("*.html"))
    print(f"  {'total':<10}{total:>9.1f} s {peak:>7.2f} GiB", flush=True)
    return {
        "date_run": time.strftime("%Y-%m-%d"),  # audit stamp of the benchmark only
        "enterprises": n,
        "months": args.months,
        "as_of": m,
        "engine": args.engine,
        **({"spark_master": args.spark_master} if args.engine == "spark" else {}),
        "classified": summary["enterprises"],
        "reports_class_d": reports,
        "stages": stages,
        "total_wall_seconds": total,
        "peak_gib": peak,
        "peak_rss_gib": max(s["peak_rss_gib"] for s in stages.values()),
        "targets": {"seconds": TARGET_SECONDS, "gib": TARGET_GIB},
        "within_targets": total <= TARGET_SECONDS and peak <= TARGET_GIB,
        "setup": {**sim, **hist, "model": trained},
        "machine": machine(),
        "measured": True,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--enterprises", type=int, default=1_000_000)
    p.add_argument("--months", type=int, default=36)
    p.add_argument("--as-of", default="2026-10")
    p.add_argument("--seed", type=int, default=20261)
    p.add_argument("--train-size", type=int, default=100_000)
    p.add_argument("--engine", choices=("duckdb", "spark"), default="duckdb")
    p.add_argument("--spark-master", default="local[2]")
    p.add_argument(
        "--setup-only", action="store_true",
        help="build (or find) the cached province, history and model, and stop before the month",
    )  # fmt: skip
    p.add_argument(
        "--rerun", nargs="+", choices=STAGES, metavar="STAGE",
        help="measure these stages again on the last run's folders (after a change to them)",
    )  # fmt: skip
    args = p.parse_args()
    key = f"{args.enterprises}-{args.engine}"
    results = json.loads(RESULTS.read_text(encoding="utf-8")) if RESULTS.is_file() else {}
    if args.rerun:
        if key not in results:
            raise SystemExit(f"no recorded run {key} in {RESULTS}: run the month first")
        rec = rerun(args, results[key])
    else:
        rec = month(args)
    if args.setup_only:
        print("setup ready")
        return
    results[key] = rec
    RESULTS.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    print(f"written {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
