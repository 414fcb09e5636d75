"""Verification statistics on small cases whose answers are known."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from models import verification as v


def test_weighting_removes_the_bias_of_unequal_drawing() -> None:
    """Two strata: 1,000 risky firms (half with problems) drawn at p = 0.5, 9,000 others
    (10% with problems) drawn at p = 0.05. The province's true rate is 1,400 / 10,000."""
    y = np.r_[np.ones(250), np.zeros(250), np.ones(45), np.zeros(405)]
    w = np.r_[np.full(500, 2.0), np.full(450, 20.0)]
    r = v.rate(y, w)
    assert r.weighted == pytest.approx(0.14, abs=1e-12)  # unbiased
    assert r.unweighted == pytest.approx(295 / 950)  # 0.31: more than twice the truth
    assert r.low < 0.14 < r.high
    assert r.unweighted > r.high  # the unweighted estimate is outside the interval
    assert r.effective_n == pytest.approx((500 * 2 + 450 * 20) ** 2 / (500 * 4 + 450 * 400))


def test_jeffreys_interval_known_values_and_coverage() -> None:
    # Brown, Cai & DasGupta (2001): the Jeffreys interval is the Beta(x+1/2, n-x+1/2) quantiles
    low, high = v.jeffreys(0, 10)
    assert low == 0.0 and high == pytest.approx(0.2172, abs=5e-4)
    low, high = v.jeffreys(5, 10)
    assert (low, high) == (pytest.approx(0.2235, abs=5e-4), pytest.approx(0.7765, abs=5e-4))
    assert v.jeffreys(10, 10)[1] == 1.0
    # coverage near 95% for p = 0.1, n = 50 (seeded simulation)
    rng = np.random.default_rng(1)
    draws = rng.binomial(50, 0.1, size=4000)
    covered = np.mean([lo <= 0.1 <= hi for lo, hi in (v.jeffreys(x, 50) for x in draws)])
    assert 0.93 <= covered <= 0.97


def test_equal_weights_give_the_plain_jeffreys_interval() -> None:
    y = np.r_[np.ones(3), np.zeros(17)]
    r = v.rate(y, np.full(20, 7.0))
    assert r.effective_n == pytest.approx(20)
    assert (r.low, r.high) == pytest.approx(v.jeffreys(3, 20))


def test_hit_rates_by_class_lift_and_order() -> None:
    classes = np.array(["A"] * 100 + ["B"] * 50 + ["D"] * 20)
    y = np.r_[np.zeros(98), np.ones(2), np.zeros(40), np.ones(10), np.zeros(6), np.ones(14)]
    w = np.r_[np.full(100, 100.0), np.full(50, 33.3), np.full(20, 5.0)]
    rates = v.hit_rates(y, classes, w, ["A", "B", "C", "D"])
    assert rates["A"].weighted == pytest.approx(0.02) and rates["D"].weighted == pytest.approx(0.7)
    assert rates["C"].inspections == 0 and np.isnan(rates["C"].weighted)
    assert v.increasing(rates, ["A", "B", "C", "D"])
    assert not v.increasing(rates, ["D", "B", "A"])
    overall = v.rate(y, w).weighted
    lifts = v.lift(rates, overall)
    assert lifts["D"] == pytest.approx(0.7 / overall) and lifts["A"] < 1 < lifts["D"]


def test_weighted_ks() -> None:
    assert v.weighted_ks([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9]) == 1.0  # complete separation
    assert v.weighted_ks([0, 1, 0, 1], [0.5, 0.5, 0.7, 0.7]) == 0.0  # none
    # a weight of 2 is the row counted twice
    y, s = [0, 0, 1, 1, 1], [0.1, 0.6, 0.4, 0.8, 0.9]
    assert v.weighted_ks(y, s, [1, 2, 1, 1, 1]) == pytest.approx(v.weighted_ks([*y, 0], [*s, 0.6]))
    assert np.isnan(v.weighted_ks([0, 0], [0.1, 0.2]))  # one outcome only: undefined


