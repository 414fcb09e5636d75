"""Class schemes: the shipped YAML files validate, and `assign` follows the scheme exactly."""

from __future__ import annotations

import copy
from collections.abc import Callable
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml

from features.definitions import BY_NAME
from models.classes import (
    OUTPUT_COLUMNS,
    BandFitError,
    ClassScheme,
    SchemeError,
    assign,
    band_shares,
    check_features,
    check_targets,
    class_order,
    fit_score_bands,
    share_warnings,
    target_counts,
    with_score_bands,
)
from pipelines.config import ConfigError, load_config
from tests.conftest import ROOT

SCHEME_FILES = sorted((ROOT / "configs" / "classes").glob("*.yaml"))


def _classes(*codes: str) -> list[dict[str, Any]]:
    rates = [0.01, 0.03, 0.10, 0.20, 0.5]
    return [
        {"code": c, "zh": f"{c}类", "en": f"class {c}", "min_sampling_rate": r}
        for c, r in zip(codes, rates, strict=False)
    ]


def _rule(name: str, to: str, *when: tuple[str, str, Any]) -> dict[str, Any]:
    return {
        "name": name,
        "zh": name,
        "en": name,
        "when": [{"feature": f, "op": op, "value": v} for f, op, v in when],
        "to": to,
    }


def _bands(**extra: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": "t",
        "zh": "测试",
        "en": "test",
        "classes": _classes("A", "B", "C", "D"),
        "method": "score_bands",
        "score_bands": {"A": 0, "B": 150, "C": 400, "D": 650},
    }
    data.update(extra)
    return data


def _frame(scores: list[float], **features: list[Any]) -> pd.DataFrame:
    n = len(scores)
    return pd.DataFrame(
        {
            "uscc": [f"U{i:04d}" for i in range(n)],
            "score": np.asarray(scores, dtype=float),
            "probability": np.asarray(scores, dtype=float) / 1000,
            **features,
        }
    )


# ---------------------------------------------------------------- shipped configuration


def test_shipped_schemes_exist() -> None:
    assert {p.stem for p in SCHEME_FILES} >= {"henan", "guangxi"}


@pytest.mark.parametrize("path", SCHEME_FILES, ids=lambda p: p.stem)
def test_shipped_scheme_validates_against_the_catalog(path: Path) -> None:
    scheme = load_config(path, ClassScheme)
    assert scheme.name == path.stem
    check_features(scheme, set(BY_NAME))
    # every catalog feature an override reads is a model or context column of the catalog
    frame = _frame([0.0, 999.0])
    for rule in scheme.overrides:
        for cond in rule.when:
            frame[cond.feature] = np.nan
    out = assign(frame, scheme)
    assert list(out.columns) == list(OUTPUT_COLUMNS)
    assert out["override_rule"].isna().all()  # all-missing features trigger nothing


def test_henan_scheme() -> None:
    scheme = load_config(ROOT / "configs" / "classes" / "henan.yaml", ClassScheme)
    assert class_order(scheme) == ["A", "B", "C", "D"]
    assert {c.code: c.min_sampling_rate for c in scheme.classes} == {
        "A": 0.01,
        "B": 0.03,
        "C": 0.10,
        "D": 0.20,
    }
    assert [r.name for r in scheme.overrides] == [
        "serious_dishonest_list",
        "court_dishonest_debtor",
        "licence_revoked",
        "heavy_penalty_36m",
    ]
    assert {r.to for r in scheme.overrides} == {"D"}
    assert scheme.chunkable


