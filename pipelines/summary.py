"""`riskclass summary`: the closing table of a month's run, from the files the stages wrote.

Class shares (classify), hit rates per class with intervals, lift and the verdict
(verify), the policy comparison (simulate-loop, when it ran), and where to look next: the
verification report, one class-D report, the inspection plan, the MLflow UI. Aggregates
and paths only; read from ``outputs/``, never recomputed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


class SummaryError(ValueError):
    """The month has not been classified."""


def _read(path: Path) -> dict[str, Any] | None:
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def collect(outputs: Path, month: str, top_class: str = "D") -> dict[str, Any]:
    folder = Path(outputs) / month
    classes = _read(folder / "classes_summary.json")
    if classes is None:
        raise SummaryError(
            f"summary: {month} is not classified ({folder / 'classes_summary.json'}); "
            f"run `riskclass classify --as-of {month}`"
        )
    verification = _read(folder / "verification" / "metrics.json")
    reports = sorted(p for p in (folder / "reports").glob("*.html") if p.name != "index.html")
    plans = sorted((folder / "plans").glob("*/plan.json"))
    return {
        "month": month,
        "classes": classes,
        "verification": verification,
        "verification_html": str(folder / "verification" / "verification.html")
        if verification
        else None,
        "top_class": top_class,
        # reports/ holds the batch of the highest class (`riskclass report --class D`)
        "top_class_report": str(reports[0]) if reports else None,
        "plans": [str(p.parent / "plan.csv") for p in plans],
        "loop": _read(Path(outputs) / "loop" / month / "loop.json"),
        "mlflow_ui": "make mlflow-ui  # http://127.0.0.1:5000",
    }
