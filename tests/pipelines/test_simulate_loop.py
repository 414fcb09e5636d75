"""`riskclass simulate-loop`: the monthly loop with the model in it, on the small province."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from models.baselines import IndicatorWeights
from models.classes import ClassScheme
from models.sampling import Campaign
from pipelines.config import load_config
from pipelines.simulate_loop import LoopError, _rank_classes, _stratified, run_loop
from tests.conftest import ROOT, model_config
from tests.interim import read_table

pytestmark = pytest.mark.xdist_group("report")


def _inputs(tmp_path):  # type: ignore[no-untyped-def]
    cfg = model_config(tmp_path)
    return (
        cfg,
        load_config(ROOT / "configs" / "classes" / "henan.yaml", ClassScheme),
        load_config(ROOT / "configs" / "campaigns" / "routine.yaml", Campaign),
        load_config(ROOT / "configs" / "indicator_weights.yaml", IndicatorWeights),
    )


def test_the_loop_compares_policies_at_one_budget(
    small_province, small_interim, small_history, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    cfg, scheme, campaign, weights = _inputs(tmp_path)
    args = (
        cfg,
        scheme,
        campaign,
        weights,
        small_history,
        small_interim[1],
        small_province["truth"],
    )
    r = run_loop(*args, tmp_path / "out", "2026-10", months=5, retrain_every=2, seed=3)
    t = r.months
    assert list(t["month"].unique()) == ["2026-06", "2026-07", "2026-08", "2026-09", "2026-10"]
    budget = t.groupby("month")["inspections"].agg(["min", "max"])
    assert (budget["min"] == budget["max"]).all()  # the same number of inspections per policy
    assert (t["problems"] <= t["inspections"]).all() and (t["low"] <= t["per_100"]).all()
    s = r.summary
    assert s["models"][0] == "2025-10..2026-05" and len(s["models"]) == 3  # retrained twice
    assert s["models"][-1] == "2025-10..2026-09"  # the loop's own results became labels
    # the first model learns only from results received before the loop starts
    insp = read_table(small_interim[1], "inspections")
    dr = insp[
        (insp["draw_mode"] == "double_random")
        & pd.to_datetime(insp["inspection_date"]).between("2025-10-01", "2026-05-31")
    ]
    late = int((pd.to_datetime(dr["received_date"]) > "2026-05-31").sum())
    assert late > 0 and s["first_model_labels"]["not_yet_received"] == late
    pol = s["policies"]
    assert pol["model"]["expected_per_100"] > pol["uniform"]["expected_per_100"]
    # unweighted estimates of the problem share are biased upward (high classes are
    # oversampled); 1/p weights remove the bias
    est = s["estimation"]
    assert est["unweighted"]["mean_error"] > 0.05
    assert abs(est["weighted"]["mean_error"]) < est["unweighted"]["mean_error"] / 3
    assert (r.out / "loop.json").is_file() and (r.out / "policies_by_month.csv").is_file()
    again = run_loop(*args, tmp_path / "again", "2026-10", months=5, retrain_every=2, seed=3)
    pd.testing.assert_frame_equal(again.months, t)  # reproducible from config and seed


def test_loop_errors_name_the_problem(
    small_province, small_interim, small_history, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    cfg, scheme, campaign, weights = _inputs(tmp_path)
    args = (cfg, scheme, campaign, weights, small_history, small_interim[1])
    with pytest.raises(LoopError, match="needs earlier months"):
        run_loop(*args, small_province["truth"], tmp_path, "2026-10", months=14)
    with pytest.raises(LoopError, match="no hidden truth"):
        run_loop(*args, tmp_path / "nothing", tmp_path, "2026-10", months=2)


def test_draws_and_rule_classes() -> None:
    rng = np.random.default_rng(0)
    classes = np.array(["A"] * 90 + ["D"] * 10, dtype=object)
    at, p = _stratified(classes, {"A": 0.01, "D": 0.2}, rng)
    assert len(at) == 3 and sorted(classes[at]) == ["A", "D", "D"]
    assert np.allclose(p, [1 / 90, 0.2, 0.2])
    points = np.arange(100.0)
    ranked = _rank_classes(points, {"A": 90, "D": 10}, ["A", "B", "C", "D"], rng)
    assert set(np.flatnonzero(ranked == "D")) == set(range(90, 100))


def test_the_loop_cli_prints_the_comparison(
    small_province, small_interim, small_history, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    import yaml
    from typer.testing import CliRunner

    from pipelines.cli import app

    cfg = model_config(tmp_path)
    path = tmp_path / "model.yaml"
    path.write_text(yaml.safe_dump(cfg.model_dump(mode="json")), encoding="utf-8")
    r = CliRunner().invoke(
        app,
        [
            "simulate-loop",
            "--to",
            "2026-10",
            "--months",
            "2",
            "--seed",
            "1",
            "--config",
            str(path),
            "--truth",
            str(small_province["truth"]),
            "--features",
            str(small_history),
            "--interim",
            str(small_interim[1]),
            "--out",
            str(tmp_path / "out"),
        ],
    )
    assert r.exit_code == 0, r.output
    assert "problems found per 100 inspections" in r.output and "indicator points" in r.output
    assert "unweighted" in r.output
