"""Benchmark bulk explanations: every enterprise's top risk points from exact TreeSHAP.

Uses the model `bench_models.py` trained and registered (``data/bench/models/run``, alias
``@challenger``) and the feature files it cached (``data/bench/models/features-<N>/``): run
it first. Each step runs in its own subprocess, whose process tree is sampled every 0.2 s
for peak memory (`common.run_sampled`); numba and LightGBM get ``--threads`` threads (the
target machine has 2 cores), Arrow as many.

For every size in ``--sizes`` (month ``--month``):

* ``stream``: the whole feature file in record batches of ``--batch-rows`` (classify's 50,000),
  as classify reads and explains it: feature matrix, contributions with the per-leaf tables
  engine (`models.treeshap`, via the bundle's `models.explain.Explainer`: its sector models
  and rule, flags read as classify reads them), then the columns classify stores beside each
  class (`pipelines.bundle.risk_point_columns`: the top ``--top-k`` risk points, by default
  the config's ``explain.top_k``, with their group, value and contribution; the five group
  sums). Building the explainer (tables) and the first kernel call (numba JIT: compiled, or
  loaded from its cache) are timed apart, before the clock starts. Reports seconds, rows/s
  (reading included, and contributions only), peak memory, how many cores the process kept
  busy (below ``--threads`` when other processes competed: the rates are then too low) and,
  for a size below 7.5M, the time projected for the 7.5M province (its feature file's rows
  at the measured rate; EXTRAPOLATED, labelled so).
* ``sample``: ``--sample`` rows of the same file (seeded random sample, seed from
  ``configs/model.yaml``), explained by both engines of the same `Explainer`: LightGBM's own
  ``pred_contrib`` ("plain") and the tables. Rows/s of each and their ratio; max abs
  difference; share of rows whose top-k feature indices are identical (must be 100%); max
  additivity error of each against the model's margin (``predict(raw_score=True)``, sector
  models combined as classify combines them).

Once, unless ``--skip-depth-budget`` (step ``depth_budget``): with the labelled inspections of
the ``--train-size`` province, split, weighted and designed as `pipelines.train.run_train`
does, two general models identical but for their size: the tuned parameters of the bundle
(``meta.json`` ``params``: within the depth budget) and an unconstrained one (``--deep-leaves``
leaves, ``--deep-depth`` depth). For each: weighted test-month AUC (and validation AUC,
calibrated test log-loss), the most distinct features on one path (`treeshap._path_sizes`),
whether the tables engine takes it (`treeshap.supported`), ``pred_contrib`` and tables rows/s
on ``--sample`` rows of the province's ``--month``. The budget model is the bundle's general
model retrained from config and seed: how far its margins are from the registered model's
is reported (0 when training is reproducible).

Results go to benchmarks/results/explain.json (one record per size, plus ``depth_budget``;
a rerun replaces the records it measures and keeps the others).

    python benchmarks/bench_explain.py --sizes 1000000
    python benchmarks/bench_explain.py --sizes 7500000 --skip-depth-budget   # the target
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench_models import WORK, _cfg, interim_for
from common import ROOT, machine, run_sampled

if TYPE_CHECKING:
    import lightgbm as lgb
    import numpy as np
    import numpy.typing as npt
    import pyarrow as pa

    from models.config import ModelConfig
    from models.gbm import Design
    from pipelines.bundle import Bundle

RESULTS = ROOT / "benchmarks" / "results" / "explain.json"
TARGET_N = 7_500_000
TARGET_SECONDS = 30 * 60  # top risk points of the whole 7.5M province within 30 minutes
STEPS = ("stream", "sample", "depth_budget")


# ------------------------------------------------------------------ shared by the steps
def cores_busy(wall0: float, cpu0: float) -> float:
    """CPU seconds of this process (all its threads) per wall second since (wall0, cpu0):
    about ``--threads`` when the work is parallel and nothing else competes for the cores,
    less when other processes take them (the rows/s measured then are too low)."""
    return round((time.process_time() - cpu0) / max(time.perf_counter() - wall0, 1e-9), 2)


def features_file(n: int, month: str) -> Path:
    path = WORK / f"features-{n}" / f"{month}.parquet"
    if not path.is_file():
        raise SystemExit(
            f"no cached features {path}; run benchmarks/bench_models.py with this size first"
        )
    return path


def set_threads(threads: int) -> dict[str, int]:
    """numba's and Arrow's thread pools; LightGBM gets ``num_threads`` per booster."""
    import numba
    import pyarrow as pa

    numba.set_num_threads(min(threads, int(getattr(numba.config, "NUMBA_NUM_THREADS", threads))))
    pa.set_cpu_count(threads)
    return {"numba": numba.get_num_threads(), "arrow": pa.cpu_count(), "lightgbm": threads}


def boosters_threads(bundle: Bundle, threads: int) -> None:
    """Every booster of the bundle predicts (and explains, `models.explain.contributions`)
    with ``threads`` threads: both read ``Booster.params`` (``reset_parameter`` would crash a
    booster loaded from a file, which has no training data)."""
    for b in [bundle.general, *(s[2] for s in bundle.sectors)]:
        b.params["num_threads"] = threads


def flags_of(batch: pa.RecordBatch | pa.Table, bundle: Bundle) -> dict[str, Any]:
    """The sector flags, read as classify reads them."""
    return {
        flag: batch.column(flag).to_numpy(zero_copy_only=False)
        for _n, flag, _b, _c in bundle.sectors
    }


def margin(bundle: Bundle, x: npt.NDArray[np.float64], flags: dict[str, Any]) -> Any:
    """The margin the contributions add up to: the general model's, with the sector models
    applied as classify applies them (`models.sectors`, via `pipelines.bundle.Bundle.margin`;
    ``average``: the mean of the two margins, see `models.explain`)."""
    return bundle.margin(x, flags)


def sample_table(path: Path, columns: list[str], n: int, seed: int, batch_rows: int) -> pa.Table:
    """``n`` rows drawn at random (seeded) from the file, in file order, read batch by batch
    so that memory stays bounded whatever the file's size."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    pf = pq.ParquetFile(path)
    total = pf.metadata.num_rows
    idx = np.sort(np.random.default_rng(seed).choice(total, size=min(n, total), replace=False))
    parts, start = [], 0
    for batch in pf.iter_batches(batch_size=batch_rows, columns=columns):
        end = start + batch.num_rows
        lo, hi = np.searchsorted(idx, [start, end])
        if hi > lo:
            parts.append(batch.take(pa.array(idx[lo:hi] - start)))
        start = end
    return pa.Table.from_batches(parts)