def test_guangxi_scheme() -> None:
    scheme = load_config(ROOT / "configs" / "classes" / "guangxi.yaml", ClassScheme)
    assert class_order(scheme) == ["green", "blue", "yellow", "red"]
    assert class_order(scheme, include_outside=True)[-1] == "grey"
    assert scheme.method_classes == ("green", "blue", "yellow")
    frame = _frame(
        [10.0, 10.0, 10.0, 10.0, 10.0, 900.0],
        sd_listed=[1, 1, 0, 0, 0, 0],
        dormant=[1, 0, 1, 1, 0, 0],
        abn_listed=[0, 0, 1, 0, 1, 0],
        jud_dishonest_debtor=[0, 0, 0, 0, 0, 1],
    )
    out = assign(frame, scheme)
    # a seriously dishonest dormant firm stays red; a dormant abnormal-listed one is grey
    assert out["class_final"].tolist() == ["red", "red", "grey", "grey", "yellow", "yellow"]
    assert out["class_model"].tolist() == ["green"] * 5 + ["yellow"]
    assert out["override_rule"].tolist() == [
        "serious_dishonest_list",
        "serious_dishonest_list",
        "dormant",
        "dormant",
        "abnormal_list",
        "court_dishonest_debtor",
    ]


def test_scheme_is_frozen() -> None:
    scheme = ClassScheme.model_validate(_bands())
    with pytest.raises(Exception, match="frozen"):
        scheme.method = "shares"  # type: ignore[misc]


# ---------------------------------------------------------------- methods


def test_band_edges_are_inclusive_lower_bounds() -> None:
    scheme = ClassScheme.model_validate(_bands())
    scores = [0.0, 149.999, 150.0, 399.9, 400.0, 649.0, 650.0, 1000.0]
    out = assign(_frame(scores), scheme)
    assert out["class_model"].tolist() == ["A", "A", "B", "B", "C", "C", "D", "D"]
    assert out["class_final"].tolist() == out["class_model"].tolist()
    assert out["override_rule"].isna().all()


def test_probability_thresholds() -> None:
    data = _bands(method="probability_thresholds", score_bands=None)
    data["probability_thresholds"] = {"A": 0.0, "B": 0.1, "C": 0.3, "D": 0.6}
    scheme = ClassScheme.model_validate(data)
    frame = pd.DataFrame(
        {
            "uscc": list("abcdefg"),
            "probability": [0.0, 0.0999, 0.1, 0.2999, 0.3, 0.6, 1.0],
            # the score is not read by this method
            "score": [999.0] * 7,
        }
    )
    out = assign(frame, scheme)
    assert out["class_model"].tolist() == ["A", "A", "B", "B", "C", "D", "D"]


def test_result_is_aligned_to_the_frame_index_and_chunks_agree() -> None:
    scheme = ClassScheme.model_validate(_bands())
    rng = np.random.default_rng(3)
    frame = _frame(list(rng.uniform(0, 1000, 1000)))
    frame.index = pd.Index(rng.permutation(5000)[:1000])
    whole = assign(frame, scheme)
    assert whole.index.equals(frame.index)
    chunks = pd.concat([assign(frame.iloc[i : i + 137], scheme) for i in range(0, 1000, 137)])
    pd.testing.assert_frame_equal(chunks, whole)


def _shares(shares: dict[str, float]) -> ClassScheme:
    data = _bands(method="shares", score_bands=None)
    data["shares"] = shares
    return ClassScheme.model_validate(data)


@pytest.mark.parametrize("n", [0, 1, 7, 10, 101, 1000])
def test_shares_give_exact_counts(n: int) -> None:
    scheme = _shares({"A": 0.6, "B": 0.25, "C": 0.1, "D": 0.05})
    assert not scheme.chunkable
    rng = np.random.default_rng(n)
    out = assign(_frame(list(rng.uniform(0, 1000, n))), scheme)
    counts = out["class_model"].value_counts().reindex(list("ABCD"), fill_value=0)
    assert counts.sum() == n
    quota = np.array([0.6, 0.25, 0.1, 0.05]) * n
    assert (np.abs(counts.to_numpy() - quota) < 1).all()


