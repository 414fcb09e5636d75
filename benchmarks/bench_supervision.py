"""Benchmark the county side of the supervision loop on the demo province (after `make demo`).

1. **County plans**: every county of the province plans for itself (`riskclass plan --division
   D` with ``configs/campaigns/county_routine.yaml``: strata by division, the due stratum, check
   modes), in one process, timed per county; per county the enterprises in scope, visits, due
   firms, visits by check mode. The plans are written under ``--scratch`` (the month's classes
   are linked there), never into the sealed ``outputs/<month>/``.
2. **Cases**: the demo's case store (``outputs/cases/cases.sqlite``): cases opened, closed, by
   state, overdue at the month end; and the time to open every case afresh and import the demo's
   action file into a scratch store (``riskclass cases open`` / ``cases import``).

Results go to benchmarks/results/supervision.json; a rerun replaces it.

    python benchmarks/bench_supervision.py           # 2 cores: about two minutes
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, machine

RESULTS = ROOT / "benchmarks" / "results" / "supervision.json"


def county_plans(month: str, seed: int, scratch: Path) -> dict[str, object]:
    from models.classes import ClassScheme
    from models.sampling import Campaign
    from pipelines.config import load_config
    from pipelines.plan import run_plan
    from pipelines.store import open_table

    outputs = scratch / "outputs"
    (outputs / month).mkdir(parents=True, exist_ok=True)
    link = outputs / month / "classes.parquet"
    if not link.exists():
        os.symlink(ROOT / "outputs" / month / "classes.parquet", link)
    interim = ROOT / "data" / "interim"
    scheme = load_config(ROOT / "configs" / "classes" / "henan.yaml", ClassScheme)
    campaign = load_config(ROOT / "configs" / "campaigns" / "county_routine.yaml", Campaign)
    classes = pd.read_parquet(link, columns=["uscc"])
    reg = open_table(interim, "enterprises").pandas(["uscc", "division_code"])  # type: ignore[union-attr]
    counties = sorted(reg[reg["uscc"].isin(classes["uscc"])]["division_code"].dropna().unique())
    rows = []
    start = time.perf_counter()
    for d in counties:
        t0 = time.perf_counter()
        run = run_plan(month, campaign, scheme, seed, outputs, interim, division=str(d))
        plan = run.plan.drop_duplicates("uscc")
        rows.append(
            {
                "division": str(d),
                "enterprises": int(run.summary["enterprises"]),
                "visits": len(plan),
                "due": int(plan["stratum"].str.endswith("/due").sum()),
                "check_modes": {k: int(v) for k, v in plan["check_mode"].value_counts().items()},
                "seconds": round(time.perf_counter() - t0, 2),
            }
        )
    total = time.perf_counter() - start
    frame = pd.DataFrame(rows)
    return {
        "campaign": "county_routine",
        "counties": len(rows),
        "seconds_total": round(total, 1),
        "seconds_per_county_median": float(frame["seconds"].median()),
        "visits_total": int(frame["visits"].sum()),
        "visits_per_county_median": float(frame["visits"].median()),
        "due_total": int(frame["due"].sum()),
        "largest": frame.sort_values("enterprises").iloc[-1].to_dict(),
        "per_county": rows,
    }


def cases(month: str, scratch: Path) -> dict[str, object]:
    from contract.months import Month, month_end, parse_month
    from pipelines.cases import CaseStore, import_actions, load_cases_config, read_actions

    end = month_end(*parse_month(month))
    store = CaseStore(ROOT / "outputs" / "cases" / "cases.sqlite")
    cfg = load_cases_config()
    listed = store.cases()
    demo = {
        "opened": len(listed),
        "by_state": {k: int(v) for k, v in listed["state"].value_counts().items()},
        "closed": int((listed["state"] == "closed").sum()),
        "overdue_at_month_end": len(store.overdue(cfg, end, None)),
    }
    fresh = CaseStore(scratch / "cases.sqlite")
    t0 = time.perf_counter()
    opened = fresh.open_from_interim(ROOT / "data" / "interim", Month(month), by="bench")
    t_open = time.perf_counter() - t0
    t0 = time.perf_counter()
    actions = ROOT / "data" / "raw_cases" / "actions.csv"
    imported = import_actions(fresh, read_actions(actions), cfg, by="bench", source=str(actions))
    t_import = time.perf_counter() - t0
    return {
        "demo_store": demo,
        "open_seconds": round(t_open, 2),
        "import_seconds": round(t_import, 2),
        "opened_fresh": {"problems": opened.problems, "opened": opened.opened},
        "import": {
            "rows": imported.rows,
            "accepted": imported.accepted,
            "rejected": len(imported.rejected),
            "reconciles": imported.reconciles,
        },
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--month", default="2026-10")
    ap.add_argument("--seed", type=int, default=20261)
    ap.add_argument("--scratch", type=Path, default=Path("/tmp/bench_supervision"))
    args = ap.parse_args()
    if not (ROOT / "outputs" / args.month / "classes.parquet").is_file():
        sys.exit(f"no classes for {args.month}: run `make demo` first")
    shutil.rmtree(args.scratch, ignore_errors=True)
    args.scratch.mkdir(parents=True)
    result = {
        "machine": machine(),
        "month": args.month,
        "county_plans": county_plans(args.month, args.seed, args.scratch),
        "cases": cases(args.month, args.scratch),
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, ensure_ascii=False, indent=2, default=str) + "\n")
    cp = result["county_plans"]
    print(
        f"county plans: {cp['counties']} counties in {cp['seconds_total']} s "
        f"(median {cp['seconds_per_county_median']} s), {cp['visits_total']:,} visits, "
        f"{cp['due_total']:,} due"
    )
    print(f"cases: {json.dumps(result['cases'], ensure_ascii=False)}")
    print(f"-> {RESULTS}")


if __name__ == "__main__":
    main()
