"""Early warning: rises and monitoring rules, each enterprise with its reasons."""

from __future__ import annotations

import pandas as pd
import pytest

from models.classes import Condition
from models.warning import MonitoringRule, WarningConfig, warnings

ORDER = ["A", "B", "C", "D"]
CFG = WarningConfig(
    rise_classes=1,
    rise_score=200,
    rules=(
        MonitoringRule(
            name="burst",
            zh="频繁变更",
            en="burst",
            when=(Condition(feature="chg", op=">=", value=5),),
        ),
    ),
)


def _now() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "uscc": ["E1", "E2", "E3", "E4", "E5"],
            "class_final": ["B", "D", "A", "C", "B"],
            "score": [150.0, 950.0, 20.0, 600.0, 450.0],
            "chg": [0.0, 1.0, 7.0, float("nan"), 0.0],
        }
    )


def test_rises_and_rules_each_with_their_reason() -> None:
    before = pd.DataFrame(
        {
            "uscc": ["E1", "E2", "E3", "E4", "E5"],
            "class_final": ["A", "D", "A", "D", "B"],
            "score": [90.0, 900.0, 10.0, 950.0, 200.0],
        }
    )
    out = warnings(_now(), before, ORDER, CFG).set_index("uscc")
    assert out.loc["E1", "reasons"] == "class_rise"  # A -> B
    assert "E2" not in out.index  # D stayed D, +50 points: no warning
    assert out.loc["E3", "reasons"] == "burst"  # a rule, whatever the class
    assert "E4" not in out.index  # fell from D to C; a missing value never trips a rule
    assert out.loc["E5", "reasons"] == "score_rise"  # +250 points within B
    assert out.loc["E1", "class_before"] == "A" and out.loc["E5", "score_before"] == 200.0


def test_without_last_month_only_the_rules_apply() -> None:
    out = warnings(_now(), None, ORDER, CFG)
    assert out["uscc"].tolist() == ["E3"] and out["class_before"].isna().all()


def test_a_rule_on_a_missing_column_is_named() -> None:
    with pytest.raises(ValueError, match="monitoring rule 'burst': feature 'chg' is not a column"):
        warnings(_now().drop(columns="chg"), None, ORDER, CFG)


def test_rule_names_are_distinct_reasons() -> None:
    rule = MonitoringRule(
        name="class_rise", zh="x", en="x", when=(Condition(feature="chg", op=">=", value=1),)
    )
    with pytest.raises(ValueError, match="not class_rise/score_rise"):
        WarningConfig(rules=(rule,))