def test_shares_largest_remainder() -> None:
    scheme = _shares({"A": 0.6, "B": 0.25, "C": 0.1, "D": 0.05})
    # quotas for 10 rows: 6, 2.5, 1, 0.5; floors leave one row over, and of the equal
    # remainders (B .5, D .5) the riskier class gets it
    out = assign(_frame([float(i) for i in range(10)]), scheme)
    counts = out["class_model"].value_counts().to_dict()
    assert counts == {"A": 6, "B": 2, "C": 1, "D": 1}
    # the riskiest scores get the riskiest class
    assert out["class_model"].tolist() == ["A"] * 6 + ["B", "B", "C", "D"]


def test_shares_tie_break_by_uscc_and_do_not_depend_on_row_order() -> None:
    scheme = _shares({"A": 0.5, "B": 0.2, "C": 0.2, "D": 0.1})
    frame = pd.DataFrame(
        {
            "uscc": ["U9", "U3", "U5", "U1", "U7", "U2", "U8", "U4", "U6", "U0"],
            "score": [500.0] * 10,  # all tied
        }
    )
    out = assign(frame, scheme)
    by_uscc = dict(zip(frame["uscc"], out["class_model"], strict=True))
    # ranked by uscc ascending: U0 is riskiest (D), U1-U2 C, U3-U4 B, U5-U9 A
    assert by_uscc == {
        "U0": "D",
        "U1": "C",
        "U2": "C",
        "U3": "B",
        "U4": "B",
        **{f"U{i}": "A" for i in range(5, 10)},
    }
    shuffled = frame.sample(frac=1.0, random_state=1)
    again = assign(shuffled, scheme)
    assert dict(zip(shuffled["uscc"], again["class_model"], strict=True)) == by_uscc


def test_shares_need_unique_uscc() -> None:
    scheme = _shares({"A": 0.5, "B": 0.2, "C": 0.2, "D": 0.1})
    frame = pd.DataFrame({"uscc": ["x", "y", "x"], "score": [1.0, 2.0, 3.0]})
    with pytest.raises(ValueError, match="unique uscc; x is repeated"):
        assign(frame, scheme)


@pytest.mark.parametrize("bad", [np.nan, -1.0, 1000.5])
def test_missing_or_out_of_range_score_is_an_error(bad: float) -> None:
    scheme = ClassScheme.model_validate(_bands())
    with pytest.raises(ValueError, match=r"1 row\(s\) have a missing or out-of-range score.*U0001"):
        assign(_frame([10.0, bad]), scheme)


# ---------------------------------------------------------------- overrides


def test_override_precedence_first_rule_wins_and_is_recorded() -> None:
    scheme = ClassScheme.model_validate(
        _bands(
            overrides=[
                _rule("first", "C", ("x", "==", 1)),
                _rule("second", "D", ("y", ">=", 2)),
            ]
        )
    )
    frame = _frame(
        [10.0, 10.0, 10.0, 500.0, 700.0],
        x=[1, 0, 1, 1, 0],
        y=[5, 5, 0, 0, 9],
    )
    out = assign(frame, scheme)
    assert out["class_model"].tolist() == ["A", "A", "A", "C", "D"]
    assert out["class_final"].tolist() == ["C", "D", "C", "C", "D"]
    # both rules match row 0: the first wins. Rows 3 and 4 keep their class, and the rule is
    # still recorded.
    assert out["override_rule"].tolist() == ["first", "second", "first", "first", "second"]


def test_override_may_lower_a_class_and_needs_all_conditions() -> None:
    scheme = ClassScheme.model_validate(
        _bands(overrides=[_rule("both", "A", ("x", "==", 1), ("y", "<", 3))])
    )
    out = assign(_frame([900.0, 900.0, 900.0], x=[1, 1, 0], y=[2, 3, 2]), scheme)
    assert out["class_final"].tolist() == ["A", "D", "D"]
    assert out["override_rule"].tolist() == ["both", None, None]


