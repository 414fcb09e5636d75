"""Benchmark "what would lower the risk": every remedy of every C/D enterprise of one month,
re-scored exactly (`pipelines.whatif`, run by `riskclass classify`).

For ``--size N`` it uses the province `bench_features.py` cached under
``data/bench/features/`` and, not timed and cached under ``data/bench/whatif/run-<N>/`` (made
again when ``configs/model.yaml``, ``features.yaml`` or a class scheme changed):

1. the features of ``--first`` .. ``--month`` (`bench_models.features_for`: the same cache as
   `bench_models.py`);
2. a quick model: `pipelines.train.run_train` with the project's `configs/model.yaml` but
   ``--trials`` Optuna trials (default 2), its own MLflow store (alias ``@challenger``);
3. the month classified with its risk points (`pipelines.classify.run_classify`, no what-if).

Then, timed in its own subprocess sampled for peak memory (`common.run_sampled`):
``whatif``: `pipelines.whatif.run_whatif` for every C/D enterprise of the month (records of
those enterprises read from the ingested tables, remedies applied, one feature build of every
scenario, scoring, classes, the file written). Reports the enterprises of classes C and D, those
with a remedy, the scenarios, seconds (the run itself; wall with start-up and loading the
model), C/D enterprises per second, scenarios per second and the peak memory of the process.

``--demo`` measures the tree ``make demo`` built instead (100k: ``data/interim``,
``data/processed/features``, the month's ``outputs/<month>/classes.parquet`` and the model
version that classified it; nothing trained; writes only under ``data/bench/whatif/``).

Results go to benchmarks/results/whatif.json, one record per size (``demo-<N>`` for the demo);
a rerun replaces the record it measures.

    python benchmarks/bench_whatif.py --size 1000000     # 2 cores: features ~10 min (cached
                                                         # after), train 1-4, classify ~3,
                                                         # the what-if itself ~30 s
    python benchmarks/bench_whatif.py --demo             # after make demo: about a minute
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from bench_models import features_for, interim_for
from common import ROOT, machine, run_sampled

RESULTS = ROOT / "benchmarks" / "results" / "whatif.json"
WORK = ROOT / "data" / "bench" / "whatif"


def _cfg(work: Path, trials: int):  # type: ignore[no-untyped-def]
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
            "tuning": cfg.tuning.model_copy(update={"trials": trials}),
            "class_scheme": str(ROOT / cfg.class_scheme),
            "indicator_weights": str(ROOT / cfg.indicator_weights),
        }
    )


def _config_stamp() -> str:
    """A hash of the configuration the cached model and classes were made with (model, class
    scheme, features): a change retrains and classifies again, so that the month's classes
    are the ones the current configuration gives."""
    import hashlib

    files = [ROOT / "configs" / "model.yaml", ROOT / "configs" / "features.yaml"]
    files += sorted((ROOT / "configs" / "classes").glob("*.yaml"))
    h = hashlib.sha256()
    for f in files:
        h.update(f.read_bytes())
    # the feature SQL too: a changed catalog gives other features, so other classes
    from features.config import FeaturesConfig
    from pipelines.config import load_config
    from pipelines.features import catalog_fingerprint

    cfg = load_config(ROOT / "configs" / "features.yaml", FeaturesConfig)
    h.update(catalog_fingerprint(cfg).encode())
    return h.hexdigest()[:16]


def step(kind: str, args: argparse.Namespace) -> None:
    """One step in its own process; writes its figures to ``args.step_out``."""
    from models.classes import ClassScheme
    from models.config import ModelConfig
    from pipelines.bundle import load_bundle
    from pipelines.config import load_config

    work = Path(args.work)
    out: dict[str, Any] = {}
    t0 = time.perf_counter()
    if args.demo:
        cfg = load_config(ROOT / "configs" / "model.yaml", ModelConfig)
    else:
        cfg = _cfg(work, args.trials)
    scheme = load_config(cfg.class_scheme, ClassScheme)
    if kind == "train":
        from pipelines.train import run_train

        r = run_train(cfg, Path(args.features), Path(args.interim))
        out = {"seconds": time.perf_counter() - t0, "trials": r.trials, "version": r.version}
    elif kind == "classify":
        from pipelines.classify import run_classify

        rep = run_classify(
            cfg, scheme, Path(args.features), args.month, work / "out", alias="challenger"
        )
        out = {"seconds": time.perf_counter() - t0, "rows": rep.summary.enterprises}
    elif kind == "whatif":
        import pyarrow.parquet as pq

        from pipelines.whatif import run_whatif

        classes = Path(args.classes)
        version = str(pq.read_table(classes, columns=["model_version"]).column(0)[0])
        bundle = load_bundle(cfg, version=version)  # the version that classified the month
        loaded = time.perf_counter() - t0
        rep = run_whatif(
            bundle,
            bundle.scheme(scheme),
            cfg.whatif,
            Path(args.interim),
            Path(args.features) / f"{args.month}.parquet",
            classes,
            args.month,
            work / "whatif.parquet",
        )
        out = {**rep.to_dict(), "load_seconds": loaded}
        del out["out"]
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
        "--month",
        args.month,
        "--trials",
        str(args.trials),
        *(["--demo"] if args.demo else []),
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
    p.add_argument("--size", type=int, default=1_000_000)
    p.add_argument("--demo", action="store_true", help="measure the tree make demo built")
    p.add_argument("--month", default="2026-10")
    p.add_argument("--first", default="2024-10", help="first month of the training features")
    p.add_argument("--trials", type=int, default=2, help="Optuna trials of the quick model")
    p.add_argument("--work", type=Path, default=None)
    p.add_argument("--step", default=None)
    p.add_argument("--step-out", default=None)
    p.add_argument("--features", default=None)
    p.add_argument("--interim", default=None)
    p.add_argument("--classes", default=None)
    args = p.parse_args()
    if args.step:
        step(args.step, args)
        return

    if args.demo:
        import pyarrow.parquet as pq

        args.work = args.work or WORK / "demo"
        args.work.mkdir(parents=True, exist_ok=True)
        feats, interim = ROOT / "data" / "processed" / "features", ROOT / "data" / "interim"
        classes = ROOT / "outputs" / args.month / "classes.parquet"
        n = pq.read_metadata(classes).num_rows
        key, trained = f"demo-{n}", None
    else:
        n = args.size
        args.work = args.work or WORK / f"run-{n}"
        interim = interim_for(n)
        feats = features_for(n, args.first, args.month)
        classes = args.work / "out" / args.month / "classes.parquet"
        done = args.work / "trained.json"
        stamp = _config_stamp()
        cached = json.loads(done.read_text(encoding="utf-8")) if done.is_file() else {}
        if cached.get("config") != stamp or not classes.is_file():
            shutil.rmtree(args.work, ignore_errors=True)
            args.work.mkdir(parents=True)
            print(
                f"{n:>10,} enterprises: quick model ({args.trials} trials; not timed)", flush=True
            )
            tr = measure("train", args, features=str(feats), interim=str(interim))
            print(
                f"    trained in {tr['wall_seconds']:.0f} s; classifying {args.month}", flush=True
            )
            cl = measure("classify", args, features=str(feats))
            trained = {"train": tr, "classify": cl, "config": stamp}
            done.write_text(json.dumps(trained) + "\n", encoding="utf-8")
        else:
            trained = cached
        key = str(n)
    print(f"{key}: what-if of every C/D enterprise of {args.month}", flush=True)
    wi = measure("whatif", args, features=str(feats), interim=str(interim), classes=str(classes))
    per_s = wi["enterprises"] / wi["seconds"] if wi["seconds"] else 0.0
    record = {
        "machine": machine(),
        "date_run": time.strftime("%Y-%m-%d"),
        "month": args.month,
        "province_rows": n,
        "whatif": wi,
        "high_class_enterprises_per_second": round(per_s, 1),
        "scenarios_per_second": round(wi["scenarios"] / wi["seconds"], 1) if wi["seconds"] else 0,
        **({"model": trained} if trained else {}),
    }
    print(
        f"    {wi['enterprises']:,} C/D enterprises ({wi['with_remedies']:,} with a remedy, "
        f"{wi['scenarios']:,} scenarios, {wi['inexact']} not reproduced): {wi['seconds']:.1f} s "
        f"({wi['wall_seconds']:.1f} s wall with start-up and model), {per_s:,.0f} enterprises/s, "
        f"peak {wi['peak_rss_gib']:.2f} GiB",
        flush=True,
    )
    records = json.loads(RESULTS.read_text(encoding="utf-8")) if RESULTS.exists() else {}
    records[key] = record
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(records, indent=2, sort_keys=True, default=str) + "\n", encoding="utf-8"
    )
    print(f"results: {RESULTS}")


if __name__ == "__main__":
    main()
