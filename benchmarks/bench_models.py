"""Benchmark training (with tuning) and classification at province scale.

Uses the provinces `bench_features.py` caches under ``data/bench/features/`` (run it first
for the sizes you want). For the training size it builds 25 months of features (not timed,
cached), then, each step in its own subprocess sampled for peak memory:

* ``train``: `pipelines.train.run_train` with the project's `configs/model.yaml` (its own
  MLflow store under the work folder): labelled rows, trials, wall time, peak memory;
* for every size in ``--classify-sizes``: ``classify`` (`pipelines.classify.run_classify`
  end to end: reading features in batches, scoring, calibration, classes, overrides,
  writing) and, side by side on the same model and the same rows, ``raw_predict``: only
  ``Booster.predict`` on the same batches, with the matrix prepared outside the clock.
  The ratio classify / raw predict is the throughput target (>= 0.8).

    python benchmarks/bench_models.py --train-size 1000000 --classify-sizes 1000000 7500000
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from common import ROOT, machine, run_sampled

RESULTS = ROOT / "benchmarks" / "results" / "models.json"
WORK = ROOT / "data" / "bench" / "models"
PROVINCES = ROOT / "data" / "bench" / "features"


def interim_for(n: int) -> Path:
    found = sorted(PROVINCES.glob(f"province-{n}x*"))
    if not found or not (found[0] / "ready.json").is_file():
        raise SystemExit(
            f"no cached province of {n:,}; run benchmarks/bench_features.py --sizes {n} first"
        )
    return found[0] / "interim"


def _current(out: Path, months: list[str]) -> bool:
    """Whether the cached files were built by today's feature catalog (its fingerprint)."""
    import pyarrow.parquet as pq

    from features.config import FeaturesConfig
    from pipelines.config import load_config
    from pipelines.features import catalog_fingerprint

    want = catalog_fingerprint(load_config(ROOT / "configs" / "features.yaml", FeaturesConfig))
    for m in months:
        meta = pq.read_metadata(out / f"{m}.parquet").metadata or {}
        if meta.get(b"riskclass.catalog", b"").decode() != want:
            return False
    return True


def features_for(n: int, first: str, last: str) -> Path:
    """Feature files of ``first .. last`` for the province of ``n`` (cached)."""
    out = WORK / f"features-{n}"
    from contract.months import months_between

    wanted = months_between(first, last)
    if all((out / f"{m}.parquet").is_file() for m in wanted) and _current(out, wanted):
        return out
    shutil.rmtree(out, ignore_errors=True)  # another catalog's files would mix with the new ones
    print(
        f"{n:>10,} enterprises: features {first} .. {last} (not timed, cached in {out})", flush=True
    )
    run_sampled(
        [
            sys.executable,
            "-m",
            "pipelines.cli",
            "features",
            "--source",
            str(interim_for(n)),
            "--out",
            str(out),
            "--from",
            first,
            "--to",
            last,
        ]
    )
    return out


def _cfg(work: Path):  # type: ignore[no-untyped-def]
    from models.config import ModelConfig
    from pipelines.config import load_config

    cfg = load_config(ROOT / "configs" / "model.yaml", ModelConfig)
    mlf = cfg.mlflow.model_copy(
        update={
            "tracking_uri": f"sqlite:///{work / 'mlflow.db'}",
            "artifact_root": str(work / "artifacts"),
        }
    )
    return cfg.model_copy(
        update={
            "mlflow": mlf,
            "class_scheme": str(ROOT / cfg.class_scheme),
            "indicator_weights": str(ROOT / cfg.indicator_weights),
        }
    )


def step(kind: str, args: argparse.Namespace) -> None:
    """One measured step, in its own process; writes its figures to ``args.step_out``."""
    work = Path(args.work)
    cfg = _cfg(work)
    out: dict[str, object] = {}
    t0 = time.perf_counter()
    if kind == "train":
        from pipelines.train import run_train

        r = run_train(cfg, Path(args.features), Path(args.interim))
        out = {
            "seconds": time.perf_counter() - t0,
            "labelled": r.labelled,
            "trials": r.trials,
            "model_version": r.version,
            "best_params": r.best_params,
            "test_auc": r.metrics.models["lightgbm"].auc,
        }
    elif kind in ("classify", "raw_predict"):
        import pyarrow.parquet as pq

        from models.classes import ClassScheme
        from models.gbm import matrix_arrow
        from pipelines.bundle import load_bundle
        from pipelines.classify import run_classify
        from pipelines.config import load_config

        path = Path(args.features) / f"{args.month}.parquet"
        if kind == "classify":
            scheme = load_config(cfg.class_scheme, ClassScheme)
            rep = run_classify(  # scoring and classes only: bench_explain.py times the rest
                cfg,
                scheme,
                Path(args.features),
                args.month,
                work / "out",
                alias="challenger",
                explain=False,
            )
            out = {"seconds": time.perf_counter() - t0, "rows": rep.summary.enterprises}
        else:
            bundle = load_bundle(cfg, "challenger")
            cols = ["uscc", *bundle.design.features]
            predicting, rows = 0.0, 0
            for batch in pq.ParquetFile(path).iter_batches(batch_size=200_000, columns=cols):
                x = matrix_arrow(batch, bundle.design)  # prepared outside the clock
                t = time.perf_counter()
                bundle.general.predict(x, num_threads=cfg.lightgbm.threads)
                predicting += time.perf_counter() - t
                rows += len(x)
            dump = bundle.general.dump_model()
            leaves = [t["num_leaves"] for t in dump["tree_info"]]
            out = {
                "seconds": predicting,
                "rows": rows,
                "trees": len(leaves),
                "mean_leaves": sum(leaves) / max(len(leaves), 1),
            }
    Path(args.step_out).write_text(json.dumps(out, default=str) + "\n", encoding="utf-8")


