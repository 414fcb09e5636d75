"""`riskclass summary`: the closing table reads what the stages wrote."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from pipelines.cli import app
from pipelines.summary import SummaryError, collect

pytestmark = pytest.mark.xdist_group("report")


def test_summary_of_a_classified_month(report_month, tmp_path) -> None:  # type: ignore[no-untyped-def]
    s = collect(report_month.outputs, "2026-10")
    assert (
        s["classes"]["month"] == "2026-10"
        and abs(sum(s["classes"]["class_shares"].values()) - 1) < 1e-9
    )
    r = CliRunner().invoke(
        app, ["summary", "--as-of", "2026-10", "--outputs", str(report_month.outputs)]
    )
    assert r.exit_code == 0, r.output
    assert "内部参考" in r.output and "MLflow UI" in r.output
    with pytest.raises(SummaryError, match="2026-01 is not classified"):
        collect(tmp_path, "2026-01")
