"""Conclusions that survive a harder world (issue 19): the demo's figures at each difficulty.

For each difficulty of the synthetic province (``default``: ``configs/simulator.yaml``; ``hard``:
a markedly weaker signal, ``configs/simulator_hard.yaml``) the product runs exactly as the demo
runs it - the `riskclass` commands with the Makefile's DEMO_* months and dates, read from the
Makefile at run time - in a scratch folder with its own copy of ``configs/`` and its own MLflow
store: ``simulate --difficulty D`` (with the hidden truth), ``ingest``, ``features``,
``train --truth``, ``verify --report-only`` (a FAIL is a figure here, not an error) and
``simulate-loop``. From what they write:

* ``auc`` (``train_metrics.json`` ``auc_intervals``, `pipelines.train.intervals`): on the
  held-out test months, the deployed model's weighted AUC, the plain baseline's (`models.plain`),
  the indicator points' (加权评定, ``indicator_weights``) and the oracle's (the simulator's true
  problem probability), each with its 95% percentile interval from one paired, seeded bootstrap
  of the test rows (1/p weights kept), and the intervals of model - indicator points, model -
  plain and model - oracle; the deployed model's share of the oracle AUC;
* ``loop`` (``outputs/loop/<month>/loop.json``): problems found per 100 inspections of each
  policy (uniform, indicator points, model; same budget) with Jeffreys intervals, the lift over
  uniform, the 1/p-weighted estimate's error;
* ``verification`` (``outputs/<month>/verification/metrics.json``): the verdict, the checks and
  the ``main_risk_points`` block as verify writes it (per-category risk-point accuracy against
  its baseline);
* ``depth_budget``: on the same scratch folder's labelled rows (split and weighted as training
  does), the general model as trained (the registered version's tuned parameters: within the
  depth budget of ``configs/model.yaml``) against the same model unconstrained
  (``--deep-leaves`` leaves, by default 127, above the 63 tuning may choose; ``--deep-depth``
  depth, by default none; monotone constraints and everything else kept): weighted test-month AUC of each with its interval and the paired-bootstrap interval of
  the difference (budget - unconstrained), as in ``bench_explain.py``'s ``depth_budget`` step.

Results: ``benchmarks/results/difficulty.json``, one record per difficulty (enterprises, seeds,
commands, wall time of each, machine); a rerun replaces the records it measures and keeps the
others. Aggregates only: no enterprise id, no enterprise's class or score.

    python benchmarks/bench_difficulty.py                                   # 100k, default and hard
    python benchmarks/bench_difficulty.py --enterprises 20000 --difficulties default
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from common import ROOT, machine

RESULTS = ROOT / "benchmarks" / "results" / "difficulty.json"
RISKCLASS = str(Path(sys.executable).with_name("riskclass"))
#: the demo's settings, if the Makefile cannot be read (it is, at run time)
DEMO_DEFAULTS = {
    "DEMO_MONTHS": "36",
    "DEMO_SEED": "20261",
    "DEMO_AS_OF": "2026-10",
    "DEMO_FEATURES_FROM": "2024-10",
}
LOOP_DEFAULTS = {"months": "12", "retrain_every": "3"}


# ------------------------------------------------------------------ the demo's settings
def demo_settings() -> dict[str, str]:
    """DEMO_* of the Makefile and the demo's simulate-loop months and retraining period."""
    text = (ROOT / "Makefile").read_text(encoding="utf-8")
    out = dict(DEMO_DEFAULTS)
    for key in DEMO_DEFAULTS:
        m = re.search(rf"^{key}\s*\?=\s*(\S+)\s*$", text, re.MULTILINE)
        if m:
            out[key] = m.group(1)
    m = re.search(r"simulate-loop\b.*?--months\s+(\d+)\s+--retrain-every\s+(\d+)", text)
    loop = {"months": m.group(1), "retrain_every": m.group(2)} if m else LOOP_DEFAULTS
    return {**out, **{f"LOOP_{k.upper()}": v for k, v in loop.items()}}


