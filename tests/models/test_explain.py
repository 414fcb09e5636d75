"""TreeSHAP explanations: exact, additive, the same from both engines and from shap."""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pytest

from models import gbm, treeshap
from models.explain import Explainer, contributions, group_sums, top_risk_points


def _data(seed: int, n: int = 3000) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 6))
    x[:, 5] = rng.integers(0, 4, n)  # a categorical column (level codes)
    x[rng.random(n) < 0.1, 1] = np.nan  # missing values
    x[rng.random(n) < 0.05, 5] = np.nan  # a missing level
    x[rng.random(n) < 0.02, 5] = -0.5  # LightGBM truncates to level 0
    x[rng.random(n) < 0.02, 5] = -3.0  # a negative level goes right
    x[rng.random(n) < 0.2, 2] = 0.0  # many exact zeros
    x[rng.random(n) < 0.05, 2] = -1e-36  # LightGBM reads |v| <= 1e-35 as zero
    x[rng.random(n) < 0.05, 3] = 1e-35
    x[:500] = x[0]  # many identical rows, as in a province of empty firms
    logit = 1.2 * x[:, 0] - np.nan_to_num(x[:, 1]) + (x[:, 5] == 2) * 1.5 + (x[:, 2] == 0)
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    return x, y


def _train(x: np.ndarray, y: np.ndarray, init: np.ndarray | None = None, **extra) -> lgb.Booster:  # type: ignore[no-untyped-def]
    params = gbm.lgb_params(
        {
            "num_leaves": 15,
            "max_depth": 5,
            "learning_rate": 0.1,
            "min_child_samples": 20,
            "subsample": 1.0,
            "colsample_bytree": 1.0,
            "reg_lambda": 0.0,
        },
        seed=3,
        threads=2,
        constraints=None,
    )
    params = {**params, "categorical_feature": [5], **extra}
    return gbm.train(x, y, None, params, 60, init_score=init)


@pytest.fixture(scope="module", params=["nan_missing", "zero_as_missing"])
def model(request):  # type: ignore[no-untyped-def]
    x, y = _data(7)
    extra = {"zero_as_missing": True} if request.param == "zero_as_missing" else {}
    booster = _train(x, y, **extra)
    # rows exactly on the model's thresholds: the decision must be LightGBM's (v <= t)
    dump = booster.dump_model()
    on = x[:200].copy()
    for i, tree in enumerate(dump["tree_info"][:200]):
        node = tree["tree_structure"]
        if "split_index" in node and node["decision_type"] == "<=":
            on[i, node["split_feature"]] = node["threshold"]
    return booster, np.vstack([x, on])


@pytest.mark.filterwarnings("ignore:LightGBM binary classifier with TreeExplainer:UserWarning")
def test_agrees_with_shap_and_adds_up(model) -> None:  # type: ignore[no-untyped-def]
    import shap

    booster, x = model
    c = Explainer.build(booster)(x, {})
    margin = booster.predict(x, raw_score=True)
    assert np.max(np.abs(c.sum(axis=1) - margin)) <= 1e-6  # additivity
    explainer = shap.TreeExplainer(booster)
    sv = np.asarray(explainer.shap_values(x[:400]))
    sv = sv[1] if sv.ndim == 3 else sv
    assert np.max(np.abs(sv - c[:400, :-1])) <= 1e-6
    assert abs(float(np.ravel(explainer.expected_value)[-1]) - c[0, -1]) <= 1e-6


def test_tables_equal_lightgbm_pred_contrib(model) -> None:  # type: ignore[no-untyped-def]
    booster, x = model
    fast = Explainer.build(booster, engine="tables")
    assert fast.engine == "tables"
    reference = contributions(booster, x)
    got = fast(x, {})
    assert np.max(np.abs(got - reference)) <= 1e-9
    for k in (1, 3, 5):  # the same main risk points, in the same order
        assert np.array_equal(top_risk_points(got, k)[0], top_risk_points(reference, k)[0])