def model_shape(booster: lgb.Booster) -> dict[str, Any]:
    """Trees, leaves, depth and the distinct features on a path (the tables' budget)."""
    from models import treeshap

    dump = booster.dump_model()

    def depth(node: dict[str, Any]) -> int:
        if "split_index" not in node:
            return 0
        return 1 + max(depth(node["left_child"]), depth(node["right_child"]))

    leaves = [int(t["num_leaves"]) for t in dump["tree_info"]]
    sizes = treeshap._path_sizes(dump)
    table_entries = sum((1 << m) * m for m in sizes)
    return {
        "trees": len(leaves),
        "mean_leaves": round(sum(leaves) / max(len(leaves), 1), 2),
        "max_leaves": max(leaves, default=0),
        "max_depth_reached": max(
            (depth(t["tree_structure"]) for t in dump["tree_info"]), default=0
        ),
        "max_path_features": max(sizes, default=0),
        "mean_path_features": round(sum(sizes) / max(len(sizes), 1), 2),
        "budget_path_features": treeshap.MAX_PATH_FEATURES,
        "tables_supported": treeshap.supported(booster),
        "table_mib": round(table_entries * 8 / 2**20, 1),
    }


def compare(tables: Any, plain: Any, k: int) -> dict[str, Any]:
    """Agreement of two contribution matrices: values and top-k risk points."""
    import numpy as np

    from models.explain import top_risk_points

    ti, tv = top_risk_points(tables, k)
    pi, pv = top_risk_points(plain, k)
    same_rows = (ti == pi).all(axis=1)
    # over the slots both fill (a slot one engine leaves empty already counts as different)
    both = ~np.isnan(tv) & ~np.isnan(pv)
    return {
        "max_abs_difference": float(np.max(np.abs(tables - plain), initial=0.0)),
        "top_k_identical_share": float(same_rows.mean()) if len(same_rows) else 1.0,
        "top_k_different_rows": int((~same_rows).sum()),
        "top_k_values_max_abs_difference": float(np.max(np.abs(tv - pv), where=both, initial=0.0)),
    }