def difficulty_args(name: str) -> list[str]:
    """How `riskclass simulate` is told the difficulty: ``--difficulty`` when the CLI has it;
    before that, the default world's config (``configs/simulator.yaml``) or
    ``configs/simulator_<name>.yaml``."""
    helptext = subprocess.run(
        [RISKCLASS, "simulate", "--help"], capture_output=True, text=True, env=_env()
    ).stdout
    if "--difficulty" in helptext:
        return ["--difficulty", name]
    config = "configs/simulator.yaml" if name == "default" else f"configs/simulator_{name}.yaml"
    if not (ROOT / config).is_file():
        raise SystemExit(f"riskclass simulate has no --difficulty and there is no {config}")
    return ["--config", config]


def _env() -> dict[str, str]:
    import os

    # as the Makefile exports them: no telemetry, hash seed fixed
    return {
        **os.environ,
        "GX_ANALYTICS_ENABLED": "False",
        "DVC_NO_ANALYTICS": "1",
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "DO_NOT_TRACK": "1",
        "PYTHONHASHSEED": "0",
    }


# ------------------------------------------------------------------ running the product
class Runner:
    """Runs `riskclass` commands in one scratch folder, keeping each command and its wall time."""

    def __init__(self, work: Path) -> None:
        self.work = work
        self.commands: list[dict[str, Any]] = []

    def __call__(self, args: list[str]) -> None:
        t0 = time.perf_counter()
        proc = subprocess.run(
            [RISKCLASS, *args], cwd=self.work, capture_output=True, text=True, env=_env()
        )
        seconds = time.perf_counter() - t0
        if proc.returncode != 0:
            raise SystemExit(
                f"riskclass {args[0]} failed ({proc.returncode}):\n"
                f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
            )
        self.commands.append(
            {"command": "riskclass " + " ".join(args), "seconds": round(seconds, 1)}
        )
        print(f"  riskclass {args[0]}: {seconds:.0f} s", flush=True)


def _read(path: Path) -> dict[str, Any]:
    out: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return out


def measure(
    root: Path, difficulty: str, args: argparse.Namespace, demo: dict[str, str]
) -> dict[str, Any]:
    work = root / difficulty
    if work.exists():  # --keep: an earlier run's folder
        shutil.rmtree(work)
    work.mkdir(parents=True)
    shutil.copytree(ROOT / "configs", work / "configs")
    run = Runner(work)
    as_of, seed = demo["DEMO_AS_OF"], str(args.seed)
    t0 = time.perf_counter()
    run(
        ["simulate", *difficulty_args(difficulty), "--enterprises", str(args.enterprises),
         "--months", demo["DEMO_MONTHS"], "--seed", seed, "--out", "data/raw",
         "--truth-out", "data/truth", "--summary-out", "outputs/simulation_summary.json"]
    )  # fmt: skip
    run(["ingest", "--source", "data/raw", "--out", "data/interim", "--as-of", as_of])
    run(
        ["features", "--source", "data/interim", "--out", "data/processed/features",
         "--from", demo["DEMO_FEATURES_FROM"], "--to", as_of]
    )  # fmt: skip
    run(
        ["train", "--features", "data/processed/features", "--interim", "data/interim",
         "--truth", "data/truth", "--metrics-out", "outputs/train_metrics.json"]
    )  # fmt: skip
    run(["verify", "--as-of", as_of, "--alias", "challenger", "--report-only"])
    run(
        ["simulate-loop", "--to", as_of, "--months", demo["LOOP_MONTHS"],
         "--retrain-every", demo["LOOP_RETRAIN_EVERY"], "--seed", seed]
    )  # fmt: skip
    product_seconds = time.perf_counter() - t0

    print("  depth budget: two general models ...", flush=True)
    t = time.perf_counter()
    depth = depth_budget(work, args)
    depth["seconds"] = round(time.perf_counter() - t, 1)

    train = _read(work / "outputs" / "train_metrics.json")
    simulation = _read(work / "outputs" / "simulation_summary.json")
    return {
        "difficulty": difficulty,
        "enterprises": args.enterprises,
        "months": int(demo["DEMO_MONTHS"]),
        "as_of": as_of,
        "features_from": demo["DEMO_FEATURES_FROM"],
        "seed": args.seed,
        "model_seed": depth["seed"],
        "simulation": _simulation_figures(simulation),
        "labelled": train.get("labelled"),
        "auc": _auc_figures(train),
        "loop": _loop_figures(_read(work / "outputs" / "loop" / as_of / "loop.json")),
        "verification": _verification_figures(
            _read(work / "outputs" / as_of / "verification" / "metrics.json")
        ),
        "depth_budget": depth,
        "commands": run.commands,
        "product_seconds": round(product_seconds, 1),
    }