def test_categorical_splits_on_many_levels() -> None:
    """A split on a set of levels ("3||17||40"), levels above 31 (a second bitset word)."""
    rng = np.random.default_rng(4)
    n = 6000
    x = rng.normal(size=(n, 3))
    x[:, 2] = rng.integers(0, 60, n)
    x[rng.random(n) < 0.05, 2] = np.nan
    effect = rng.normal(size=60)
    logit = x[:, 0] + effect[np.nan_to_num(x[:, 2]).astype(int)] * 2
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    params = gbm.lgb_params(
        {
            "num_leaves": 15,
            "max_depth": 5,
            "learning_rate": 0.1,
            "min_child_samples": 20,
            "subsample": 1.0,
            "colsample_bytree": 1.0,
            "reg_lambda": 0.0,
        },
        seed=3,
        threads=2,
        constraints=None,
    )
    booster = gbm.train(x, y, None, {**params, "categorical_feature": [2]}, 40)
    sets = [
        n["threshold"]
        for t in booster.dump_model()["tree_info"]
        for n in [t["tree_structure"]]
        if n.get("decision_type") == "=="
    ]
    assert any("||" in str(v) and max(map(int, str(v).split("||"))) > 31 for v in sets)
    got = Explainer.build(booster)(x, {})
    assert np.max(np.abs(got - contributions(booster, x))) <= 1e-9


def test_lightgbm_engine_is_the_reference(model) -> None:  # type: ignore[no-untyped-def]
    booster, x = model
    slow = Explainer.build(booster, engine="lightgbm")
    assert slow.engine == "lightgbm"
    assert np.array_equal(slow(x, {}), contributions(booster, x))
    with pytest.raises(ValueError, match="engine"):
        Explainer.build(booster, engine="fast")


def test_a_model_beyond_the_depth_budget_falls_back_to_lightgbm() -> None:
    x, y = _data(11, n=4000)
    wide = np.hstack([x, np.random.default_rng(1).normal(size=(len(x), 12))])
    booster = _train(wide, y, num_leaves=200, max_depth=-1, min_child_samples=2, min_data_in_bin=1)
    deep = max(treeshap._path_sizes(booster.dump_model()))
    assert deep > treeshap.MAX_PATH_FEATURES  # the fixture really is beyond the budget
    assert not treeshap.supported(booster)
    e = Explainer.build(booster)
    assert e.engine == "lightgbm"
    assert np.array_equal(e(wide[:50], {}), contributions(booster, wide[:50]))
    with pytest.raises(ValueError, match="budget"):
        treeshap.build(booster)


def test_sector_trees_on_top_of_the_general_margin_are_explained_exactly() -> None:
    x, y = _data(5)
    general = _train(x, y)
    margin = general.predict(x, raw_score=True)
    flag = (x[:, 5] == 1).astype(float)
    m = flag == 1
    sector = _train(x[m], y[m], init=margin[m])
    for rule in ("boost", "replace"):
        e = Explainer.build(general, [("flag", sector)], rule)
        c = e(x, {"flag": flag})
        own = sector.predict(x[m], raw_score=True)
        expected = margin.copy()
        expected[m] = margin[m] + own if rule == "boost" else own
        assert e.exact
        assert np.max(np.abs(c.sum(axis=1) - expected)) <= 1e-6
    assert not Explainer.build(general, [("flag", sector)], "average").exact
    assert Explainer.build(general, [("flag", sector)]).engine == "tables"