@pytest.mark.parametrize("op", ["==", "!=", ">=", ">", "<=", "<"])
def test_missing_feature_value_never_triggers(op: str) -> None:
    scheme = ClassScheme.model_validate(_bands(overrides=[_rule("r", "D", ("x", op, 1))]))
    for column in (
        pd.Series([np.nan, np.nan]),
        pd.Series([None, None], dtype="Int64"),
        pd.Series([None, None], dtype="boolean"),
    ):
        out = assign(_frame([10.0, 10.0], x=column), scheme)
        assert out["class_final"].tolist() == ["A", "A"], (op, column.dtype)
        assert out["override_rule"].isna().all()


def test_all_ops() -> None:
    values = [0.0, 1.0, 2.0, np.nan]
    expected = {
        "==": [False, True, False, False],
        "!=": [True, False, True, False],
        ">=": [False, True, True, False],
        ">": [False, False, True, False],
        "<=": [True, True, False, False],
        "<": [True, False, False, False],
    }
    for op, hits in expected.items():
        scheme = ClassScheme.model_validate(_bands(overrides=[_rule("r", "D", ("x", op, 1))]))
        out = assign(_frame([0.0] * 4, x=values), scheme)
        assert (out["class_final"] == "D").tolist() == hits, op


def test_text_condition() -> None:
    scheme = ClassScheme.model_validate(
        _bands(overrides=[_rule("food_sector", "C", ("division", "==", "14"))])
    )
    out = assign(_frame([0.0, 0.0, 0.0], division=["14", "13", None]), scheme)
    assert out["class_final"].tolist() == ["C", "A", "A"]
    with pytest.raises(SchemeError, match=r"'division'.*a number against text"):
        assign(_frame([0.0], division=[14.0]), scheme)


def test_unknown_feature_is_a_scheme_error_naming_it() -> None:
    scheme = ClassScheme.model_validate(
        _bands(overrides=[_rule("listed", "D", ("sd_listed", "==", 1), ("sd_lsited", "==", 1))])
    )
    with pytest.raises(SchemeError, match=r"scheme 't'.*override 'listed'.*'sd_lsited'"):
        check_features(scheme, set(BY_NAME))
    with pytest.raises(SchemeError, match="'sd_lsited'"):
        assign(_frame([0.0], sd_listed=[1]), scheme)


# ---------------------------------------------------------------- invalid configuration


def _write(tmp_path: Path, data: dict[str, Any]) -> Path:
    p = tmp_path / "scheme.yaml"
    p.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return p


def _henan() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "configs" / "classes" / "henan.yaml").read_text("utf-8"))


Edit = Callable[[dict[str, Any]], Any]


def _set(key: str, value: Any) -> Edit:
    return lambda d: d.update({key: value})


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (_set("score_bands", {"A": 0, "B": 400, "C": 400, "D": 650}), "B 400 is not below C 400"),
        (_set("score_bands", {"A": 0, "B": 500, "C": 400, "D": 650}), "B 500 is not below C 400"),
        (
            _set("score_bands", {"A": 10, "B": 150, "C": 400, "D": 650}),
            "lowest class A must start at 0",
        ),
        (_set("score_bands", {"A": 0, "B": 150, "C": 400, "E": 650}), "unknown class code.*E"),
        (_set("score_bands", {"A": 0, "B": 150, "C": 400, "D": 1200}), "score_bands.D"),
        (_set("score_bands", {"A": 0, "C": 400, "D": 650}), "lowest classes of the ladder"),
        (_set("score_bands", None), "score_bands must be given"),
        (_set("shares", {"A": 0.5, "B": 0.5}), "shares must not be given"),
        (_set("sco_bands", {}), "sco_bands: Extra inputs are not permitted"),
        (_set("method", "quantiles"), "method"),
        (lambda d: d["overrides"][0].update(to="E"), "unknown class code E"),
        (lambda d: d["overrides"][0]["when"][0].update(op="=~"), "op"),
        (lambda d: d["overrides"][0]["when"][0].update(op=">", value="x"), "needs a number"),
        (
            lambda d: d["overrides"][1].update(name="serious_dishonest_list"),
            "override names must be unique",
        ),
        (lambda d: d["overrides"][0].update(when=[]), "when"),
        (lambda d: d["classes"][1].update(code="A"), "class codes must be unique"),
        (lambda d: d["classes"][1].update(min_sampling_rate=1.5), "min_sampling_rate"),
        (lambda d: d["classes"][1].pop("min_sampling_rate"), "min_sampling_rate: Field required"),
        (_set("outside_order", ["Z"]), "outside_order: unknown class code"),
        (_set("outside_order", ["D"]), "D are in outside_order"),
    ],
)
def test_invalid_scheme_is_rejected(tmp_path: Path, edit: Edit, message: str) -> None:
    data = copy.deepcopy(_henan())
    edit(data)
    with pytest.raises(ConfigError, match=message) as info:
        load_config(_write(tmp_path, data), ClassScheme)
    assert "scheme.yaml" in str(info.value)