def test_calibration_and_the_jeffreys_test() -> None:
    rng = np.random.default_rng(3)
    p = np.full(2000, 0.2)
    y = (rng.random(2000) < 0.2).astype(float)
    classes = np.array(["C"] * 2000)
    good = v.calibration(y, p, classes, np.ones(2000), ["C"])["C"]
    assert good.expected == pytest.approx(0.2) and good.p_value > 0.01
    bad = v.calibration(y, p / 2, classes, np.ones(2000), ["C"])["C"]  # predicts half the rate
    assert bad.p_value < 1e-6 and bad.expected < bad.low
    assert v.jeffreys_test(50, 100, 0.5) == pytest.approx(1.0, abs=0.05)


def test_psi() -> None:
    rng = np.random.default_rng(5)
    ref = rng.normal(size=20_000)
    assert v.psi(ref, ref) == 0.0
    assert v.psi(ref, rng.normal(size=20_000)) < 0.01  # the same distribution
    assert v.psi(ref, rng.normal(loc=1.0, size=20_000)) > 0.25  # a shift
    # hand example: two bins (median split), 50/50 -> 80/20
    ref2, cur2 = np.r_[np.zeros(50), np.ones(50)], np.r_[np.zeros(80), np.ones(20)]
    expected = (0.8 - 0.5) * np.log(0.8 / 0.5) + (0.2 - 0.5) * np.log(0.2 / 0.5)
    assert v.psi(ref2, cur2, bins=2) == pytest.approx(expected)
    # missing values are a bin of their own: a feature that goes missing shows
    assert v.psi(ref, np.r_[ref[:10_000], np.full(10_000, np.nan)]) > 1.0


def test_migration_matrix() -> None:
    before = {"e1": "A", "e2": "A", "e3": "B", "e4": "D"}
    after = {"e1": "A", "e2": "B", "e3": "B", "e5": "C"}
    m = v.migration(
        list(before), list(before.values()), list(after), list(after.values()), ["A", "B", "C", "D"]
    )
    assert m["A"] == {"A": 1, "B": 1, "C": 0, "D": 0, "gone": 0}
    assert m["D"]["gone"] == 1 and m["new"]["C"] == 1
    assert sum(sum(r.values()) for r in m.values()) == len(before.keys() | after.keys())
    # rows add up to the month before, columns (without "gone") to the month after
    assert {r: sum(row.values()) for r, row in m.items()} == {
        "A": 2,
        "B": 1,
        "C": 0,
        "D": 1,
        "new": 1,
    }
    # Arrow input, in any order, and an outside class named in the order
    ids = pa.chunked_array([["e3", "e1"], ["e2"]])
    grey = v.migration(ids, ["grey", "A", "B"], ["e2", "e1"], ["grey", "A"], ["A", "B", "grey"])
    assert grey["B"]["grey"] == 1 and grey["grey"]["gone"] == 1 and grey["A"]["A"] == 1


def test_migration_refuses_what_it_cannot_place() -> None:
    with pytest.raises(ValueError, match=r"classes not in the order: \['grey'\]"):
        v.migration(["e1"], ["grey"], ["e1"], ["A"], ["A", "B"])  # not silently "new"
    with pytest.raises(ValueError, match="after: uscc must be present and unique"):
        v.migration(["e1"], ["A"], ["e1", "e1"], ["A", "B"], ["A", "B"])
    with pytest.raises(ValueError, match="before: 2 uscc but 1 classes"):
        v.migration(["e1", "e2"], ["A"], ["e1"], ["A"], ["A", "B"])


def test_class_shares() -> None:
    s = v.class_shares({"B": 1, "A": 3}, ["A", "B", "C"])
    assert s == {
        "A": {"enterprises": 3, "share": 0.75},
        "B": {"enterprises": 1, "share": 0.25},
        "C": {"enterprises": 0, "share": 0.0},
    }
    with pytest.raises(ValueError, match="not in the order"):
        v.class_shares({"X": 1}, ["A"])


