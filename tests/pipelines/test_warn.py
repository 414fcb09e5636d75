"""`riskclass warn` on a classified month: rises and rules, each enterprise with its reasons."""

from __future__ import annotations

import pandas as pd
import pytest

from models.classes import ClassScheme
from pipelines.config import load_config
from tests.conftest import ROOT

pytestmark = pytest.mark.xdist_group("report")


def test_warn_on_a_classified_month(report_month, small_interim) -> None:  # type: ignore[no-untyped-def]
    from models.warning import WarningConfig
    from pipelines.warn import run_warn

    ctx = report_month
    scheme = load_config(ROOT / "configs" / "classes" / "henan.yaml", ClassScheme)
    cfg = load_config(ROOT / "configs" / "warning.yaml", WarningConfig)
    run = run_warn("2026-10", cfg, scheme, ctx.outputs, ctx.features_path.parent, small_interim[1])
    t = run.table
    assert run.counts["rises_judged"] and len(t) == run.counts["enterprises"] > 0
    assert t["reasons"].str.len().gt(0).all() and t["reasons_zh"].str.len().gt(0).all()
    rises = t[t["reasons"].str.contains("class_rise")]
    order = {c: i for i, c in enumerate("ABCD")}
    assert (rises["class_final"].map(order) > rises["class_before"].map(order)).all()
    on_disk = pd.read_csv(run.out.with_suffix(".csv"), dtype=str, encoding="utf-8-sig")
    assert len(on_disk) == len(t)
