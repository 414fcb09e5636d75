"""The collection-quality section of the verification report (「全貌性、及时性、准确性」,
seeds/000; 「20个工作日内」, seeds/004).

It reports, from the ``quality`` section the last ingestion wrote into
``<interim>/reconciliation.json`` (`pipelines.intake.quality`), per delivering department and
table: the share of records received within the working-day limit, the median and 90th
percentile delay, completeness of required and optional columns and the error rate. Reported,
not gated; aggregates only (no enterprise, no class). A folder ingested before quality was
measured gives ``{"computed": False, "why": ...}``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pipelines.intake.quality import table_rows
from pipelines.store import side_file

#: What the section keeps of a row (the rule counts stay in reconciliation.json).
FIELDS = (
    "department",
    "table",
    "records",
    "within_limit_share",
    "median_days",
    "p90_days",
    "required_filled_share",
    "optional_filled_share",
    "rows_counted",
    "quarantined",
    "error_rate",
    "outside_calendar",
)


def collection_section(interim: Path) -> dict[str, Any]:
    """The section of ``verification/metrics.json`` for the ingested folder ``interim``."""
    path = side_file(Path(interim), "reconciliation.json")
    if not path.is_file():
        return {"computed": False, "why": f"{path} is missing: run riskclass ingest first"}
    try:
        recon = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ValueError(f"{path}: not a readable reconciliation ({exc})") from None
    quality = recon.get("quality")
    if not quality:
        return {
            "computed": False,
            "why": f"{path} has no quality section: ingested before collection quality was "
            "measured; ingest again",
        }
    departments = [
        {k: d[k] for k in (*FIELDS, "tables") if k in d and k != "table"}
        for d in quality.get("departments", [])
    ]
    slowest = [d for d in departments if d["records"] and d.get("within_limit_share") is not None]
    slowest.sort(key=lambda d: (d["within_limit_share"], d["department"]))
    return {
        "computed": True,
        "delivery": recon.get("run_name"),
        "as_of": recon.get("as_of"),
        "working_day_limit": quality["working_day_limit"],
        "calendar": quality["calendar"],
        "departments": departments,
        "rows": [{k: r.get(k) for k in FIELDS} for r in table_rows(quality)],
        "slowest_department": slowest[0]["department"] if slowest else None,
    }