@pytest.mark.parametrize(
    ("shares", "message"),
    [
        ({"A": 0.6, "B": 0.25, "C": 0.1, "D": 0.1}, "shares must sum to 1, got 1.05"),
        ({"A": 0.6, "B": 0.25, "C": 0.1}, "shares must sum to 1"),
        ({"A": 0.6, "B": 0.25, "C": 0.15, "D": 0.0}, "shares.D"),
    ],
)
def test_invalid_shares_are_rejected(shares: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _shares(shares)


def test_a_class_nothing_leads_to_is_rejected() -> None:
    data = _bands(classes=_classes("A", "B", "C", "D", "E"))
    with pytest.raises(ValueError, match="E can never be given"):
        ClassScheme.model_validate(data)
    data["overrides"] = [_rule("to_e", "E", ("x", "==", 1))]
    assert class_order(ClassScheme.model_validate(data)) == ["A", "B", "C", "D", "E"]


# ---------------------------------------------------------------- bands fitted to the data
TARGETS = {"A": 0.60, "B": 0.30, "C": 0.07, "D": 0.03}


def _abc() -> ClassScheme:
    data = _bands(classes=_classes("A", "B", "C"), score_bands={"A": 0, "B": 150, "C": 400})
    return ClassScheme.model_validate(data)


def _counts(scores: np.ndarray, bands: dict[str, float]) -> dict[str, int]:
    frame = pd.DataFrame({"uscc": [f"u{i:05d}" for i in range(len(scores))], "score": scores})
    scheme = with_score_bands(ClassScheme.model_validate(_bands()), bands)
    got = assign(frame, scheme)["class_model"].value_counts().to_dict()
    return {c: int(got.get(c, 0)) for c in "ABCD"}


def test_fitted_bands_give_the_target_shares_exactly_on_distinct_scores() -> None:
    rng = np.random.default_rng(20261)
    scores = rng.permutation(np.arange(1000) * 0.999)  # distinct, in any order
    bands = fit_score_bands(scores, ClassScheme.model_validate(_bands()), TARGETS)
    assert list(bands) == ["A", "B", "C", "D"] and bands["A"] == 0
    assert all(lo < hi for lo, hi in pairwise(bands.values()))  # strictly increasing
    assert _counts(scores, bands) == {"A": 600, "B": 300, "C": 70, "D": 30}
    assert band_shares(scores, bands) == {"A": 0.6, "B": 0.3, "C": 0.07, "D": 0.03}
    # the same population in another order gives the same bands
    assert fit_score_bands(scores[::-1], ClassScheme.model_validate(_bands()), TARGETS) == bands


def test_a_bound_is_the_lowest_score_of_its_class_so_it_is_inclusive() -> None:
    scores = np.array([0.0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
    bands = fit_score_bands(scores, _abc(), {"A": 0.6, "B": 0.3, "C": 0.1})
    assert bands == {"A": 0.0, "B": 6.0, "C": 9.0}


# 100 enterprises: 40 score 0, 30 score 1, 20 score 2, 10 score 3 (the riskiest)
TIED = np.repeat([0.0, 1.0, 2.0, 3.0], [40, 30, 20, 10])


def test_equal_scores_go_to_the_side_nearer_the_target() -> None:
    # C wants 15: the run of 2s up gives 30 (15 off), down 10 (5 off): down.
    # B wants 50 at or above: the run of 1s up gives 60 (10 off), down 30 (20 off): up.
    bands = fit_score_bands(TIED, _abc(), {"A": 0.50, "B": 0.35, "C": 0.15})
    assert bands == {"A": 0.0, "B": 1.0, "C": 3.0}
    assert band_shares(TIED, bands) == {"A": 0.4, "B": 0.5, "C": 0.1}


def test_a_draw_between_the_two_sides_goes_to_the_riskier_class() -> None:
    # C wants 20: the run of 2s up gives 30, down 10: both 10 off, so up (riskier).
    bands = fit_score_bands(TIED, _abc(), {"A": 0.42, "B": 0.38, "C": 0.20})
    assert bands["C"] == 2.0
    assert band_shares(TIED, bands)["C"] == 0.3


def test_capacity_fixes_the_highest_class_and_the_others_keep_their_proportions() -> None:
    scores = np.arange(1000) * 0.999
    scheme = ClassScheme.model_validate(_bands())
    bands = fit_score_bands(scores, scheme, TARGETS, capacity=25)
    # the other 975 in proportions 0.60 : 0.30 : 0.07, by largest remainder
    assert _counts(scores, bands) == {"A": 603, "B": 302, "C": 70, "D": 25}
    assert target_counts(("A", "B", "C", "D"), TARGETS, 1000, 25).tolist() == [603, 302, 70, 25]


def test_capacity_is_a_ceiling_when_equal_scores_cross_it() -> None:
    # C may hold 20: the run of 2s up would give 30 (more than the capacity): down, 10.
    bands = fit_score_bands(TIED, _abc(), {"A": 0.50, "B": 0.35, "C": 0.15}, capacity=20)
    assert bands["C"] == 3.0 and band_shares(TIED, bands)["C"] == 0.1


@pytest.mark.parametrize(
    ("scores", "shares", "capacity", "message"),
    [
        (np.full(50, 7.0), {"A": 0.6, "B": 0.3, "C": 0.1}, None, "1 distinct value"),
        (np.repeat([1.0, 2.0], 50), {"A": 0.6, "B": 0.3, "C": 0.1}, None, "2 distinct value"),
        (np.array([]), {"A": 0.6, "B": 0.3, "C": 0.1}, None, "no enterprise"),
        (np.array([1.0, np.nan, 3.0]), {"A": 0.6, "B": 0.3, "C": 0.1}, None, "missing or out"),
        (np.array([1.0, 2.0, 1200.0]), {"A": 0.6, "B": 0.3, "C": 0.1}, None, "within 0-1000"),
        (np.arange(10.0), {"A": 0.6, "B": 0.3, "C": 0.1}, 10, "capacity 10 is not below"),
        (
            np.arange(10.0),
            {"A": 0.9, "B": 0.07, "C": 0.03},
            None,
            "class\\(es\\) C: the target is less than one",
        ),
        # the targets of B and C both fall in the run of 30 ones: B would be empty
        (TIED, {"A": 0.40, "B": 0.05, "C": 0.55}, None, "class B would hold no enterprise"),
        (
            np.repeat([1.0, 2.0, 5.0], [40, 30, 30]),
            {"A": 0.5, "B": 0.3, "C": 0.2},
            20,
            "30 enterprises share the score 5, more than the capacity of 20",
        ),
    ],
)
def test_scores_that_cannot_give_the_targets_are_a_clear_error(
    scores: np.ndarray, shares: dict[str, float], capacity: int | None, message: str
) -> None:
    with pytest.raises(BandFitError, match=message):
        fit_score_bands(scores, _abc(), shares, capacity=capacity)


def _guangxi() -> ClassScheme:
    return load_config(ROOT / "configs" / "classes" / "guangxi.yaml", ClassScheme)


@pytest.mark.parametrize(
    ("scheme", "shares", "message"),
    [
        (lambda: ClassScheme.model_validate(_shares(TARGETS)), TARGETS, "only for a score_bands"),
        (
            lambda: ClassScheme.model_validate(
                _bands(
                    method="probability_thresholds",
                    score_bands=None,
                    probability_thresholds={"A": 0, "B": 0.1, "C": 0.5, "D": 0.9},
                )
            ),
            TARGETS,
            "by probability_thresholds",
        ),
        (_abc, TARGETS, "D is not a class of the scheme"),
        (_abc, {"A": 0.7, "B": 0.3}, "no share for C"),
        (_guangxi, {"green": 0.6, "blue": 0.3, "yellow": 0.05, "red": 0.05}, "red is given only"),
        (_guangxi, {"green": 0.6, "blue": 0.3, "yellow": 0.05, "grey": 0.05}, "grey is outside"),
        (_abc, {"A": 0.6, "B": 0.3, "C": 0.2}, "must sum to 1, got 1.1"),
    ],
)
def test_target_shares_must_fit_the_scheme(
    scheme: Callable[[], ClassScheme], shares: dict[str, float], message: str
) -> None:
    with pytest.raises(BandFitError, match=message):
        check_targets(scheme(), shares)
    with pytest.raises(BandFitError, match=message):
        fit_score_bands(np.arange(100.0), scheme(), shares)


def test_the_five_level_scheme_fits_only_the_classes_its_bands_give() -> None:
    shares = {"yellow": 0.1, "green": 0.6, "blue": 0.3}  # any order
    bands = fit_score_bands(np.arange(1000) * 0.999, _guangxi(), shares)
    assert list(bands) == ["green", "blue", "yellow"]
    fitted = with_score_bands(_guangxi(), dict(sorted(bands.items())))  # JSON sorts the keys
    assert fitted.cut_points == bands and fitted.overrides == _guangxi().overrides
    assert fitted.name == "guangxi"


def test_fitted_bands_must_match_the_schemes_band_classes() -> None:
    with pytest.raises(SchemeError, match="fitted score bands are for classes A, B, C, D"):
        with_score_bands(_guangxi(), {"A": 0.0, "B": 10.0, "C": 20.0, "D": 30.0})
    with pytest.raises(SchemeError, match="no score bands"):
        with_score_bands(ClassScheme.model_validate(_shares(TARGETS)), TARGETS)
    with pytest.raises(ValueError, match="lower bounds must increase strictly"):
        with_score_bands(_abc(), {"A": 0.0, "B": 10.0, "C": 10.0})


@pytest.mark.parametrize(
    ("block", "message"),
    [
        ({"fit": True, "target_shares": None}, "fit is true, so target_shares must be given"),
        ({"target_shares": {"A": 0.6, "B": 0.3}}, "target_shares must sum to 1, got 0.9"),
        ({"target_shares": {"A": 1.0}}, "target_shares.A"),
        ({"target_shares": {"A": 0.6, "B": 0.4, "C": 0.0}}, "target_shares.C"),
        ({"capacity": 0}, "capacity"),
        ({"max_share_drift": 0}, "max_share_drift"),
        ({"fitted": True}, "class_bands.fitted: Extra inputs are not permitted"),
    ],
)
def test_invalid_class_bands_config_is_rejected(
    tmp_path: Path, block: dict[str, Any], message: str
) -> None:
    from models.config import ModelConfig

    data = yaml.safe_load((ROOT / "configs" / "model.yaml").read_text("utf-8"))
    data["class_bands"].update(block)
    path = tmp_path / "model.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    with pytest.raises(ConfigError, match=message):
        load_config(path, ModelConfig)


def test_shipped_class_bands_keep_the_schemes_bands() -> None:
    from models.config import ModelConfig

    cfg = load_config(ROOT / "configs" / "model.yaml", ModelConfig)
    assert cfg.class_bands.fit is False  # the demo: the synthetic province's bands
    assert cfg.class_bands.target_shares is not None
    henan = load_config(ROOT / "configs" / "classes" / "henan.yaml", ClassScheme)
    check_targets(henan, cfg.class_bands.target_shares)  # ready to switch on


# ---------------------------------------------------------------- shares to watch
def test_henan_expects_the_published_shares() -> None:
    henan = load_config(ROOT / "configs" / "classes" / "henan.yaml", ClassScheme)
    assert henan.expected_shares == {"A": (0.40, 0.73), "C": (0.05, 0.08), "D": (0.015, 0.035)}


@pytest.mark.parametrize(
    ("expected", "message"),
    [
        ({"E": [0.1, 0.2]}, "E are not on the risk ladder"),
        ({"C": [0.08, 0.05]}, "C: the range 0.08-0.05 is empty"),
        ({"A": [0.7, 0.9], "B": [0.4, 0.5]}, "the lows sum to 1.1"),
        ({"C": [0.05, 1.2]}, "expected_shares.C"),
    ],
)
def test_invalid_expected_shares_are_rejected(
    tmp_path: Path, expected: dict[str, Any], message: str
) -> None:
    data = copy.deepcopy(_henan())
    data["expected_shares"] = expected
    with pytest.raises(ConfigError, match=message):
        load_config(_write(tmp_path, data), ClassScheme)


def test_expected_shares_must_be_on_the_ladder() -> None:
    data = yaml.safe_load((ROOT / "configs" / "classes" / "guangxi.yaml").read_text("utf-8"))
    data["expected_shares"] = {"grey": [0.0, 0.1]}
    with pytest.raises(ValueError, match="grey are not on the risk ladder"):
        ClassScheme.model_validate(data)


def test_share_warnings_name_the_class_its_share_and_the_range() -> None:
    henan = load_config(ROOT / "configs" / "classes" / "henan.yaml", ClassScheme)
    fine = {"A": 600, "B": 310, "C": 60, "D": 30}
    assert share_warnings(henan, fine) == []
    warned = share_warnings(henan, {"A": 870, "B": 130, "C": 0, "D": 0})
    assert [(w.code, w.kind) for w in warned] == [
        ("A", "outside_expected"),
        ("C", "empty"),
        ("D", "empty"),
    ]
    assert warned[0].message == (
        "class A: 87.0% of enterprises, outside the expected 40.0%-73.0% (the class scheme's "
        "expected_shares)"
    )
    assert warned[1].message == "class C holds no enterprise (expected 5.0%-8.0%)"
    d = warned[0].to_dict()
    assert d["class"] == "A" and d["share"] == 0.87 and d["expected"] == [0.40, 0.73]
    assert d["basis"] == "class_final"


def test_fitted_targets_are_checked_on_the_bands_own_classes() -> None:
    """With fitted bands, the share the bands give (before overrides) is held against its
    target +- max_drift x target; the scheme's expected_shares are not used."""
    henan = load_config(ROOT / "configs" / "classes" / "henan.yaml", ClassScheme)
    final = {"A": 560, "B": 300, "C": 70, "D": 70}  # overrides moved 40 into D
    model = {"A": 580, "B": 310, "C": 70, "D": 40}
    assert share_warnings(henan, final, model, TARGETS, max_drift=0.5) == []
    (w,) = share_warnings(henan, final, model, TARGETS, max_drift=0.2)
    assert (w.code, w.kind, w.basis, w.share) == ("D", "drift", "class_model", 0.04)
    assert w.expected == pytest.approx((0.024, 0.036))
    assert "before overrides" in w.message and "retrain" in w.message
    # an empty class (after overrides) is reported whatever the basis
    final = {"A": 600, "B": 300, "C": 0, "D": 100}
    (w,) = share_warnings(henan, final, model, TARGETS, max_drift=0.5)
    assert (w.code, w.kind, w.basis) == ("C", "empty", "class_final")