def test_an_enterprise_of_two_sectors_is_explained_by_the_later_sector_model() -> None:
    """As classify scores it: each sector model from the general margin, the later wins."""
    x, y = _data(6)
    general = _train(x, y)
    margin = general.predict(x, raw_score=True)
    first = (x[:, 5] >= 1).astype(float)
    second = (x[:, 0] > 0).astype(float)
    both = (first == 1) & (second == 1)
    assert both.sum() > 100
    s1 = _train(x[first == 1], y[first == 1], init=margin[first == 1])
    s2 = _train(x[second == 1], y[second == 1], init=margin[second == 1])
    own2 = s2.predict(x, raw_score=True)
    for rule, expected in (
        ("boost", margin + own2),
        ("replace", own2),
        ("average", (margin + own2) / 2),
    ):
        e = Explainer.build(general, [("f1", s1), ("f2", s2)], rule)
        c = e(x, {"f1": first, "f2": second})
        if rule == "average":  # the mean of the two models' contributions
            c_mean = (contributions(general, x) + contributions(s2, x)) / 2
            assert np.max(np.abs(c[both] - c_mean[both])) <= 1e-9
        else:
            assert np.max(np.abs(c[both].sum(axis=1) - expected[both])) <= 1e-6


def test_the_engine_says_when_a_booster_falls_back(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    x, y = _data(5)
    shallow = _train(x, y, max_depth=2, num_leaves=4)
    deep = _train(x, y)
    monkeypatch.setattr(treeshap, "MAX_PATH_FEATURES", 2)  # as if the budget were smaller
    assert treeshap.supported(shallow) and not treeshap.supported(deep)
    mixed = Explainer.build(shallow, [("flag", deep)])
    assert mixed.engine == "mixed"
    flag = np.ones(len(x))
    reference = contributions(shallow, x) + contributions(deep, x)
    assert np.max(np.abs(mixed(x, {"flag": flag}) - reference)) <= 1e-9
    assert Explainer.build(deep).engine == "lightgbm"


def test_a_contribution_that_is_zero_up_to_rounding_is_not_a_risk_point() -> None:
    contrib = np.array([[0.3, 1e-17, -1e-17, 0.0]])
    idx, val = top_risk_points(contrib, k=3)
    assert val[0, 0] == 0.3 and np.isnan(val[0, 1:]).all()
    assert idx[0].tolist() == [0, -1, -1]


def test_top_points_are_the_largest_positive_contributions() -> None:
    contrib = np.array([[0.5, -0.2, 0.9, 0.0, 0.1, -1.0], [-0.1, -0.3, -0.2, -0.4, -0.5, 0.7]])
    idx, val = top_risk_points(contrib, k=3)
    assert idx[0].tolist() == [2, 0, 4] and np.allclose(val[0], [0.9, 0.5, 0.1])
    # nothing raises the risk in row 2: no reason is invented
    assert idx[1].tolist() == [-1, -1, -1] and np.isnan(val[1]).all()


def test_group_sums_add_up_per_group() -> None:
    contrib = np.array([[1.0, 2.0, 3.0, 0.5]])
    sums = group_sums(
        contrib,
        ["a", "b", "c"],
        {"a": "base", "b": "social", "c": "base"},
        ["base", "dynamic", "social"],
    )
    assert sums.tolist() == [[4.0, 0.0, 2.0]]


def test_the_model_config_keeps_trees_within_the_explanation_budget() -> None:
    from models.config import ModelConfig
    from pipelines.config import load_config
    from tests.conftest import ROOT

    cfg = load_config(ROOT / "configs" / "model.yaml", ModelConfig)
    data = cfg.model_dump()
    assert cfg.explain.engine == "tables" and cfg.explain.top_k == 5
    deep = {**data, "lightgbm": {**data["lightgbm"], "max_depth": -1}}
    with pytest.raises(ValueError, match=r"lightgbm.max_depth is -1: the explanation budget"):
        ModelConfig.model_validate(deep)
    wide = {**data, "tuning": {**data["tuning"], "max_depth": [3, 12]}}
    with pytest.raises(ValueError, match=r"tuning.max_depth \(upper bound\) is 12"):
        ModelConfig.model_validate(wide)
    # the slow engine takes any depth
    ModelConfig.model_validate({**deep, "explain": {"top_k": 5, "engine": "lightgbm"}})