# ------------------------------------------------------------------ figures from the outputs
def _simulation_figures(s: dict[str, Any]) -> dict[str, Any]:
    """The simulator's own aggregate figures (oracle AUC of the history, hit rates ...)."""
    keep = (
        "difficulty",
        "oracle_auc",
        "double_random_inspections",
        "double_random_hit_rate_by_class",
        "yearly_double_random_coverage",
    )
    return {k: s[k] for k in keep if k in s}


def _auc_figures(m: dict[str, Any]) -> dict[str, Any]:
    iv = m.get("auc_intervals")
    if not iv:
        raise SystemExit(
            "train_metrics.json has no auc_intervals: the train stage predates issue 19's "
            "intervals (pipelines/train/intervals.py)"
        )
    models, diffs = iv["models"], iv["differences"]
    oracle = models.get("oracle", {}).get("auc")
    deployed = models["deployed"]["auc"]
    return {
        "deployed": (m.get("plain_baseline") or {}).get("model")
        or ("general_plus_sector" if "general_plus_sector" in m else "lightgbm"),
        "test_rows": iv["rows"],
        "bootstrap": iv["bootstrap"],
        "confidence": iv["confidence"],
        "bootstrap_seed": iv["seed"],
        "model": models["deployed"],
        "plain_baseline": models.get("plain_gbm"),
        "indicator_points": models.get("indicator_score"),
        "oracle": models.get("oracle"),
        "model_minus_indicator_points": diffs.get("deployed_minus_indicator_score"),
        "model_minus_plain_baseline": diffs.get("deployed_minus_plain_gbm"),
        "model_minus_oracle": diffs.get("deployed_minus_oracle"),
        "model_share_of_oracle": deployed / oracle if oracle else None,
        "plain_baseline_lost": (m.get("plain_baseline") or {}).get("lost"),
    }


def _loop_figures(loop: dict[str, Any]) -> dict[str, Any]:
    return {
        "months": loop.get("months"),
        "retrain_every": loop.get("retrain_every"),
        "seed": loop.get("seed"),
        "rates": loop.get("rates"),
        "policies": loop.get("policies"),
        "estimation": loop.get("estimation"),
    }


def _verification_figures(v: dict[str, Any]) -> dict[str, Any]:
    return {
        "verdict": v.get("verdict"),
        "window": v.get("window"),
        "auc": v.get("auc"),
        "checks": v.get("checks"),
        "main_risk_points": v.get("main_risk_points"),
    }


