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


def _verification(final_calibration: dict[str, tuple[float, float, int]]):  # type: ignore[no-untyped-def]
    """A verification report whose checks `pipelines.gates.checks` computes from the figures:
    per class (predicted, observed, inspections), equal weights."""
    from models import verification as v
    from models.classes import ClassScheme
    from models.config import ModelConfig
    from pipelines.config import load_config
    from pipelines.gates import checks
    from pipelines.paths import MODEL_CONFIG
    from pipelines.results import ClassFigures, ModelRef, Stability, VerificationMetrics

    cfg = load_config(MODEL_CONFIG, ModelConfig)
    scheme = load_config(cfg.class_scheme, ClassScheme)
    rates, cal = {}, {}
    for c, (expected, observed, n) in final_calibration.items():
        low, high = v.jeffreys(observed * n, n)
        rates[c] = v.Rate(n, observed, low, high, observed, float(n))
        cal[c] = v.Calibration(
            n, expected, observed, low, high, v.jeffreys_test(observed * n, n, expected)
        )
    overall = v.Rate(1200, 0.3, 0.27, 0.33, 0.3, 1200.0)
    figures = ClassFigures(
        rates,
        True,
        {c: r.weighted / overall.weighted for c, r in rates.items()},
        rates["D"].weighted / rates["A"].weighted,
        cal,
        dict.fromkeys(rates, 0.25),
    )
    m = VerificationMetrics(
        ModelRef("enterprise-credit-risk", "3"),
        scheme.name,
        ["2026-08", "2026-10"],
        {"used": 1200},
        0.85,
        0.5,
        overall,
        figures,
        figures,
        {},
        Stability("2026-01", "2026-10", 0.01, []),
        {},
        {},
        {"computed": False},
    )
    m.checks = checks(cfg, scheme, m.auc, figures, 0.01, None, figures)
    m.verdict = "PASS" if all(c.passed for c in m.checks.values()) else "FAIL"
    return m


def test_summary_prints_each_failed_check_in_plain_words(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Issue 19: a verdict that measured a miscalibrated class says so, and summary prints it."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from pipelines.io import write_json
    from pipelines.paths import Outputs
    from pipelines.results import ClassesSummary

    out = Outputs(tmp_path)
    counts = {"A": 60, "B": 25, "C": 10, "D": 5}
    write_json(
        ClassesSummary(
            "2026-10", 100, counts, {c: n / 100 for c, n in counts.items()}, {}, "3",
            "tables", str(out.classes("2026-10")),
        ).to_dict(),
        out.classes_summary("2026-10"),
    )  # fmt: skip
    pq.write_table(
        pa.table({"uscc": [f"u{i}" for i in range(4)], "class_final": list("ABCD")}),
        out.classes("2026-10"),
    )
    good = {
        "A": (0.03, 0.032, 360),
        "B": (0.22, 0.23, 360),
        "C": (0.6, 0.6, 200),
        "D": (0.8, 0.8, 300),
    }
    m = _verification(good)
    assert m.verdict == "PASS" and not m.failed_checks
    assert m.checks["calibrated"].passed and "相符" in m.checks["calibrated"].message
    # the demo's class B: predicted 23.1%, observed 34.6%
    m = _verification({**good, "B": (0.231, 0.346, 360)})
    assert m.verdict == "FAIL" and list(m.failed_checks) == ["calibrated"]
    c = m.checks["calibrated"]
    assert "B: predicted 23.1%, observed 34.6%, p 0.000" in c.value
    assert (
        c.message.startswith("预测概率与实际发现率不符") and "class B predicted 23.1%" in c.message
    )
    m.main_risk_points = {
        "top_k": 5,
        "overall": {"problems": 550, "hit_share": 0.658, "baseline_mean": 0.617,
                    "baseline_low": 0.578, "baseline_high": 0.652, "above_baseline": True},
    }  # fmt: skip
    write_json(m.to_dict(), out.verification_metrics("2026-10"))
    r = CliRunner().invoke(app, ["summary", "--as-of", "2026-10", "--outputs", str(tmp_path)])
    assert r.exit_code == 0, r.output
    text = " ".join(r.output.split())  # the console wraps long lines
    assert "FAIL" in text and "FAILED calibrated: 预测概率与实际发现率不符" in text
    assert "B类预测问题发现率23.1%，实际34.6%" in text and "observed 34.6%" in text
    assert "promote refuses it" in text
    assert "of 550 problems of a known category, 65.8% had it named" in text
    assert "(permutation baseline 61.7%, 95% 57.8%–65.2%): above the baseline" in text
