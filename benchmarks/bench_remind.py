"""Benchmark risk reminders (`riskclass remind`): a county's batch, HTML and the combined PDF.

The demo province's largest division has under 10,000 enterprises, so a county of ``--size``
enterprises (default 20,000) is made, not timed, from the demo's ingested tables
(``data/interim``, or ``--interim``): the enterprises of the largest divisions, taken whole in
order of size until ``--size`` is reached, relabelled into one division, with their records of
the tables reminders read. Written under ``--scratch`` (default /tmp/bench_remind), never into
``data/`` or ``outputs/``.

Then, timed in its own subprocess sampled for peak memory (`common.run_sampled`), twice:
``html`` (every notice, index.html, index.csv, remind.json) and ``both`` (the same and
``reminders.pdf``, all notices in one Chromium print). Reports enterprises, notices, seconds
(the stage itself, and wall with start-up), enterprises and notices per second, the PDF's
share (``both`` minus ``html``), its size and the peak memory.

Results go to benchmarks/results/remind.json, one record per size; a rerun replaces it.

    python benchmarks/bench_remind.py                  # 2 cores: about a minute
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, machine, run_sampled

RESULTS = ROOT / "benchmarks" / "results" / "remind.json"
TABLES = ("annual_reports", "licences", "abnormal_list", "serious_dishonest_list", "penalties",
          "judicial", "credit_repairs")  # fmt: skip

STAGE = """
import json, sys, time
from pathlib import Path
from features.reminders import OutreachConfig
from pipelines.config import load_config
from pipelines.remind import run_remind
from pipelines.report import to_pdf
cfg = load_config("configs/remind.yaml", OutreachConfig)
t = time.perf_counter()
run = run_remind(sys.argv[1], cfg, Path(sys.argv[2]), Path(sys.argv[3]),
                 division=sys.argv[4], fmt=sys.argv[5], printer=to_pdf)
seconds = time.perf_counter() - t
pdf = run.pdf.stat().st_size if run.pdf else None
Path(sys.argv[6]).write_text(json.dumps({"seconds": seconds, "summary": run.summary,
                                         "pdf_bytes": pdf}))
"""


def make_county(interim: Path, scratch: Path, size: int) -> tuple[Path, str, list[str]]:
    """A scratch interim folder whose one division holds ``size`` enterprises (or fewer)."""
    from pipelines import store

    tables = store.open_tables(interim)
    reg = tables["enterprises"].pandas()
    order = reg["division_code"].value_counts()
    taken: list[str] = []
    for code in order.index:
        if sum(int(order[c]) for c in taken) >= size:
            break
        taken.append(str(code))
    firms = reg[reg["division_code"].isin(taken)].sort_values("uscc").head(size)
    county = taken[0]
    out = scratch / "interim"
    out.mkdir(parents=True, exist_ok=True)
    # written in the single-file layout, which the store still reads
    firms.assign(division_code=county).to_parquet(out / "enterprises.parquet")
    for name in TABLES:
        if name in tables and name != "enterprises":
            t = tables[name].pandas()
            t[t["uscc"].isin(firms["uscc"])].to_parquet(out / f"{name}.parquet")
    return out, county, taken


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--size", type=int, default=20_000)
    ap.add_argument("--month", default="2026-10")
    ap.add_argument("--interim", type=Path, default=ROOT / "data" / "interim")
    ap.add_argument("--scratch", type=Path, default=Path("/tmp/bench_remind"))
    a = ap.parse_args()
    interim, county, taken = make_county(a.interim, a.scratch, a.size)
    n = len(pd.read_parquet(interim / "enterprises.parquet", columns=["uscc"]))
    record: dict[str, object] = {
        "enterprises": n,
        "month": a.month,
        "county": county,
        "made_from_divisions": taken,
        "machine": machine(),
    }
    for fmt in ("html", "both"):
        stats = a.scratch / f"{fmt}.json"
        cmd = [sys.executable, "-c", STAGE, a.month, str(interim), str(a.scratch / "outputs"),
               county, fmt, str(stats)]  # fmt: skip
        wall, peak = run_sampled(cmd)
        got = json.loads(stats.read_text())
        notices = int(got["summary"]["with_notice"])
        record[fmt] = {
            "seconds": round(got["seconds"], 2),
            "wall_seconds": round(wall, 2),
            "notices": notices,
            "enterprises_per_second": round(n / got["seconds"], 1),
            "notices_per_second": round(notices / got["seconds"], 1),
            "peak_rss_mib": round(peak / 2**20, 1),
            "pdf_mib": round(got["pdf_bytes"] / 2**20, 2) if got["pdf_bytes"] else None,
        }
        record["facts"] = got["summary"]["facts"]
    both, html = record["both"], record["html"]
    assert isinstance(both, dict) and isinstance(html, dict)
    record["pdf_seconds"] = round(both["seconds"] - html["seconds"], 2)
    results = json.loads(RESULTS.read_text()) if RESULTS.is_file() else {}
    results[f"county-{a.size}"] = record
    RESULTS.write_text(json.dumps(results, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(record, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