# ------------------------------------------------------------------ the depth budget
def depth_budget(work: Path, args: argparse.Namespace) -> dict[str, Any]:
    """The step in its own process, in the scratch folder (its configs and MLflow store)."""
    out = work / "depth_budget.json"
    cmd = [
        sys.executable, str(Path(__file__).resolve()), "--step", "depth_budget",
        "--deep-leaves", str(args.deep_leaves), "--deep-depth", str(args.deep_depth),
        "--step-out", str(out),
    ]  # fmt: skip
    proc = subprocess.run(cmd, cwd=work, capture_output=True, text=True, env=_env())
    if proc.returncode != 0:
        raise SystemExit(f"depth budget failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return _read(out)


def step_depth_budget(args: argparse.Namespace) -> dict[str, Any]:
    """In the scratch folder (cwd): the labelled rows as training splits and weights them, the
    registered version's tuned parameters, two general models the same but for their size."""
    import tempfile as tf

    import mlflow

    sys.path.insert(0, str(ROOT / "benchmarks"))
    from bench_explain import model_shape

    from features.definitions import full_catalog
    from models import gbm
    from models.config import ModelConfig
    from models.metrics import weighted_auc
    from pipelines import paths
    from pipelines.bundle import load_bundle
    from pipelines.config import load_config
    from pipelines.frames import file_derived, labelled_split, read_inspections
    from pipelines.train.data import split
    from pipelines.train.intervals import auc_intervals
    from pipelines.train.tuning import HYPER

    cfg = load_config(Path("configs/model.yaml"), ModelConfig)
    features_dir, interim = Path("data/processed/features"), Path("data/interim")
    rows = labelled_split(cfg, features_dir, read_inspections(interim))
    frame, train_frame = rows.frame, rows.train_frame
    derived = file_derived(paths.features_file(features_dir, str(frame["feature_month"].iloc[0])))
    catalog = full_catalog(derived)
    design = gbm.fit_design(train_frame, catalog)
    constraints = gbm.monotone(design, catalog)
    train = split(train_frame, design)
    test = split(frame[frame["split"] == "test"], design)

    bundle = load_bundle(cfg, "challenger")
    with tf.TemporaryDirectory() as tmp:
        meta_path = mlflow.artifacts.download_artifacts(
            run_id=bundle.run_id, artifact_path="bundle/meta.json", dst_path=tmp
        )
        tuned = json.loads(Path(meta_path).read_text(encoding="utf-8")).get("params")
    budget = {**cfg.lightgbm.model_dump(), **(tuned or {})}
    deep = {**budget, "num_leaves": args.deep_leaves, "max_depth": args.deep_depth}
    models: dict[str, Any] = {}
    margins: dict[str, Any] = {}
    for name, hyper in (("budget", budget), ("unconstrained", deep)):
        params = gbm.lgb_params(
            hyper, cfg.seed, cfg.lightgbm.threads, constraints, list(design.levels)
        )
        t = time.perf_counter()
        booster = gbm.train(train.x, train.y, train.w, params, hyper["n_estimators"])
        margins[name] = gbm.predict_raw(booster, test.x)
        shape = model_shape(booster)
        models[name] = {
            "params": {k: hyper[k] for k in HYPER},
            "train_seconds": round(time.perf_counter() - t, 1),
            **{k: shape[k] for k in ("trees", "mean_leaves", "max_depth_reached",
                                     "max_path_features", "tables_supported")},
        }  # fmt: skip
        if name == "budget":  # retrained from config and seed: is it the registered model?
            same = design == bundle.design
            general = gbm.predict_raw(bundle.general, test.x) if same else None
            models[name]["same_test_auc_as_registered_general"] = (
                bool(abs(weighted_auc(test.y, general, test.w) - weighted_auc(test.y, margins[name], test.w)) < 1e-12)
                if general is not None
                else None
            )  # fmt: skip
    pc = cfg.plain_baseline
    iv = auc_intervals(test.y, test.w, margins, pc.bootstrap, pc.confidence, cfg.seed, "budget")
    for name in models:
        models[name]["test_auc"] = iv["models"][name]
    return {
        "seed": cfg.seed,
        "params_source": "registered version's meta.json params" if tuned else "configs/model.yaml",
        "labelled": {"train": len(train.y), "test": len(test.y)},
        "bootstrap": pc.bootstrap,
        "confidence": pc.confidence,
        "models": models,
        "budget_minus_unconstrained": iv["differences"]["budget_minus_unconstrained"],
    }


# ------------------------------------------------------------------ report
def _ci(d: dict[str, Any] | None, key: str = "auc", signed: bool = False) -> str:
    if not d:
        return "n/a"
    f = "+.3f" if signed else ".3f"
    lo, hi = d.get("low"), d.get("high")
    bounds = f" [{lo:{f}}, {hi:{f}}]" if lo is not None and hi is not None else ""
    return f"{d[key]:{f}}{bounds}"


def _risk_points(block: Any) -> str:
    """One line of verify's ``main_risk_points``: per category the share of problems the
    risk points named, its interval and its baseline (the full block is in the results; when
    it is shaped otherwise, its start as JSON)."""
    try:
        parts = [
            f"{cat} {c['hit_share']:.0%} [{c['low']:.0%}, {c['high']:.0%}] vs "
            f"{c['baseline_mean']:.0%}{' *' if c.get('above_baseline') else ''}"
            for cat, c in block["by_category"].items()
            if c.get("hit_share") is not None
        ]
        return "; ".join(parts) + " (* above its baseline)"
    except (KeyError, TypeError, ValueError):
        return json.dumps(block, ensure_ascii=False)[:300]


def print_record(r: dict[str, Any]) -> None:
    a, loop, v, d = r["auc"], r["loop"], r["verification"], r["depth_budget"]
    print(
        f"{r['difficulty']} ({r['enterprises']:,} enterprises, seed {r['seed']}, "
        f"{a['test_rows']:,} test inspections, {r['product_seconds']:.0f} s + depth "
        f"{d['seconds']:.0f} s):"
    )
    print(
        f"    AUC model ({a['deployed']}) {_ci(a['model'])}  indicator points {_ci(a['indicator_points'])}  "
        f"plain {_ci(a['plain_baseline'])}  oracle {_ci(a['oracle'])}"
    )
    share = a["model_share_of_oracle"]
    print(
        f"    model - indicator points {_ci(a['model_minus_indicator_points'], 'diff', True)}  "
        f"model - plain {_ci(a['model_minus_plain_baseline'], 'diff', True)}  "
        + (f"share of oracle {share:.1%}" if share is not None else "")
    )
    pol = loop.get("policies") or {}
    print(
        "    problems per 100 inspections: "
        + "  ".join(
            f"{p} {x['per_100']:.1f} [{x['low']:.1f}, {x['high']:.1f}]" for p, x in pol.items()
        )
    )
    failed = [k for k, c in (v.get("checks") or {}).items() if not c.get("passed")]
    verdict = f"{v.get('verdict')}" + (f" ({', '.join(failed)} failed)" if failed else "")
    print(f"    verify: {verdict}; main risk points: {_risk_points(v.get('main_risk_points'))}")
    b, u = d["models"]["budget"], d["models"]["unconstrained"]
    print(
        f"    depth budget, general model: budget ({b['params']['num_leaves']} leaves, depth "
        f"{b['params']['max_depth']}) {_ci(b['test_auc'])}  unconstrained "
        f"({u['params']['num_leaves']} leaves, depth {u['params']['max_depth']}) "
        f"{_ci(u['test_auc'])}  difference {_ci(d['budget_minus_unconstrained'], 'diff', True)}"
    )


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--difficulties", nargs="+", default=["default", "hard"])
    p.add_argument("--enterprises", type=int, default=100_000)
    p.add_argument("--seed", type=int, default=None, help="default: the Makefile's DEMO_SEED")
    p.add_argument(
        "--deep-leaves", type=int, default=127, help="above tuning's largest (63): more leaves"
    )
    p.add_argument("--deep-depth", type=int, default=-1)
    p.add_argument("--out", type=Path, default=RESULTS)
    p.add_argument("--keep", type=Path, default=None, help="keep the scratch folders here")
    p.add_argument("--step", choices=("depth_budget",), help=argparse.SUPPRESS)
    p.add_argument("--step-out", type=Path, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.step:
        out = step_depth_budget(args)
        args.step_out.write_text(json.dumps(out, default=str) + "\n", encoding="utf-8")
        return
    demo = demo_settings()
    if args.seed is None:
        args.seed = int(demo["DEMO_SEED"])
    results: dict[str, Any] = {"difficulties": {}}
    if args.out.is_file():  # a rerun replaces the records it measures and keeps the others
        results["difficulties"] = _read(args.out).get("difficulties", {})
    for difficulty in args.difficulties:
        print(f"{difficulty}:", flush=True)
        with tempfile.TemporaryDirectory() as tmp:
            root = args.keep if args.keep is not None else Path(tmp)
            t0 = time.perf_counter()
            rec = measure(root, difficulty, args, demo)
        rec["seconds"] = round(time.perf_counter() - t0, 1)
        rec["demo_settings"] = demo
        rec["machine"] = machine()
        rec["date_run"] = time.strftime("%Y-%m-%d")  # audit stamp of the benchmark only
        results["difficulties"][difficulty] = rec
        print_record(rec)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(
            json.dumps(results, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
        )
    print(f"written {args.out}")


if __name__ == "__main__":
    main()