def test_hot_spots_rank_cells_by_their_high_class_share() -> None:
    # partial sums of two batches: cell (4401, C) 60 + 40 firms, 30 of them high
    population = pd.DataFrame(
        {
            "division": ["4401", "4401", "4403", "4401", "4405"],
            "industry": ["C", "C", "C", "F", "C"],
            "enterprises": [60, 40, 200, 100, 9],
            "high": [20, 10, 20, 30, 9],
            "score_sum": [6000.0, 4000.0, 20000.0, 30000.0, 9000.0],
        }
    )
    inspections = pd.DataFrame(
        {
            "division": ["4401", "4401", "4401", "4403", "4405"],
            "industry": ["C", "C", "C", "C", "C"],
            "y": [1, 0, 0, 1, 1],
            "weight": [2.0, 2.0, 6.0, 1.0, 1.0],
        }
    )
    rows = v.hot_spots(population, inspections, min_enterprises=10, top=None)
    # (4405, C): 9 firms, below the minimum; (4401, C) and (4401, F) tie at 30%: the larger first
    assert [(r["division"], r["industry"]) for r in rows] == [
        ("4401", "C"),
        ("4401", "F"),
        ("4403", "C"),
    ]
    first = rows[0]
    assert first["enterprises"] == 100 and first["high_share"] == pytest.approx(0.3)
    assert first["mean_score"] == pytest.approx(100.0) and first["inspections"] == 3
    assert first["hit_rate"] == pytest.approx(2 / 10)  # 1/p weighted: 2 of 2 + 2 + 6
    assert first["low"] < 0.2 < first["high"]
    assert rows[1]["inspections"] == 0 and np.isnan(rows[1]["hit_rate"])  # no inspection there
    assert len(v.hot_spots(population, inspections, 10, top=1)) == 1
    with pytest.raises(ValueError, match="min_enterprises"):
        v.hot_spots(population, inspections, 0, None)


def test_warning_precision() -> None:
    y = np.array([1, 1, 0, 1, 0, 0, 0, 1])
    w = np.array([1.0, 1.0, 1.0, 3.0, 1.0, 1.0, 1.0, 1.0])
    reasons = ["class_rise", "class_rise;rule", "rule", "", "", "", "", ""]
    out = v.warning_precision(y, w, reasons, ["class_rise", "rule", "unused"])
    assert out["inspections"] == 8
    assert out["warned"]["inspections"] == 3 and out["not_warned"]["inspections"] == 5
    assert out["warned"]["hit_rate"] == pytest.approx(2 / 3)
    assert out["not_warned"]["hit_rate"] == pytest.approx(4 / 7)  # 3 + 1 of 3 + 4 x 1
    assert out["ratio"] == pytest.approx((2 / 3) / (4 / 7))
    assert out["reasons"]["class_rise"]["hit_rate"] == 1.0
    assert out["reasons"]["rule"]["inspections"] == 2
    assert out["reasons"]["rule"]["hit_rate"] == pytest.approx(0.5)
    assert out["reasons"]["unused"]["inspections"] == 0
    with pytest.raises(ValueError, match=r"not among the names: \['other'\]"):
        v.warning_precision([1], [1.0], ["other"], ["rule"])


def test_risk_point_accuracy_against_its_random_baseline() -> None:
    groups_of = {"food_safety": ("supervision",), "licence": ("dynamic",)}
    top = ["supervision", "supervision", "dynamic", "base", None, "dynamic"]
    cat = ["food_safety", "food_safety", "licence", "licence", "food_safety", None]
    out = v.risk_point_accuracy(top, cat, np.ones(6), groups_of)
    assert out["problems"] == 5  # the one without a category is left out
    assert out["accuracy"] == pytest.approx(3 / 5)
    # shuffled: P(supervision) 2/5 x P(food) 3/5 + P(dynamic) 1/5 x P(licence) 2/5
    assert out["baseline"] == pytest.approx(2 / 5 * 3 / 5 + 1 / 5 * 2 / 5)
    weighted = v.risk_point_accuracy(top, cat, [1, 1, 1, 7, 1, 1], groups_of)
    assert weighted["accuracy"] == pytest.approx(3 / 11)  # the miss weighs 7


