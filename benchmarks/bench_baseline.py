"""The deployed model against the plain baseline (issue 18), on every data set the project can make.

A plain LightGBM on simple per-enterprise aggregates of the delivered tables (`models.plain`,
`pipelines.aggregates`) is what a data scientist builds in ten minutes; the project's model must
not lose to it. Each data set goes through the product exactly as a user would run it - the
`riskclass` commands, in a scratch folder with its own MLflow store - and the figures come from
its `train_metrics.json` (AUC of the deployed model and of the plain GBM on the held-out rows,
each with its paired-bootstrap interval, and the interval of the difference):

* ``synthetic``: the synthetic province (`riskclass simulate`), double-random inspections as
  labels, out-of-time split;
* ``synthetic_messy``: the same province delivered as departmental exports are (the messy copy:
  GB18030/BOM CSV, .xlsx, title rows, Chinese headers, invalid codes ...), ingested, then trained;
* ``research``: an anonymised, labelled research extract (`simulator.research`): opaque ids, a
  registry of nothing but ids, side tables whose signal is in pass-through columns and the
  generic indicators table, and a labelled snapshot (``train --labels --as-of``: grouped
  cross-validation by enterprise, no invented history);
* the real-shaped intake fixtures of issue 17 (`simulator.exports.CASES`) hold a handful of
  labelled rows each (at most a few inspections): too few to train on, which the results say
  per case instead of printing a meaningless AUC.

    python benchmarks/bench_baseline.py                        # all, defaults below
    python benchmarks/bench_baseline.py --only research --research-enterprises 15000
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from common import ROOT, machine

RESULTS = ROOT / "benchmarks" / "results" / "baseline.json"
RISKCLASS = str(Path(sys.executable).with_name("riskclass"))


def _run(args: list[str], cwd: Path) -> None:
    t0 = time.perf_counter()
    proc = subprocess.run([RISKCLASS, *args], cwd=cwd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(
            f"riskclass {' '.join(args[:1])} failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
        )
    print(f"  riskclass {args[0]}: {time.perf_counter() - t0:.0f} s", flush=True)


def _workspace(root: Path, name: str) -> Path:
    """A scratch folder with a copy of the configuration (its relative paths resolve there)."""
    work = root / name
    work.mkdir(parents=True)
    shutil.copytree(ROOT / "configs", work / "configs")
    return work


def _figures(metrics: Path) -> dict[str, Any]:
    m = json.loads(metrics.read_text(encoding="utf-8"))
    plain = m.get("plain_baseline")
    if plain is None:
        return {"plain_baseline": None, "labelled": m.get("labelled")}
    return {
        "deployed": plain["model"],
        "model_auc": plain["model_auc"],
        "model_interval": [plain["model_low"], plain["model_high"]],
        "plain_auc": plain["plain_auc"],
        "plain_interval": [plain["plain_low"], plain["plain_high"]],
        "difference": plain["diff"],
        "difference_interval": [plain["diff_low"], plain["diff_high"]],
        "model_below_plain_interval": plain["model_auc"] < plain["plain_low"],
        "lost": plain["lost"],
        "test_rows": plain["rows"],
        "bootstrap": plain["bootstrap"],
        "confidence": plain["confidence"],
        "oracle_auc": m.get("oracle_auc"),
        "split": m.get("split"),
        "labelled": m.get("labelled"),
    }


def synthetic(root: Path, enterprises: int, seed: int, messy: bool) -> dict[str, Any]:
    work = _workspace(root, "synthetic_messy" if messy else "synthetic")
    _run(
        [
            "simulate", "--config", "configs/simulator.yaml", "--enterprises", str(enterprises),
            "--months", "36", "--seed", str(seed), "--out", "data/raw",
            "--truth-out", "data/truth", *(["--messy-out", "data/raw_messy"] if messy else []),
        ],
        work,
    )  # fmt: skip
    source = "data/raw_messy" if messy else "data/raw"
    _run(["ingest", "--source", source, "--out", "data/interim", "--as-of", "2026-10"], work)
    _run(
        ["features", "--source", "data/interim", "--out", "data/features",
         "--from", "2024-10", "--to", "2026-10"],
        work,
    )  # fmt: skip
    _run(
        ["train", "--features", "data/features", "--interim", "data/interim",
         "--truth", "data/truth", "--metrics-out", "train_metrics.json"],
        work,
    )  # fmt: skip
    return {"enterprises": enterprises, "seed": seed, **_figures(work / "train_metrics.json")}


def research(root: Path, enterprises: int, seed: int) -> dict[str, Any]:
    from simulator.research import AS_OF, write_research_dataset

    work = _workspace(root, "research")
    summary = write_research_dataset(work / "extract", enterprises=enterprises, seed=seed)
    month = AS_OF.strftime("%Y-%m")
    _run(
        ["ingest", "--source", "extract", "--out", "data/interim", "--as-of", month,
         "--config", "configs/sources/examples/research/ingest.yaml"],
        work,
    )  # fmt: skip
    _run(["features", "--source", "data/interim", "--out", "data/features", "--as-of", month], work)
    _run(
        ["train", "--features", "data/features", "--interim", "data/interim",
         "--labels", "extract/标签.csv", "--as-of", AS_OF.isoformat(),
         "--metrics-out", "train_metrics.json"],
        work,
    )  # fmt: skip
    out = {"enterprises": enterprises, "seed": seed, **_figures(work / "train_metrics.json")}
    out["oracle_auc_of_the_label_probability"] = summary.get("oracle_auc")
    feats = json.loads((work / "data" / "features" / "derived.json").read_text(encoding="utf-8"))
    out["derived_sources"] = len(feats["sources"])
    return out


def fixtures() -> dict[str, Any]:
    """The intake fixtures: how many labelled rows each holds (none is enough to train on),
    from the accepted counts their tests pin (``tests/pipelines/intake/real_exports``)."""
    import yaml

    from simulator.exports import CASES

    out: dict[str, Any] = {}
    for case in CASES:
        expected = yaml.safe_load(
            (ROOT / "tests/pipelines/intake/real_exports" / case / "case.yaml").read_text("utf-8")
        )
        tables = expected.get("tables") or {}
        labels = (tables.get("inspections") or {}).get("accepted", 0)
        out[case] = {
            "labelled_rows": labels,
            "trained": False,
            "why": f"{labels} labelled rows: too few to train on or to estimate an AUC",
        }
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--enterprises", type=int, default=100_000, help="synthetic province size")
    ap.add_argument("--research-enterprises", type=int, default=15_000)
    ap.add_argument("--seed", type=int, default=20261)
    ap.add_argument(
        "--only", choices=("synthetic", "synthetic_messy", "research", "fixtures"), default=None
    )
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args()
    results: dict[str, Any] = {"machine": machine(), "data_sets": {}}
    if args.out.is_file():  # --only updates one entry of an earlier run
        results["data_sets"] = json.loads(args.out.read_text(encoding="utf-8")).get("data_sets", {})
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        runs = {
            "synthetic": lambda: synthetic(root, args.enterprises, args.seed, messy=False),
            "synthetic_messy": lambda: synthetic(root, args.enterprises, args.seed, messy=True),
            "research": lambda: research(root, args.research_enterprises, args.seed),
            "fixtures": fixtures,
        }
        for name, run in runs.items():
            if args.only not in (None, name):
                continue
            print(f"{name}:", flush=True)
            t0 = time.perf_counter()
            figures = run()
            figures["seconds"] = round(time.perf_counter() - t0, 1)
            results["data_sets"][name] = figures
            if "model_auc" in figures:
                lo, hi = figures["model_interval"]
                plo, phi = figures["plain_interval"]
                dlo, dhi = figures["difference_interval"]
                print(
                    f"  {figures['deployed']}: AUC {figures['model_auc']:.3f} [{lo:.3f}, {hi:.3f}]   "
                    f"plain GBM: {figures['plain_auc']:.3f} [{plo:.3f}, {phi:.3f}]   "
                    f"difference {figures['difference']:+.3f} [{dlo:+.3f}, {dhi:+.3f}]   "
                    f"{'LOST' if figures['lost'] else 'not worse'} "
                    f"(n={figures['test_rows']})",
                    flush=True,
                )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"written {args.out}")


if __name__ == "__main__":
    main()
