"""The sector blend (`models.sectors`) is one: training, scoring (`pipelines.bundle.Bundle`,
classify), explaining (`models.explain`) and the benchmarks agree on every rule, and an
enterprise in two sectors gets the later sector's model, never a mix."""

from __future__ import annotations

import numpy as np
import pytest

from models import gbm
from models.calibration import Calibrator
from models.gbm import Design
from models.sectors import blend_probability
from pipelines.bundle import Bundle
from pipelines.train.sectors import sector_scorer
from tests.conftest import ROOT

RULES = ("boost", "replace", "average")
FLAGS = ("sector_food", "sector_drug")  # config order: drug is applied last


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    rng = np.random.default_rng(5)
    n = 1500
    x = rng.normal(size=(n, 4))
    y = (rng.random(n) < 1 / (1 + np.exp(-(x[:, 0] - x[:, 1] + 0.5 * x[:, 2])))).astype(int)
    flags = {FLAGS[0]: (x[:, 2] > 0).astype(float), FLAGS[1]: (x[:, 3] > 0).astype(float)}
    return x, y, flags


@pytest.fixture(scope="module", params=RULES)
def bundle(request, data) -> Bundle:  # type: ignore[no-untyped-def]
    """A deployed model as training stores it: a general booster and two sector boosters
    (``boost``: grown on the general margin), each with its calibrator."""
    rule = request.param
    x, y, flags = data
    hyper = {
        "num_leaves": 7,
        "max_depth": 3,
        "learning_rate": 0.1,
        "min_child_samples": 20,
        "subsample": 1.0,
        "colsample_bytree": 1.0,
        "reg_lambda": 0.0,
    }
    params = gbm.lgb_params(hyper, seed=3, threads=1, constraints=None)
    general = gbm.train(x, y, None, params, 30)
    sectors = []
    for k, flag in enumerate(FLAGS):
        m = flags[flag] == 1
        init = gbm.predict_margin(general, x[m]) if rule == "boost" else None
        booster = gbm.train(x[m], y[m], None, params, 10 + 10 * k, init_score=init)
        cal = Calibrator("sigmoid", a=1.1 - 0.3 * k, b=0.2 * k - 0.1)
        sectors.append((flag.removeprefix("sector_"), flag, booster, cal))
    return Bundle(
        "m",
        "1",
        "run",
        Design(("a", "b", "c", "d"), {}),
        general,
        Calibrator("sigmoid", a=0.9, b=-0.05),
        1000,
        sectors,
        rule,
        None,
    )


def _both(flags: dict[str, np.ndarray]) -> np.ndarray:
    both = (flags[FLAGS[0]] == 1) & (flags[FLAGS[1]] == 1)
    assert both.sum() > 100
    return both


def _classify_before(bundle: Bundle, x: np.ndarray, flags: dict[str, np.ndarray]) -> np.ndarray:
    """`pipelines.classify.Bundle.probability` as it was written before `models.sectors`."""
    margin = gbm.predict_margin(bundle.general, x)
    general = bundle.calibrator(gbm.sigmoid(margin))
    p = general.copy()
    for _name, flag, booster, cal in bundle.sectors:
        m = flags[flag] == 1
        if not m.any():
            continue
        if bundle.sector_rule == "boost":
            ps = cal(gbm.sigmoid(margin[m] + gbm.predict_margin(booster, x[m])))
        else:
            ps = cal(gbm.predict_raw(booster, x[m]))
        p[m] = (ps + general[m]) / 2 if bundle.sector_rule == "average" else ps
    return p


def _margin_before(bundle: Bundle, x: np.ndarray, flags: dict[str, np.ndarray]) -> np.ndarray:
    """The margins of `models.explain` and `benchmarks/bench_explain.py` as they were written
    before `models.sectors` (both the same loop)."""
    general = gbm.predict_margin(bundle.general, x)
    out = general.copy()
    for _name, flag, booster, _cal in bundle.sectors:
        m = np.asarray(flags[flag]) == 1
        if not m.any():
            continue
        sector = gbm.predict_margin(booster, x[m])
        if bundle.sector_rule == "boost":
            out[m] = general[m] + sector
        elif bundle.sector_rule == "replace":
            out[m] = sector
        else:
            out[m] = (general[m] + sector) / 2
    return out


def test_scoring_is_what_classify_computed_and_what_training_evaluates(bundle, data) -> None:  # type: ignore[no-untyped-def]
    x, _y, flags = data
    p = bundle.probability(x, flags)
    assert np.array_equal(p, _classify_before(bundle, x, flags))  # the same arithmetic
    # training: the general model's calibrated probability, then each kept sector model on
    # its rows in config order (pipelines.train.sectors), blended with the general one
    general = bundle.calibrator(gbm.predict_raw(bundle.general, x))
    trained = general.copy()
    for _name, flag, booster, cal in bundle.sectors:
        m = flags[flag] == 1
        raw = sector_scorer(bundle.sector_rule, bundle.general, booster)
        trained[m] = blend_probability(bundle.sector_rule, cal(raw(x[m])), general[m])
    np.testing.assert_allclose(trained, p, rtol=0, atol=1e-12)
    # an enterprise of both sectors: the later sector's model, not the earlier one's
    both = _both(flags)
    alone = {
        "food": {FLAGS[0]: flags[FLAGS[0]], FLAGS[1]: np.zeros(len(x))},
        "drug": {FLAGS[0]: np.zeros(len(x)), FLAGS[1]: flags[FLAGS[1]]},
    }
    assert np.array_equal(p[both], bundle.probability(x, alone["drug"])[both])
    assert not np.allclose(p[both], bundle.probability(x, alone["food"])[both])


def test_explanations_and_the_benchmark_add_up_to_the_same_margin(
    bundle, data, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    x, _y, flags = data
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))
    import bench_explain

    before = _margin_before(bundle, x, flags)
    bench = bench_explain.margin(bundle, x, flags)
    assert np.array_equal(bench, before) and np.array_equal(bundle.margin(x, flags), before)
    for engine in ("lightgbm", "tables"):
        contrib = bundle.explainer(engine)(x, flags)
        np.testing.assert_allclose(contrib.sum(axis=1), before, rtol=0, atol=1e-9)
    # the explained margin is the scored one (exact rules) or the mean of both (average)
    p = bundle.probability(x, flags)
    both = _both(flags)
    _n, _f, drug, drug_cal = bundle.sectors[1]
    general = gbm.predict_margin(bundle.general, x[both])
    sector = gbm.predict_margin(drug, x[both])
    expected = {"boost": general + sector, "replace": sector, "average": (general + sector) / 2}
    np.testing.assert_allclose(before[both], expected[bundle.sector_rule], rtol=0, atol=1e-12)
    if bundle.sector_rule != "average":
        np.testing.assert_allclose(drug_cal(gbm.sigmoid(before[both])), p[both], atol=1e-12)
        plain = (flags[FLAGS[0]] == 0) & (flags[FLAGS[1]] == 0)
        np.testing.assert_allclose(
            bundle.calibrator(gbm.sigmoid(before[plain])), p[plain], rtol=0, atol=1e-12
        )
