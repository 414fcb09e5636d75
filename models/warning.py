"""Early warning (风险监测预警): enterprises whose risk rose sharply, or that tripped a
monitoring rule, each with its reasons.

Two kinds of reason: a rise (the class moved up the ladder by at least ``rise_classes``
steps since the previous month, or the score by at least ``rise_score`` points), and
monitoring rules over the month's features (conditions as in the class scheme's overrides:
``feature op value``, a missing value never trips a rule). Pure: frames in, a frame out.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Self

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, model_validator

from models.classes import Condition, holds


class MonitoringRule(BaseModel):
    """Trips when every condition holds."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    zh: str
    en: str
    when: Annotated[tuple[Condition, ...], Field(min_length=1)]


class WarningConfig(BaseModel):
    """`configs/warning.yaml`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    rise_classes: Annotated[int, Field(ge=1)] = 1
    rise_score: Annotated[float, Field(gt=0)] = 200.0
    rules: tuple[MonitoringRule, ...] = ()

    @model_validator(mode="after")
    def _distinct_names(self) -> Self:
        names = [r.name for r in self.rules]
        taken = sorted(
            {n for n in names if names.count(n) > 1} | ({"class_rise", "score_rise"} & set(names))
        )
        if taken:
            raise ValueError(f"rule names must be distinct and not class_rise/score_rise: {taken}")
        return self

    @property
    def features(self) -> set[str]:
        return {c.feature for r in self.rules for c in r.when}


def warnings(
    current: pd.DataFrame,
    previous: pd.DataFrame | None,
    order: Sequence[str],
    cfg: WarningConfig,
) -> pd.DataFrame:
    """One row per enterprise warned: uscc, class and score now and before (empty when not
    classified last month), and ``reasons`` (rule names, ``;``-joined, rises first).

    ``current``: uscc, class_final, score and the rules' feature columns; ``previous``:
    uscc, class_final, score of the month before (None: no rise can be judged)."""
    rank = {c: i for i, c in enumerate(order)}
    cur = current.reset_index(drop=True)
    reasons: list[list[str]] = [[] for _ in range(len(cur))]
    before = pd.DataFrame(
        {"class_before": pd.Series(dtype=object), "score_before": pd.Series(dtype=float)}
    )
    if previous is not None:
        prev = previous.set_index("uscc")[["class_final", "score"]]
        before = prev.reindex(cur["uscc"]).reset_index(drop=True)
        before.columns = ["class_before", "score_before"]
        now_rank = cur["class_final"].map(rank)
        then_rank = before["class_before"].map(rank)
        class_up = (now_rank - then_rank >= cfg.rise_classes).fillna(False).to_numpy(dtype=bool)
        score_up = ((cur["score"] - before["score_before"]) >= cfg.rise_score).fillna(False)
        for i in np.flatnonzero(class_up):
            reasons[i].append("class_rise")
        for i in np.flatnonzero(score_up.to_numpy(dtype=bool)):
            reasons[i].append("score_rise")
    for rule in cfg.rules:
        hit = np.ones(len(cur), dtype=bool)
        for cond in rule.when:
            if cond.feature not in cur.columns:
                raise ValueError(
                    f"monitoring rule {rule.name!r}: feature {cond.feature!r} is not a column"
                )
            hit &= holds(cur[cond.feature], cond, f"monitoring rule {rule.name!r}")
        for i in np.flatnonzero(hit):
            reasons[i].append(rule.name)
    warned = np.array([bool(r) for r in reasons], dtype=bool)
    out = pd.DataFrame(
        {
            "uscc": cur["uscc"],
            "class_final": cur["class_final"],
            "score": cur["score"],
            "class_before": before.get("class_before"),
            "score_before": before.get("score_before"),
            "reasons": [";".join(r) for r in reasons],
        }
    )
    return out[warned].reset_index(drop=True)


def reason_texts(cfg: WarningConfig) -> dict[str, str]:
    """Each reason code's Chinese text, rises first, then the rules in config order."""
    return {
        "class_rise": "风险分类较上月上升",
        "score_rise": f"风险分较上月上升{cfg.rise_score:.0f}分以上",
        **{r.name: r.zh for r in cfg.rules},
    }
