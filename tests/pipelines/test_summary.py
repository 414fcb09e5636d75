"""`riskclass summary`: the closing table reads what the stages wrote."""

from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest
from typer.testing import CliRunner

from pipelines.cli import app
from pipelines.summary import SummaryError, collect

pytestmark = pytest.mark.xdist_group("report")


def test_summary_of_a_classified_month(report_month, tmp_path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "outputs"
    shutil.copytree(
        report_month.outputs / "2026-10", out / "2026-10", ignore=shutil.ignore_patterns("reports")
    )
    cls = pd.read_parquet(out / "2026-10" / "classes.parquet", columns=["uscc", "class_final"])
    a = cls.loc[cls["class_final"] == "A", "uscc"].min()
    d = cls.loc[cls["class_final"] == "D", "uscc"].max()
    (out / "2026-10" / "reports").mkdir()
    for u in (a, d):  # the A report sorts first: the summary must still name the D one
        (out / "2026-10" / "reports" / f"{u}.html").write_text("<html></html>")
    s = collect(out, "2026-10", list("ABCD"))
    assert s.top_class == "D" and s.top_class_report is not None
    assert s.top_class_report.endswith(f"{d}.html")
    assert s.order == [c for c in "ABCD" if c in s.classes.class_shares]
    assert abs(sum(s.classes.class_shares.values()) - 1) < 1e-9
    assert s.classes.to_dict() == json.loads(
        (out / "2026-10" / "classes_summary.json").read_text(encoding="utf-8")
    )
    r = CliRunner().invoke(app, ["summary", "--as-of", "2026-10", "--outputs", str(out)])
    assert r.exit_code == 0, r.output
    assert "内部参考" in r.output and "MLflow UI" in r.output and f"{d}.html" in r.output
    with pytest.raises(SummaryError, match="2026-01 is not classified"):
        collect(tmp_path, "2026-01", list("ABCD"))
    # A damaged verification report is named, not taken for a month that was never verified.
    (out / "2026-10" / "verification").mkdir(exist_ok=True)
    (out / "2026-10" / "verification" / "metrics.json").write_text("{}", encoding="utf-8")
    with pytest.raises(SummaryError, match=r"metrics.json: not a complete verification report"):
        collect(out, "2026-10", list("ABCD"))
    r = CliRunner().invoke(app, ["summary", "--as-of", "2026-10", "--outputs", str(out)])
    assert r.exit_code != 0 and "not a complete verification report" in r.output
