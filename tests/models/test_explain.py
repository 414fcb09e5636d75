"""TreeSHAP explanations: exact, additive, the same with and without de-duplication."""

from __future__ import annotations

import numpy as np
import pytest

from models import gbm
from models.explain import contributions, group_sums, top_risk_points


@pytest.fixture(scope="module")
def model():  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(7)
    n = 3000
    x = rng.normal(size=(n, 6))
    x[:, 5] = rng.integers(0, 4, n)  # a categorical column (level codes)
    x[rng.random(n) < 0.1, 1] = np.nan  # missing values
    x[:500] = x[0]  # many identical rows, as in a province of empty firms
    logit = 1.2 * x[:, 0] - np.nan_to_num(x[:, 1]) + (x[:, 5] == 2) * 1.5
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    params = gbm.lgb_params(
        {"num_leaves": 15, "max_depth": 5, "learning_rate": 0.1, "min_child_samples": 20,
         "subsample": 1.0, "colsample_bytree": 1.0, "reg_lambda": 0.0},
        seed=3, threads=2, constraints=None,
    )  # fmt: skip
    params = {**params, "categorical_feature": [5]}
    booster = gbm.train(x, y, None, params, 60)
    return booster, x


@pytest.mark.filterwarnings("ignore:LightGBM binary classifier with TreeExplainer:UserWarning")
def test_agrees_with_shap_and_adds_up(model) -> None:  # type: ignore[no-untyped-def]
    import shap

    booster, x = model
    c = contributions(booster, x)
    margin = booster.predict(x, raw_score=True)
    assert np.max(np.abs(c.sum(axis=1) - margin)) <= 1e-6  # additivity
    explainer = shap.TreeExplainer(booster)
    sv = np.asarray(explainer.shap_values(x[:400]))
    sv = sv[1] if sv.ndim == 3 else sv
    assert np.max(np.abs(sv - c[:400, :-1])) <= 1e-6
    assert abs(float(np.ravel(explainer.expected_value)[-1]) - c[0, -1]) <= 1e-6


def test_deduplication_is_exact(model) -> None:  # type: ignore[no-untyped-def]
    booster, x = model
    assert np.array_equal(
        contributions(booster, x, dedupe=True), contributions(booster, x, dedupe=False)
    )


def test_top_points_are_the_largest_positive_contributions() -> None:
    contrib = np.array([[0.5, -0.2, 0.9, 0.0, 0.1, -1.0], [-0.1, -0.3, -0.2, -0.4, -0.5, 0.7]])
    idx, val = top_risk_points(contrib, k=3)
    assert idx[0].tolist() == [2, 0, 4] and np.allclose(val[0], [0.9, 0.5, 0.1])
    # nothing raises the risk in row 2: no reason is invented
    assert idx[1].tolist() == [-1, -1, -1] and np.isnan(val[1]).all()


def test_group_sums_add_up_per_group() -> None:
    contrib = np.array([[1.0, 2.0, 3.0, 0.5]])
    sums = group_sums(contrib, ["a", "b", "c"], {"a": "base", "b": "social", "c": "base"},
                      ["base", "dynamic", "social"])  # fmt: skip
    assert sums.tolist() == [[4.0, 0.0, 2.0]]