def bundle_of(cfg: ModelConfig, alias: str, threads: int) -> Bundle:
    from pipelines.bundle import load_bundle

    bundle = load_bundle(cfg, alias)
    boosters_threads(bundle, threads)
    return bundle


def model_record(bundle: Bundle, alias: str) -> dict[str, Any]:
    return {
        "name": bundle.name,
        "version": bundle.version,
        "alias": alias,
        "run_id": bundle.run_id,
        "features": len(bundle.design.features),
        "sector_rule": bundle.sector_rule,
        "sector_models": [name for name, _f, _b, _c in bundle.sectors],
        "general": model_shape(bundle.general),
    }


# ------------------------------------------------------------------ the measured steps
def step_stream(args: argparse.Namespace) -> dict[str, Any]:
    """The whole month, batch by batch, as classify explains it: matrix, contributions, and
    the columns classify stores beside each class (`pipelines.bundle.risk_point_columns`:
    top-k risk points with their group, value and contribution, the five group sums)."""
    import pandas as pd
    import pyarrow.parquet as pq

    from models.gbm import matrix_arrow
    from pipelines.bundle import risk_point_columns

    threads = set_threads(args.threads)
    cfg = _cfg(Path(args.work))
    bundle = bundle_of(cfg, args.alias, args.threads)
    path = features_file(args.size, args.month)
    flag_cols = bundle.flag_columns()
    columns = [
        "uscc",
        *bundle.design.features,
        *[f for f in flag_cols if f not in bundle.design.features],
    ]
    k = args.top_k

    t = time.perf_counter()
    explainer = bundle.explainer("tables")
    build_first = time.perf_counter() - t  # the first build also loads the table filler's JIT
    t = time.perf_counter()
    explainer = bundle.explainer("tables")
    build_warm = time.perf_counter() - t
    first = next(pq.ParquetFile(path).iter_batches(batch_size=1_000, columns=columns))
    x0 = matrix_arrow(first, bundle.design)
    t = time.perf_counter()
    explainer(x0, flags_of(first, bundle))  # numba: compile, or load the cached machine code
    jit = time.perf_counter() - t

    rows = 0
    parts = dict.fromkeys(("read_matrix", "contributions", "risk_point_columns"), 0.0)
    short = 0  # rows with fewer than k positive contributions (slots left empty)
    top1: Counter[str] = Counter()
    t0, c0 = time.perf_counter(), time.process_time()
    mark = t0
    for batch in pq.ParquetFile(path).iter_batches(batch_size=args.batch_rows, columns=columns):
        x = matrix_arrow(batch, bundle.design)
        flags = flags_of(batch, bundle)
        now = time.perf_counter()
        parts["read_matrix"] += now - mark
        mark = now
        contrib = explainer(x, flags)
        now = time.perf_counter()
        parts["contributions"] += now - mark
        mark = now
        stored = risk_point_columns(contrib, batch, bundle.design.features, k, bundle.features)
        now = time.perf_counter()
        parts["risk_point_columns"] += now - mark
        first_points = pd.Series(stored["risk_1_feature"], dtype=object).fillna("(none)")
        top1.update(first_points.value_counts().to_dict())
        short += int(pd.isna(stored[f"risk_{k}_feature"]).sum())
        rows += len(x)
        mark = time.perf_counter()
    seconds = time.perf_counter() - t0
    busy = cores_busy(t0, c0)
    return {
        "rows": rows,
        "threads": threads,
        "engine": explainer.engine,
        "explainer_build_seconds": round(build_first, 3),
        "explainer_build_seconds_warm": round(build_warm, 3),
        "jit_warmup_seconds": round(jit, 3),
        "seconds": round(seconds, 2),
        "parts_seconds": {name: round(v, 2) for name, v in parts.items()},
        "rows_per_second": round(rows / seconds),
        "contributions_rows_per_second": round(rows / parts["contributions"]),
        "cores_busy": busy,
        "rows_with_fewer_than_k_risk_points": short,
        "most_frequent_top_risk_point": dict(top1.most_common(5)),
        "model": model_record(bundle, args.alias),
    }