# ------------------------------------------------------------------ issue 19: calibration check
def _cal(expected: float, observed: float, n: int) -> v.Calibration:
    """A class of ``n`` equally weighted inspections: predicted ``expected``, found ``observed``."""
    test = v.jeffreys_test(observed * n, n, expected)
    low, high = v.jeffreys(observed * n, n)
    return v.Calibration(n, expected, observed, low, high, test)


def test_holm_adjusts_step_down_and_is_never_below_bonferroni_power() -> None:
    p = {"A": 0.01, "B": 0.04, "C": 0.03, "D": float("nan")}  # D: not tested, left out
    holm = v.adjusted_p_values(p, "holm")
    assert holm == pytest.approx({"A": 0.03, "C": 0.06, "B": 0.06})
    bonf = v.adjusted_p_values(p, "bonferroni")
    assert bonf == pytest.approx({"A": 0.03, "B": 0.12, "C": 0.09})
    assert all(holm[c] <= bonf[c] for c in holm)  # Holm rejects whatever Bonferroni does
    assert v.adjusted_p_values(p, "none") == {"A": 0.01, "C": 0.03, "B": 0.04}
    with pytest.raises(ValueError, match="unknown rule"):
        v.adjusted_p_values(p, "fdr")


def test_calibration_check_passes_a_calibrated_model_and_fails_a_miscalibrated_one() -> None:
    calibrated = {
        "A": _cal(0.03, 0.032, 400),
        "B": _cal(0.22, 0.23, 400),
        "C": _cal(0.7, 0.69, 300),
    }
    found = v.calibration_findings(calibrated, 0.05, "holm", 0.02)
    assert [f.cls for f in found] == ["A", "B", "C"] and not any(f.fails for f in found)
    # the demo's class B: 23.1% predicted, 34.6% found on ~210 effective inspections
    bad = {**calibrated, "B": _cal(0.231, 0.346, 210)}
    found = {f.cls: f for f in v.calibration_findings(bad, 0.05, "holm", 0.02)}
    assert found["B"].fails and found["B"].p_value < 0.001
    assert found["B"].adjusted_p == pytest.approx(min(1.0, 3 * found["B"].p_value))
    assert found["B"].gap == pytest.approx(0.115) and not found["A"].fails
    # without inspections a class is not tested (and does not count in the family)
    empty = {**bad, "D": v.Calibration(0, *(float("nan"),) * 5)}
    assert [f.cls for f in v.calibration_findings(empty, 0.05, "holm", 0.02)] == ["A", "B", "C"]


def test_calibration_tolerance_spares_a_trivial_gap_on_a_huge_sample() -> None:
    # one point off on 200,000 inspections: the test rejects, the gap changes no plan
    huge = {"A": _cal(0.03, 0.04, 200_000), "B": _cal(0.20, 0.20, 200_000)}
    strict = {f.cls: f for f in v.calibration_findings(huge, 0.05, "holm", 0.0)}
    assert strict["A"].significant and strict["A"].fails
    tolerant = {f.cls: f for f in v.calibration_findings(huge, 0.05, "holm", 0.02)}
    assert tolerant["A"].significant and not tolerant["A"].fails
    # ... but a gap over the tolerance still fails
    worse = {**huge, "A": _cal(0.03, 0.06, 200_000)}
    assert {f.cls: f.fails for f in v.calibration_findings(worse, 0.05, "holm", 0.02)}["A"]


def test_multiplicity_rule_matters_for_a_borderline_class() -> None:
    # p ~ 0.02 in one of four classes: significant alone, not after Holm over four
    cal = {c: _cal(0.2, 0.2, 300) for c in "ABC"}
    n = 300
    for obs in np.linspace(0.2, 0.4, 401):  # the first observed share with p below 0.025
        if v.jeffreys_test(obs * n, n, 0.2) < 0.025:
            break
    cal["D"] = _cal(0.2, float(obs), n)
    assert 0.0125 < cal["D"].p_value < 0.025
    none = {f.cls: f.fails for f in v.calibration_findings(cal, 0.05, "none", 0.02)}
    holm = {f.cls: f.fails for f in v.calibration_findings(cal, 0.05, "holm", 0.02)}
    assert none["D"] and not holm["D"]


