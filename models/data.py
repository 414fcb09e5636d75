"""Training data: inspections as labels, weighted by the inverse of their inclusion probability.

A double-random inspection of an enterprise in stratum (division, class) was drawn with a
known probability p; weighting it 1/p makes the sample stand for the whole population
(Horvitz-Thompson), so that a class-D firm, twenty times likelier to be drawn, does not
count twenty times over. Each inspection of month M is paired with the features of the
month end before M (never a feature from the month of the label or later).
"""

from __future__ import annotations

import pandas as pd

from contract.months import months_between, previous_month


def label_frames(
    inspections: pd.DataFrame, first_month: str, last_month: str
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(double-random labels, targeted labels) of inspections in ``first_month .. last_month``.

    Columns: inspection_id, uscc, inspection_date, month, feature_month (the month end
    before it), y (1 = problem found), weight (1/p for double-random, 1 for targeted),
    p (inclusion probability, double-random only), problem_category. Double-random results
    with no inclusion probability (design unknown) are left out of both.
    """
    months = set(months_between(first_month, last_month))
    df = inspections.copy()
    if "problem_category" not in df.columns:  # an optional column of the contract's table
        df["problem_category"] = None
    df["month"] = pd.to_datetime(df["inspection_date"]).dt.strftime("%Y-%m")
    df = df[df["month"].isin(months)]
    df["feature_month"] = df["month"].map(previous_month)
    df["y"] = df["problem_found"].astype("int8")
    random = df[df["draw_mode"] == "double_random"]
    # a double-random result whose design is unknown (kept at intake, noted design_unknown)
    # cannot stand for the population: it is never a weighted label
    random = random[random["inclusion_probability"].notna()].copy()
    if (random["inclusion_probability"] <= 0).any():
        bad = random.loc[random["inclusion_probability"] <= 0, "inspection_id"].iloc[0]
        raise ValueError(
            f"inspections: double-random inspection {bad} has no positive inclusion_probability "
            "[rule: double_random_has_design]"
        )
    random["p"] = random["inclusion_probability"].astype("float64")
    random["weight"] = 1.0 / random["p"]
    targeted = df[df["draw_mode"] == "targeted"].copy()
    targeted["p"] = float("nan")
    targeted["weight"] = 1.0
    cols = [
        "inspection_id",
        "uscc",
        "inspection_date",
        "month",
        "feature_month",
        "y",
        "weight",
        "p",
        "problem_category",  # what inspectors found: verification's main-risk-point check
    ]
    order = ["month", "inspection_id"]
    return (
        random[cols].sort_values(order).reset_index(drop=True),
        targeted[cols].sort_values(order).reset_index(drop=True),
    )


def split_by_month(months: list[str], valid_months: int, test_months: int) -> dict[str, str]:
    """Out of time: the last ``test_months`` are test, the ``valid_months`` before them valid.
    ``months`` are calendar months (pass every month of the label window, not only those
    with inspections, or a month without any would shift the windows)."""
    ordered = sorted(set(months))
    if len(ordered) <= valid_months + test_months:
        raise ValueError(
            f"train: {len(ordered)} label months cannot be split into training, "
            f"{valid_months} validation and {test_months} test months"
        )
    split = {}
    for i, m in enumerate(reversed(ordered)):
        split[m] = (
            "test" if i < test_months else "valid" if i < test_months + valid_months else "train"
        )
    return split