def step_sample(args: argparse.Namespace) -> dict[str, Any]:
    """Tables against LightGBM's pred_contrib on the same sample rows."""
    import numpy as np

    from models.gbm import matrix_arrow

    threads = set_threads(args.threads)
    cfg = _cfg(Path(args.work))
    bundle = bundle_of(cfg, args.alias, args.threads)
    path = features_file(args.size, args.month)
    flag_cols = bundle.flag_columns()
    columns = [*bundle.design.features, *[f for f in flag_cols if f not in bundle.design.features]]
    table = sample_table(path, columns, args.sample, cfg.seed, args.batch_rows)
    x = matrix_arrow(table, bundle.design)
    flags = flags_of(table, bundle)

    fast = bundle.explainer("tables")
    plain = bundle.explainer("lightgbm")
    fast(x[:1_000], {k: v[:1_000] for k, v in flags.items()})  # JIT outside the clock
    t, c = time.perf_counter(), time.process_time()
    c_fast = fast(x, flags)
    s_fast, busy_fast = time.perf_counter() - t, cores_busy(t, c)
    t, c = time.perf_counter(), time.process_time()
    c_plain = plain(x, flags)
    s_plain, busy_plain = time.perf_counter() - t, cores_busy(t, c)
    m = margin(bundle, x, flags)
    additivity = {
        "tables": float(np.max(np.abs(c_fast.sum(axis=1) - m))),
        "pred_contrib": float(np.max(np.abs(c_plain.sum(axis=1) - m))),
    }
    return {
        "rows": len(x),
        "seed": cfg.seed,
        "threads": threads,
        "engine": fast.engine,
        "exact": fast.exact,
        "tables_seconds": round(s_fast, 3),
        "pred_contrib_seconds": round(s_plain, 3),
        "tables_rows_per_second": round(len(x) / s_fast),
        "pred_contrib_rows_per_second": round(len(x) / s_plain),
        "ratio_tables_over_pred_contrib": round(s_plain / s_fast, 2),
        "cores_busy": {"tables": busy_fast, "pred_contrib": busy_plain},
        **compare(c_fast, c_plain, args.top_k),
        "additivity_max_error": additivity,
    }


def _design_frames(cfg: ModelConfig, n: int) -> dict[str, Any]:
    """Labelled inspections of the province of ``n``, split and weighted as run_train does."""
    from features.definitions import CATALOG
    from models import gbm
    from pipelines.frames import labelled_frames, read_inspections
    from pipelines.train.data import split

    features_dir = WORK / f"features-{n}"
    inspections = read_inspections(interim_for(n))
    frame, train, counts, _catalog = labelled_frames(cfg, features_dir, inspections)
    design = gbm.fit_design(train, CATALOG)
    out: dict[str, Any] = {"design": design, "constraints": gbm.monotone(design, CATALOG)}
    parts = (
        ("train", train),
        ("valid", frame[frame["split"] == "valid"]),
        ("test", frame[frame["split"] == "test"]),
    )
    for name, part in parts:
        s = split(part, design)
        out[name] = (s.x, s.y, s.w)
    out["labelled"] = {**counts, **{k: len(out[k][1]) for k in ("train", "valid", "test")}}
    return out