# ------------------------------------------------------------------ issue 19: reasons
CATS = ("address_unreachable", "false_disclosure", "licence", "food_safety")


def _named(points: list[tuple[str, ...]]) -> np.ndarray:
    return np.array([[c in p for c in CATS] for p in points], dtype=bool)


def test_named_categories_from_the_top_points() -> None:
    matrix = v.category_matrix([("licence",), (), ("food_safety", "licence")], CATS)
    top = np.array([[0, -1], [1, 2], [-1, -1]])
    named = v.named_categories(top, matrix)
    assert named.tolist() == [
        [False, False, True, False],
        [False, False, True, True],
        [False, False, False, False],
    ]


def test_reasons_that_point_at_the_problem_beat_the_permutation_baseline() -> None:
    rng = np.random.default_rng(3)
    n = 400
    found = rng.choice(CATS, n, p=[0.4, 0.3, 0.2, 0.1])
    # the top points name the category found 80% of the time, and one other at random
    points = [
        tuple({c if rng.random() < 0.8 else str(rng.choice(CATS)), str(rng.choice(CATS))})
        for c in found
    ]
    out = v.reason_accuracy(_named(points), list(found), np.ones(n), CATS, 500, seed=1)
    o = out["overall"]
    assert o["problems"] == n and o["hit_share"] > o["baseline_high"] and o["above_baseline"]
    assert o["p_value"] < 0.01 and o["baseline_low"] <= o["baseline_mean"] <= o["baseline_high"]
    for c in CATS:
        assert out["by_category"][c]["problems"] == int((found == c).sum())
    assert out["by_category"]["address_unreachable"]["above_baseline"]
    # seeded: the same baseline again
    again = v.reason_accuracy(_named(points), list(found), np.ones(n), CATS, 500, seed=1)
    assert again == out


def test_random_top_points_sit_at_the_baseline() -> None:
    rng = np.random.default_rng(4)
    n = 600
    found = rng.choice(CATS, n)
    points = [tuple(rng.choice(CATS, 2)) for _ in range(n)]  # unrelated to what was found
    w = rng.uniform(1, 20, n)
    out = v.reason_accuracy(_named(points), list(found), w, CATS, 1000, seed=2)
    o = out["overall"]
    assert o["baseline_low"] <= o["hit_share"] <= o["baseline_high"] and not o["above_baseline"]
    assert abs(o["hit_share"] - o["baseline_mean"]) < 0.06
    assert o["p_value"] > 0.025


def test_reason_accuracy_leaves_out_problems_without_a_known_category() -> None:
    named = _named([("licence",), ("licence",), ("food_safety",)])
    out = v.reason_accuracy(named, ["licence", None, "other"], [1.0, 2.0, 3.0], CATS, 100, 0)
    assert out["overall"]["problems"] == 1 and out["overall"]["hit_share"] == 1.0
    assert out["by_category"]["food_safety"]["problems"] == 0
    none = v.reason_accuracy(named[:0], [], [], CATS, 100, 0)
    assert none["overall"]["problems"] == 0


def test_every_problem_category_is_spoken_for_by_some_model_feature() -> None:
    """Issue 19: the catalog says which problem categories each feature speaks for; every
    category inspectors record has features that can name it, context columns name none."""
    from features.catalog import PROBLEM_CATEGORIES
    from features.definitions import CATALOG

    model = [f for f in CATALOG if f.role == "model"]
    named = {c for f in model for c in f.categories}
    assert named == set(PROBLEM_CATEGORIES)
    assert not [f.name for f in CATALOG if f.role == "context" and f.categories]
    by = {f.name: set(f.categories) for f in model}
    assert by["ar_last_due_missing"] >= {"false_disclosure", "address_unreachable"}
    assert by["lic_lapsed_12m"] == {"licence"} and "food_safety" in by["samp_fail_36m"]
    assert by["age_years"] == set() and by["registered_capital_log"] == set()
