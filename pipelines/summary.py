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


def collect(outputs: Path, month: str, order: list[str]) -> dict[str, Any]:
    """``order``: the scheme's ladder, lowest first (`models.classes.class_order`)."""
    folder = Path(outputs) / month
    classes = _read(folder / "classes_summary.json")
    if classes is None:
        raise SummaryError(
            f"summary: {month} is not classified ({folder / 'classes_summary.json'}); "
            f"run `riskclass classify --as-of {month}`"
        )
    verification = _read(folder / "verification" / "metrics.json")
    top_class = order[-1]
    import pyarrow.parquet as pq

    classes_file = pq.read_table(folder / "classes.parquet", columns=["uscc", "class_final"])
    top = sorted(u for u, c in zip(classes_file.column("uscc").to_pylist(),
                                   classes_file.column("class_final").to_pylist(), strict=True)
                 if c == top_class)  # fmt: skip
    report = next((folder / "reports" / f"{u}.html" for u in top
                   if (folder / "reports" / f"{u}.html").is_file()), None)  # fmt: skip
    plans = sorted((folder / "plans").glob("*/plan.json"))
    verified = (verification or {}).get("model", {}).get("version")
    return {
        "month": month,
        "classes": classes,
        "verification": verification,
        "verification_html": str(folder / "verification" / "verification.html")
        if verification
        else None,
        "order": [c for c in order if c in classes["class_shares"]],
        "top_class": top_class,
        "top_class_report": str(report) if report else None,
        # the shares come from classify's model, the hit rates from verify's: say if they differ
        "versions_differ": verified is not None and str(verified) != str(classes["model_version"]),
        "plans": [str(p.parent / "plan.csv") for p in plans],
        "loop": _read(Path(outputs) / "loop" / month / "loop.json"),
        "mlflow_ui": "make mlflow-ui  # http://127.0.0.1:5000",
    }