def _bundle_params(bundle: Bundle) -> dict[str, Any] | None:
    """The tuned hyperparameters the bundle records (``meta.json`` ``params``)."""
    import tempfile

    import mlflow

    with tempfile.TemporaryDirectory() as tmp:
        path = mlflow.artifacts.download_artifacts(
            run_id=bundle.run_id, artifact_path="bundle/meta.json", dst_path=tmp
        )
        meta = json.loads(Path(path).read_text(encoding="utf-8"))
    params = meta.get("params")
    return dict(params) if params else None


def _timings(booster: lgb.Booster, x: npt.NDArray[np.float64], k: int) -> dict[str, Any]:
    """pred_contrib and (when the model is within the budget) tables rows/s on ``x``."""
    from models import treeshap
    from models.explain import contributions

    t, c = time.perf_counter(), time.process_time()
    plain = contributions(booster, x)
    s_plain = time.perf_counter() - t
    out: dict[str, Any] = {
        "pred_contrib_cores_busy": cores_busy(t, c),
        "pred_contrib_seconds": round(s_plain, 3),
        "pred_contrib_rows_per_second": round(len(x) / s_plain),
    }
    if not treeshap.supported(booster):
        out.update(
            tables_build_seconds=None,
            tables_seconds=None,
            tables_rows_per_second=None,
            ratio_tables_over_pred_contrib=None,
            tables_note="beyond the depth budget: the Explainer falls back to pred_contrib",
        )
        return out
    t = time.perf_counter()
    tables = treeshap.build(booster)
    build = time.perf_counter() - t
    treeshap.contributions(tables, x[:1_000])  # JIT outside the clock
    t, c = time.perf_counter(), time.process_time()
    fast = treeshap.contributions(tables, x)
    s_fast = time.perf_counter() - t
    out.update(
        tables_cores_busy=cores_busy(t, c),
        tables_build_seconds=round(build, 3),
        tables_seconds=round(s_fast, 3),
        tables_rows_per_second=round(len(x) / s_fast),
        ratio_tables_over_pred_contrib=round(s_plain / s_fast, 2),
        **compare(fast, plain, k),
    )
    return out


