"""Measure intake on the real-shaped export cases (issue 17): per case and table, rows read,
accepted and quarantined (by rule), and how rows were resolved to an enterprise (exact rules,
probabilistic name linkage, review, unresolved), with the wall time of each run.

Each case of `simulator.exports.CASES` is written to a scratch folder and ingested with
``configs/ingest.yaml`` plus the case's overrides and source mappings
(``tests/pipelines/intake/real_exports/<case>/``), exactly as the tests do.

    python benchmarks/bench_real_exports.py            # writes benchmarks/results/real_exports.json
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml
from common import ROOT, machine

from pipelines.config import load_config
from pipelines.ingest import run_ingest
from pipelines.intake.config import IngestConfig
from simulator.exports import CASES, write_case

HERE = ROOT / "tests" / "pipelines" / "intake" / "real_exports"
RESULTS = ROOT / "benchmarks" / "results" / "real_exports.json"
EXACT = ("uscc", "opaque", "reg_no", "org_code", "taxpayer_no", "name")


def _config(case: str, expected: dict[str, Any]) -> IngestConfig:
    data = load_config(ROOT / "configs" / "ingest.yaml", IngestConfig).model_dump()
    overrides = dict(expected.get("config") or {})
    data["bounds"] = [*data["bounds"], *overrides.pop("bounds", [])]
    data.update(overrides)
    data["sources"] = str(HERE / case / "sources")
    return IngestConfig.model_validate(data)


def measure(case: str, scratch: Path) -> dict[str, Any]:
    expected = yaml.safe_load((HERE / case / "case.yaml").read_text(encoding="utf-8"))
    delivery, out = scratch / case / "delivery", scratch / case / "interim"
    write_case(case, delivery)
    t0 = time.perf_counter()
    try:
        report = run_ingest(
            _config(case, expected),
            delivery,
            out,
            as_of=str(expected["as_of"]),
            delivery_date=expected["delivery_date"],
        )
    except Exception as exc:  # the accept-floor case must stop: record how
        return {
            "stopped": f"{type(exc).__name__}: {str(exc)[:300]}",
            "seconds": round(time.perf_counter() - t0, 1),
        }
    tables = {}
    for t in report.tables:
        if t.status != "ingested" or (t.table == "enterprises" and t.rows_read == 0):
            if t.status == "unavailable":
                tables[t.table] = {"status": "unavailable"}
            continue
        if t.rows_read == 0:
            continue
        r = t.resolution
        entry: dict[str, Any] = {
            "read": t.rows_read,
            "accepted": t.accepted,
            "quarantined": t.quarantined,
            "by_rule": t.by_rule,
            "reconciles": t.rows_read == t.accepted + t.quarantined,
        }
        if t.table != "enterprises":
            entry["resolution"] = {
                "exact": sum(r.get(k, 0) for k in EXACT),
                "exact_by": {k: r[k] for k in EXACT if k in r},
                "probabilistic": r.get("name_linkage", 0),
                "review": r.get("review", 0),
                "unresolved": r.get("unresolved", 0),
            }
        if t.notes:
            entry["notes"] = t.notes
        tables[t.table] = entry
    return {"seconds": round(time.perf_counter() - t0, 1), "tables": tables}


def main() -> None:
    results: dict[str, Any] = {"machine": machine(), "cases": {}}
    with tempfile.TemporaryDirectory(prefix="bench-real-") as tmp:
        for case in CASES:
            results["cases"][case] = measure(case, Path(tmp))
            print(case, json.dumps(results["cases"][case], ensure_ascii=False))
    RESULTS.write_text(
        json.dumps(results, ensure_ascii=False, indent=2, sort_keys=True) + "\n", encoding="utf-8"
    )
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