def measure(kind: str, args: argparse.Namespace, **extra: str) -> dict[str, Any]:
    step_out = Path(args.work) / f"{kind}.json"
    cmd = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--step",
        kind,
        "--work",
        str(args.work),
        "--step-out",
        str(step_out),
    ]
    for k, v in extra.items():
        cmd += [f"--{k.replace('_', '-')}", v]
    wall, peak = run_sampled(cmd)
    r: dict[str, Any] = json.loads(step_out.read_text(encoding="utf-8"))
    r.update(wall_seconds=round(wall, 1), peak_rss_gib=round(peak / 2**30, 2))
    return r


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--train-size", type=int, default=1_000_000)
    p.add_argument("--classify-sizes", type=int, nargs="+", default=[1_000_000])
    p.add_argument("--month", default="2026-10")
    p.add_argument("--work", type=Path, default=WORK / "run")
    p.add_argument("--step", default=None)
    p.add_argument("--step-out", default=None)
    p.add_argument("--features", default=None)
    p.add_argument("--interim", default=None)
    args = p.parse_args()
    if args.step:
        step(args.step, args)
        return

    records = json.loads(RESULTS.read_text(encoding="utf-8")) if RESULTS.exists() else {}
    shutil.rmtree(args.work, ignore_errors=True)
    args.work.mkdir(parents=True)
    n = args.train_size
    feats = features_for(n, "2024-10", args.month)
    print(
        f"{n:>10,} enterprises: training (20 Optuna trials by default, configs/model.yaml)",
        flush=True,
    )
    tr = measure("train", args, features=str(feats), interim=str(interim_for(n)))
    lab = tr["labelled"]
    print(
        f"    train: {lab['used']:,} labelled inspections (train {lab['train']:,} / valid {lab['valid']:,} "
        f"/ test {lab['test']:,}), {tr['trials']} trials, {tr['wall_seconds']:.0f} s, "
        f"peak {tr['peak_rss_gib']:.2f} GiB, test AUC {tr['test_auc']:.3f}",
        flush=True,
    )
    record = {
        "machine": machine(),
        "date_run": time.strftime("%Y-%m-%d"),
        "train_size": n,
        "train": tr,
        "classify": {},
    }
    for size in args.classify_sizes:
        f = feats if size == n else features_for(size, args.month, args.month)
        raw = measure("raw_predict", args, features=str(f), month=args.month)
        cl = measure("classify", args, features=str(f), month=args.month)
        raw_rps = raw["rows"] / raw["seconds"]
        cl_rps = cl["rows"] / cl["wall_seconds"]
        cl_inner = cl["rows"] / cl["seconds"]
        row = {
            "rows": cl["rows"],
            "raw_predict": raw,
            "classify": cl,
            "raw_predict_rows_per_second": round(raw_rps),
            "classify_rows_per_second_wall": round(cl_rps),
            "classify_rows_per_second": round(cl_inner),
            "ratio_classify_over_raw": round(cl_inner / raw_rps, 3),
            "ratio_classify_wall_over_raw": round(cl_rps / raw_rps, 3),
        }
        record["classify"][str(size)] = row
        print(
            f"{size:>10,} enterprises ({cl['rows']:,} in the month), model {raw['trees']} trees x "
            f"{raw['mean_leaves']:.0f} leaves: raw predict {raw_rps:,.0f} rows/s; classify end to end "
            f"{cl_inner:,.0f} rows/s ({cl_rps:,.0f} with start-up), peak {cl['peak_rss_gib']:.2f} GiB; "
            f"ratio {cl_inner / raw_rps:.2f} ({cl_rps / raw_rps:.2f} with start-up)",
            flush=True,
        )
    records[str(n)] = record
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(records, indent=2, sort_keys=True, default=str) + "\n", encoding="utf-8"
    )
    print(f"results: {RESULTS}")


if __name__ == "__main__":
    main()
