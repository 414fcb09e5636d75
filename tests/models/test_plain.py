"""The plain baseline's judgement (issue 18): a paired, seeded bootstrap of the test rows;
the model loses only when the whole interval of AUC(model) - AUC(plain) lies below 0."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from models import plain
from models.metrics import weighted_auc
from pipelines.gates import plain_check


def _rows(n: int = 3000, seed: int = 3) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Outcomes, 1/p weights and a latent risk that explains them."""
    rng = np.random.default_rng(seed)
    risk = rng.normal(size=n)
    y = (rng.random(n) < 1 / (1 + np.exp(-(risk * 1.5 - 1.5)))).astype(float)
    w = 1 / rng.uniform(0.02, 0.3, n)
    return y, w, risk


def test_each_resample_is_the_weighted_auc_of_the_rows_drawn() -> None:
    y, w, risk = _rows(500)
    score = np.round(risk, 1)  # ties count half, as in models.metrics.weighted_auc
    draws = plain.bootstrap_aucs(y, w, [score], b=3, seed=11)
    rng = np.random.default_rng(11)  # the same generator draws the same rows
    for i in range(3):
        idx = rng.integers(0, len(y), size=len(y))
        assert draws[i, 0] == pytest.approx(weighted_auc(y[idx], score[idx], w[idx]), abs=1e-12)


def test_a_clearly_worse_model_loses_and_an_equal_one_does_not() -> None:
    y, w, risk = _rows()
    rng = np.random.default_rng(5)
    good = risk + rng.normal(scale=0.3, size=len(y))  # the plain baseline: close to the truth
    bad = risk + rng.normal(scale=3.0, size=len(y))  # the model: mostly noise
    lost = plain.compare("lightgbm", y, w, bad, good, b=400, confidence=0.95, seed=1)
    assert lost.diff < 0 and lost.diff_low <= lost.diff <= lost.diff_high < 0
    assert lost.lost
    assert lost.model_low <= lost.model_auc <= lost.model_high
    assert lost.plain_low <= lost.plain_auc <= lost.plain_high
    assert lost.model_auc == weighted_auc(y, bad, w) and lost.plain_auc == weighted_auc(y, good, w)
    same = plain.compare("lightgbm", y, w, good, good, b=400, confidence=0.95, seed=1)
    assert same.diff == 0 and same.diff_low == same.diff_high == 0 and not same.lost
    # a tie in expectation (two noisy copies of the same score): the interval straddles 0
    other = risk + rng.normal(scale=0.3, size=len(y))
    tie = plain.compare("lightgbm", y, w, other, good, b=400, confidence=0.95, seed=1)
    assert tie.diff_low < 0 < tie.diff_high and not tie.lost
    # better than the baseline: of course not lost
    assert not plain.compare("lightgbm", y, w, good, bad, b=400, seed=1).lost


def test_the_bootstrap_is_seeded_and_paired() -> None:
    y, w, risk = _rows(800)
    a, b = risk, risk + np.random.default_rng(9).normal(size=len(y))
    first = plain.compare("m", y, w, a, b, b=200, seed=7)
    assert plain.compare("m", y, w, a, b, b=200, seed=7) == first
    assert plain.compare("m", y, w, a, b, b=200, seed=8) != first
    # paired: the same resamples for both models, so the difference is tighter than the
    # two intervals side by side would say
    assert first.diff_high - first.diff_low < (first.model_high - first.model_low) + (
        first.plain_high - first.plain_low
    )


def test_one_outcome_only_cannot_tell_so_it_does_not_lose() -> None:
    y = np.zeros(50)
    c = plain.compare("m", y, np.ones(50), np.arange(50.0), np.arange(50.0)[::-1], b=100)
    assert math.isnan(c.diff_high) and not c.lost


def test_the_figures_travel_and_lost_is_recomputed() -> None:
    y, w, risk = _rows(600)
    c = plain.compare("general_plus_sector", y, w, -risk, risk, b=200, seed=2)
    assert c.lost
    d = c.to_dict()
    assert d["lost"] is True and "whole 95% interval" in d["rule"]
    assert plain.PlainComparison.from_dict(d) == c
    edited = {**d, "lost": False}  # an edited flag is not believed: the figures decide
    assert plain.PlainComparison.from_dict(edited).lost
    back = plain.PlainComparison.from_metrics(c.to_metrics(), model="general_plus_sector")
    assert back == c and c.to_metrics()["plain_lost"] == 1.0
    assert {"plain_gbm_auc", "plain_auc_diff_low", "plain_auc_diff_high"} <= set(c.to_metrics())
    assert plain.PlainComparison.from_metrics({"test_deployed_auc": 0.7}) is None


def test_the_check_fails_a_model_that_lost_only_when_required() -> None:
    y, w, risk = _rows(600)
    lost = plain.compare("m", y, w, -risk, risk, b=200, seed=2)
    fine = plain.compare("m", y, w, risk, risk, b=200, seed=2)
    required = plain_check(lost, required=True)
    assert (
        not required.passed
        and "LOST" in required.value
        and "not wholly below 0" in (required.threshold)
    )
    assert plain_check(lost, required=False).passed  # reported, not required
    assert plain_check(fine, required=True).passed
    missing = plain_check(None, required=True)  # an old version: not available, not a failure
    assert missing.passed and missing.value.startswith("not available")


def test_the_plain_gbm_is_fixed_and_deterministic() -> None:
    rng = np.random.default_rng(0)
    n = 600
    frame = pd.DataFrame(
        {
            "a": rng.normal(size=n),
            "b": rng.integers(0, 5, n).astype(float),
            "kind": rng.choice(np.array(["x", "y", None], dtype=object), n),
        }
    )
    y = (frame["a"] + rng.normal(size=n) > 0.5).astype(float).to_numpy()
    d = plain.design(frame, ["a", "b", "kind", "gone"], ["kind"])
    assert d.levels == {"kind": ("x", "y")}
    x = plain.matrix(frame, d)  # a column the frame lacks is missing throughout
    assert list(x.columns) == ["a", "b", "kind", "gone"] and x["gone"].isna().all()
    one = plain.fit(x, y, np.ones(n), seed=4, threads=1, categorical=["kind"])
    two = plain.fit(x, y, np.ones(n), seed=4, threads=1, categorical=["kind"])
    assert one.model_to_string() == two.model_to_string()
    assert one.current_iteration() == plain.ROUNDS
    p = plain.params(4, 1, ["kind"])
    assert "monotone_constraints" not in p and p["learning_rate"] == plain.PARAMS["learning_rate"]