def step_depth_budget(args: argparse.Namespace) -> dict[str, Any]:
    """Two general models, the same but for their size: holdout AUC and explanation speed."""
    import numpy as np

    from models import calibration, gbm
    from models.gbm import matrix_arrow
    from models.metrics import weighted_auc, weighted_logloss
    from pipelines.train.tuning import HYPER

    threads = set_threads(args.threads)
    cfg = _cfg(Path(args.work))
    bundle = bundle_of(cfg, args.alias, args.threads)
    n = args.train_size
    t0 = time.perf_counter()
    data = _design_frames(cfg, n)
    design: Design = data["design"]
    xt, yt, wt = data["train"]
    xv, yv, wv = data["valid"]
    xs, ys, ws = data["test"]
    read_seconds = time.perf_counter() - t0
    tuned = _bundle_params(bundle)
    base = cfg.lightgbm.model_dump()
    budget = {**base, **(tuned or {})}
    deep = {**budget, "num_leaves": args.deep_leaves, "max_depth": args.deep_depth}
    table = sample_table(
        features_file(n, args.month), list(design.features), args.sample, cfg.seed, args.batch_rows
    )
    x_sample = matrix_arrow(table, design)
    models: dict[str, Any] = {}
    for name, hyper in (("budget", budget), ("unconstrained", deep)):
        params = gbm.lgb_params(
            hyper, cfg.seed, cfg.lightgbm.threads, data["constraints"], list(design.levels)
        )
        t = time.perf_counter()
        booster = gbm.train(xt, yt, wt, params, hyper["n_estimators"])
        train_seconds = time.perf_counter() - t
        booster.params["num_threads"] = args.threads  # predicting and explaining
        p_valid, p_test = gbm.predict_raw(booster, xv), gbm.predict_raw(booster, xs)
        cal = calibration.fit(cfg.calibration, p_valid, yv, wv)
        rec: dict[str, Any] = {
            "params": {k: hyper[k] for k in HYPER},
            "train_seconds": round(train_seconds, 1),
            "test_auc": weighted_auc(ys, p_test, ws),
            "valid_auc": weighted_auc(yv, p_valid, wv),
            "test_logloss_calibrated": weighted_logloss(ys, cal(p_test), ws),
            **model_shape(booster),
            "sample": {"rows": len(x_sample), **_timings(booster, x_sample, args.top_k)},
        }
        if name == "budget":  # retrained from config and seed: the registered general model?
            same = design == bundle.design
            diff = gbm.predict_margin(booster, xs) - gbm.predict_margin(bundle.general, xs)
            rec["reproduces_bundle_general"] = {
                "same_design": same,
                "max_abs_margin_difference_on_test": float(np.max(np.abs(diff))) if same else None,
            }
        models[name] = rec
    return {
        "train_size": n,
        "month": args.month,
        "threads": threads,
        "seed": cfg.seed,
        "params_source": "bundle meta.json params" if tuned else "configs/model.yaml lightgbm",
        "labelled": data["labelled"],
        "read_seconds": round(read_seconds, 1),
        "models": models,
        "test_auc_difference_budget_minus_unconstrained": models["budget"]["test_auc"]
        - models["unconstrained"]["test_auc"],
    }


def step(args: argparse.Namespace) -> None:
    fn = {"stream": step_stream, "sample": step_sample, "depth_budget": step_depth_budget}
    out = fn[args.step](args)
    Path(args.step_out).write_text(json.dumps(out, default=str) + "\n", encoding="utf-8")


def measure(kind: str, args: argparse.Namespace, **extra: str) -> dict[str, Any]:
    step_out = Path(args.work) / f"explain-{kind}.json"
    step_out.unlink(missing_ok=True)
    cmd = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--step",
        kind,
        "--work",
        str(args.work),
        "--step-out",
        str(step_out),
        "--threads",
        str(args.threads),
        "--month",
        args.month,
        "--alias",
        args.alias,
        "--top-k",
        str(args.top_k),
        "--batch-rows",
        str(args.batch_rows),
        "--sample",
        str(args.sample),
    ]
    for key, v in extra.items():
        cmd += [f"--{key.replace('_', '-')}", v]
    wall, peak = run_sampled(cmd)
    r: dict[str, Any] = json.loads(step_out.read_text(encoding="utf-8"))
    step_out.unlink()
    r.update(wall_seconds=round(wall, 1), peak_rss_gib=round(peak / 2**30, 2))
    return r


# ------------------------------------------------------------------ report
def projection(size: int, stream: dict[str, Any], month: str) -> dict[str, Any] | None:
    """The 7.5M province's month at the measured rate (rows of its file if it is cached,
    else rows scaled linearly in N)."""
    if size >= TARGET_N:
        return None
    import pyarrow.parquet as pq

    path = WORK / f"features-{TARGET_N}" / f"{month}.parquet"
    if path.is_file():
        rows, how = pq.read_metadata(path).num_rows, f"rows of {path.relative_to(ROOT)}"
    else:
        rows, how = round(stream["rows"] * TARGET_N / size), "rows scaled linearly in N"
    seconds = rows / stream["rows_per_second"]
    return {
        "enterprises": TARGET_N,
        "measured": False,
        "note": f"EXTRAPOLATED, not measured: {how} at the {size:,} run's end-to-end rows/s",
        "rows": rows,
        "seconds": round(seconds),
        "within_target": seconds <= TARGET_SECONDS,
    }


