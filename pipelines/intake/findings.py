"""Inspection results linked to the plan that drew them (`link`): shared by the `feedback`
stage, which links a platform's results file, and `simulate-loop`, which links the results
it simulates.

A result links when it names the plan, the enterprise was drawn by it, its items are among
those the enterprise was drawn for, and it is the enterprise's only result (another
``inspection_id`` for the same enterprise is refused; the same one again is a correction,
which ingestion merges). Linked results become rows of the contract's ``inspections`` table,
carrying what the platform does not know: the draw mode, the strata, the class at the draw
and the enterprise's inclusion probability. The others keep a rule and a reason.
"""

from __future__ import annotations

import pandas as pd

from contract.tables import TABLES

#: what the platform returns; the plan supplies the rest of the contract's columns
RESULT_COLUMNS = (
    "plan_id",
    "uscc",
    "inspection_id",
    "inspection_date",
    "result",
    "problem_found",
    "problem_category",
    "received_date",
)
#: why a result did not link: rule -> (Chinese, English)
REASONS = {
    "other_plan": ("计划编号与本计划不符", "plan_id is not this plan's"),
    "not_drawn": ("该企业未被本计划抽中", "the enterprise was not drawn by this plan"),
    "item_not_drawn": (
        "检查事项不在本计划对该企业的抽查事项内",
        "an item the plan did not draw the enterprise for",
    ),
    "second_result": (
        "同一抽中企业的第二条结果(检查记录编号不同;含此前已归集的结果)",
        "a second result for one drawn enterprise (another inspection_id, "
        "in this delivery or an earlier one)",
    ),
}


def link(
    plan: pd.DataFrame, results: pd.DataFrame, received: pd.DataFrame | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Results joined to the plan that drew them: contract ``inspections`` rows, and the
    results that do not link, each with its rule and reason. ``received``: the plan's results
    already ingested (``uscc``, ``inspection_id``), so that a later delivery cannot add a
    second result for one enterprise. One result per enterprise (all its items). Pure."""
    plan_id = plan["plan_id"].iloc[0]
    per_firm = plan.groupby("uscc", sort=False).agg(
        items=("item", ";".join),
        stratum=("stratum", ";".join),
        klass=("class", "first"),
        probability=("enterprise_probability", "first"),
    )
    rule = pd.Series("", index=results.index, dtype=object)
    rule[results["plan_id"] != plan_id] = "other_plan"
    rule[(rule == "") & ~results["uscc"].isin(per_firm.index)] = "not_drawn"
    drawn_items = results["uscc"].map(per_firm["items"]).fillna("")
    given = results["items"].where(results["items"] != "", drawn_items)
    extra = [
        bool(set(g.split(";")) - set(d.split(";"))) for g, d in zip(given, drawn_items, strict=True)
    ]
    rule[(rule == "") & pd.Series(extra, index=results.index)] = "item_not_drawn"
    ok = rule == ""
    # one result per drawn enterprise: a second one with another inspection_id is refused
    # (the same inspection_id again is a correction, which ingestion merges), whether in
    # this delivery or an earlier one
    first_id = results[ok].groupby("uscc")["inspection_id"].transform("first")
    if received is not None and len(received):
        earlier = dict(zip(received["uscc"], received["inspection_id"], strict=False))
        first_id = results.loc[ok, "uscc"].map(earlier).fillna(first_id)
    rule[ok & (results["inspection_id"] != first_id.reindex(results.index))] = "second_result"
    ok = rule == ""
    good = results[ok]
    firm = per_firm.reindex(good["uscc"])
    linked = pd.DataFrame(
        {
            "inspection_id": good["inspection_id"].to_numpy(),
            "uscc": good["uscc"].to_numpy(),
            "draw_mode": "double_random",
            "plan_id": plan_id,
            "stratum": firm["stratum"].to_numpy(),
            "risk_class_at_draw": firm["klass"].to_numpy(),
            "inclusion_probability": firm["probability"].to_numpy(),
            "trigger": "",
            "items": given[ok].to_numpy(),
            **{c: good[c].to_numpy() for c in RESULT_COLUMNS[3:]},
        }
    )
    bad = results[~ok].assign(
        rule=rule[~ok],
        reason_zh=rule[~ok].map(lambda r: REASONS[r][0]),
        reason_en=rule[~ok].map(lambda r: REASONS[r][1]),
    )
    return linked[[c.name for c in TABLES["inspections"].columns]], bad