def _contended(busy: float | None, threads: int) -> str:
    """A warning when a timed part kept fewer cores busy than it had threads (other
    processes competed): its rows/s, and any ratio built on them, are not to be trusted."""
    if busy is None or busy >= 0.85 * threads:
        return ""
    return f" [CONTENDED: {busy:.2f} of {threads} cores busy, rate too low]"


def _print_size(size: int, rec: dict[str, Any]) -> None:
    s, sm, g = rec["stream"], rec["sample"], rec["model"]["general"]
    n = int(rec["threads"])
    print(
        f"{size:>10,} enterprises, {rec['month']}: {s['rows']:,} rows, {rec['threads']} threads, "
        f"model {g['trees']} trees x {g['mean_leaves']:.0f} leaves, <= {g['max_path_features']} "
        f"features on a path; engine {s['engine']}",
        flush=True,
    )
    print(
        f"    explainer build {s['explainer_build_seconds']:.2f} s (warm {s['explainer_build_seconds_warm']:.2f} s), "
        f"JIT warm-up {s['jit_warmup_seconds']:.2f} s (outside the clock)"
    )
    parts = ", ".join(f"{k} {v:.1f}" for k, v in s["parts_seconds"].items())
    print(
        f"    all rows, contributions + the columns classify stores (top-{rec['top_k']}, group sums): "
        f"{s['seconds']:.1f} s ({parts}), "
        f"{s['rows_per_second']:,} rows/s ({s['contributions_rows_per_second']:,} contributions only), "
        f"peak {s['peak_rss_gib']:.2f} GiB, {s['cores_busy']:.2f} cores busy"
        f"{_contended(s['cores_busy'], n)}"
    )
    print(
        f"    sample of {sm['rows']:,}: tables {sm['tables_rows_per_second']:,} rows/s"
        f"{_contended(sm['cores_busy']['tables'], n)}, pred_contrib {sm['pred_contrib_rows_per_second']:,} "
        f"rows/s{_contended(sm['cores_busy']['pred_contrib'], n)}, ratio {sm['ratio_tables_over_pred_contrib']:.2f}x; "
        f"max |diff| {sm['max_abs_difference']:.1e}; identical top-{rec['top_k']} "
        f"{sm['top_k_identical_share']:.4%}; additivity max error {sm['additivity_max_error']['tables']:.1e} "
        f"(pred_contrib {sm['additivity_max_error']['pred_contrib']:.1e})"
    )
    p = rec.get("projection_7500000")
    if p:
        verdict = "within" if p["within_target"] else "OVER"
        print(
            f"    {TARGET_N:,} (EXTRAPOLATED): {p['rows']:,} rows in ~{p['seconds']:,} s "
            f"({p['seconds'] / 60:.1f} min), {verdict} the {TARGET_SECONDS // 60}-minute target"
        )
    elif size >= TARGET_N:
        verdict = "within" if s["seconds"] <= TARGET_SECONDS else "OVER"
        print(f"    {verdict} the {TARGET_SECONDS // 60}-minute target (measured)")


def _print_depth(d: dict[str, Any]) -> None:
    print(
        f"depth budget ({d['train_size']:,} province, {d['labelled']['test']:,} test inspections, "
        f"params from {d['params_source']}):"
    )
    n = int(d["threads"]["lightgbm"])
    for name, m in d["models"].items():
        sm, pr = m["sample"], m["params"]
        tables = (
            f"tables {sm['tables_rows_per_second']:,} rows/s{_contended(sm['tables_cores_busy'], n)} "
            f"({sm['ratio_tables_over_pred_contrib']:.2f}x)"
            if sm["tables_rows_per_second"] is not None
            else "tables: not supported (falls back to pred_contrib)"
        )
        print(
            f"    {name:<14} leaves {pr['num_leaves']}, max_depth {pr['max_depth']}: test AUC {m['test_auc']:.4f} "
            f"(valid {m['valid_auc']:.4f}), depth reached {m['max_depth_reached']}, <= {m['max_path_features']} "
            f"features on a path; pred_contrib {sm['pred_contrib_rows_per_second']:,} rows/s"
            f"{_contended(sm['pred_contrib_cores_busy'], n)}, {tables}"
        )
    rep = d["models"]["budget"].get("reproduces_bundle_general", {})
    print(
        f"    test AUC budget - unconstrained: {d['test_auc_difference_budget_minus_unconstrained']:+.4f}; "
        f"budget model vs registered general model: max |margin diff| "
        f"{rep.get('max_abs_margin_difference_on_test')}"
    )


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--sizes", type=int, nargs="+", default=[1_000_000])
    p.add_argument("--month", default="2026-10")
    p.add_argument("--threads", type=int, default=2, help="numba, LightGBM and Arrow threads")
    p.add_argument("--batch-rows", type=int, default=50_000, help="classify's batch size")
    p.add_argument("--sample", type=int, default=50_000, help="rows compared with pred_contrib")
    p.add_argument("--top-k", type=int, default=None, help="default: explain.top_k of the config")
    p.add_argument("--alias", default="challenger")
    p.add_argument("--train-size", type=int, default=1_000_000, help="province of the depth budget")
    p.add_argument("--deep-leaves", type=int, default=63)
    p.add_argument("--deep-depth", type=int, default=-1)
    p.add_argument("--skip-depth-budget", action="store_true", help="do not train the two models")
    p.add_argument("--work", type=Path, default=WORK / "run", help="bench_models.py's run")
    p.add_argument("--step", choices=STEPS, help=argparse.SUPPRESS)
    p.add_argument("--step-out", help=argparse.SUPPRESS)
    p.add_argument("--size", type=int, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.step:
        step(args)
        return
    if not (Path(args.work) / "mlflow.db").is_file():
        raise SystemExit(f"no model store in {args.work}; run benchmarks/bench_models.py first")
    if args.top_k is None:
        args.top_k = _cfg(Path(args.work)).explain.top_k

    records = json.loads(RESULTS.read_text(encoding="utf-8")) if RESULTS.exists() else {}
    for size in args.sizes:
        features_file(size, args.month)
        stream = measure("stream", args, size=str(size))
        sample = measure("sample", args, size=str(size))
        model = stream.pop("model")
        rec: dict[str, Any] = {
            "enterprises": size,
            "measured": True,
            "month": args.month,
            "threads": args.threads,
            "batch_rows": args.batch_rows,
            "top_k": args.top_k,
            "rows": stream["rows"],
            "seconds": stream["seconds"],
            "rows_per_second": stream["rows_per_second"],
            "ratio_tables_over_pred_contrib": sample["ratio_tables_over_pred_contrib"],
            "model": model,
            "stream": stream,
            "sample": sample,
            "machine": machine(),
            "date_run": time.strftime("%Y-%m-%d"),  # audit stamp of the benchmark only
        }
        rec["projection_7500000"] = projection(size, stream, args.month)
        records[str(size)] = rec
        _print_size(size, rec)
        _write(records)
    if not args.skip_depth_budget:
        print(
            f"depth budget: training two models on the {args.train_size:,} province ...", flush=True
        )
        depth = measure("depth_budget", args, train_size=str(args.train_size))
        depth.update(machine=machine(), date_run=time.strftime("%Y-%m-%d"))
        records["depth_budget"] = depth
        _print_depth(depth)
        _write(records)
    print(f"results: {RESULTS}")


def _write(records: dict[str, Any]) -> None:
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(records, indent=2, sort_keys=True, default=str) + "\n", encoding="utf-8"
    )


if __name__ == "__main__":
    main()
