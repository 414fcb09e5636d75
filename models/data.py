"""Training data: inspections as labels, weighted by the inverse of their inclusion probability.

A double-random inspection of an enterprise in stratum (division, class) was drawn with a
known probability p; weighting it 1/p makes the sample stand for the whole population
(Horvitz-Thompson), so that a class-D firm, twenty times likelier to be drawn, does not
count twenty times over. Each inspection of month M is paired with the features of the
month end before M (never a feature from the month of the label or later).

Label kinds (`label_kinds`, column ``label_kind``): ``double_random`` (a known or declared
design: weight 1/p, the only kind evaluation uses), ``design_unknown`` (a double-random
result without an inclusion probability) and ``targeted`` (complaints, campaigns,
referrals): weight 1, usable for training when the config asks, never for a weighted hit
rate. A result counts as a label only once received (`received_by`). When the label months
allow no out-of-time split, enterprises are put into folds by a seeded hash of their id
(`folds_of`): grouped cross-validation, the same enterprise never on both sides.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re

import numpy as np
import pandas as pd

from contract.months import month_end, months_between, parse_month, previous_month

#: The kinds of label, in the order the counts list them; only the first is evaluated.
LABEL_KINDS = ("double_random", "design_unknown", "targeted")
#: The kind of a row of an external labelled snapshot (`riskclass train --labels`).
SNAPSHOT_KIND = "snapshot"
#: Grouped cross-validation: the fold that is the test set and the one that tunes/calibrates.
TEST_FOLD, VALID_FOLD = 0, 1


#: The columns of a label frame, in order.
LABEL_COLUMNS = [
    "inspection_id",
    "uscc",
    "inspection_date",
    "month",
    "feature_month",
    "y",
    "weight",
    "p",
    "problem_category",  # what inspectors found: verification's main-risk-point check
    "label_kind",
]


def label_kinds(inspections: pd.DataFrame, first_month: str, last_month: str) -> pd.DataFrame:
    """Every inspection of ``first_month .. last_month`` as a label, tagged ``label_kind``
    (`LABEL_KINDS`): double-random with a design weighted 1/p; double-random without one
    (``design_unknown``) and targeted weighted 1 (p missing). Columns `LABEL_COLUMNS`,
    sorted by month and inspection id.

    >>> df = pd.DataFrame({"inspection_id": ["a", "b", "c"], "uscc": ["E1", "E2", "E3"],
    ...     "draw_mode": ["double_random", "double_random", "targeted"],
    ...     "inclusion_probability": [0.25, None, None], "problem_found": [True, False, True],
    ...     "inspection_date": pd.to_datetime(["2026-03-02", "2026-03-05", "2026-03-09"])})
    >>> label_kinds(df, "2026-03", "2026-03")[["label_kind", "weight"]].values.tolist()
    [['double_random', 4.0], ['design_unknown', 1.0], ['targeted', 1.0]]
    """
    months = set(months_between(first_month, last_month))
    df = inspections.copy()
    if "problem_category" not in df.columns:  # an optional column of the contract's table
        df["problem_category"] = None
    df["month"] = pd.to_datetime(df["inspection_date"]).dt.strftime("%Y-%m")
    df = df[df["month"].isin(months)].copy()
    df["feature_month"] = df["month"].map(previous_month)
    df["y"] = df["problem_found"].astype("int8")
    double = (df["draw_mode"] == "double_random").to_numpy()
    known = df["inclusion_probability"].notna().to_numpy()
    designed = double & known
    bad = designed & ~(df["inclusion_probability"].fillna(0) > 0).to_numpy()
    if bad.any():
        raise ValueError(
            f"inspections: double-random inspection {df.loc[bad, 'inspection_id'].iloc[0]} has "
            "no positive inclusion_probability [rule: double_random_has_design]"
        )
    df["label_kind"] = np.where(
        designed, "double_random", np.where(double, "design_unknown", "targeted")
    )
    df = df[double | (df["draw_mode"] == "targeted").to_numpy()]
    designed = (df["label_kind"] == "double_random").to_numpy()
    df["p"] = np.where(designed, df["inclusion_probability"].astype("float64"), np.nan)
    df["weight"] = np.where(designed, 1.0 / df["p"].to_numpy(), 1.0)
    return df[LABEL_COLUMNS].sort_values(["month", "inspection_id"]).reset_index(drop=True)


def received_by(inspections: pd.DataFrame, month: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(received, late): the inspections whose result was received (``received_date``) by
    the end of ``month``, and the others (not yet a label at that cut-off: training cuts at
    its last label month, verification at ``--as-of``)."""
    end = pd.Timestamp(month_end(*parse_month(month)))
    late = (pd.to_datetime(inspections["received_date"]) > end).to_numpy()
    return inspections[~late], inspections[late]


def label_frames(
    inspections: pd.DataFrame, first_month: str, last_month: str
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(double-random labels, targeted labels) of inspections in ``first_month .. last_month``.

    Columns `LABEL_COLUMNS` (`label_kinds`): feature_month is the month end before the
    inspection, y 1 = problem found, weight 1/p for double-random and 1 for targeted, p the
    inclusion probability (double-random only). Double-random results with no inclusion
    probability (design unknown) are left out of both: they cannot stand for the population.
    """
    labels = label_kinds(inspections, first_month, last_month)
    kind = labels["label_kind"]
    return (
        labels[kind == "double_random"].reset_index(drop=True),
        labels[kind == "targeted"].reset_index(drop=True),
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


def folds_of(ids: pd.Series | list[str], k: int, seed: int) -> np.ndarray:
    """Each enterprise id's fold 0..k-1 for grouped cross-validation: the first 8 bytes of
    SHA-256 of ``"<seed>:<id>"``, big-endian, modulo ``k`` (`FOLD_RULE`). Reproducible from
    the config's seed on any machine, independent of row order and of any global random
    state; every row of an enterprise lands in the same fold.

    >>> a, b, again = folds_of(["E1", "E2", "E1"], 5, 7)
    >>> bool(a == again == folds_of(["E1"], 5, 7)[0]) and 0 <= int(b) < 5
    True
    """
    if k < 2:
        raise ValueError(f"grouped cross-validation needs at least 2 folds, got {k}")
    codes, uniques = pd.factorize(pd.Series(ids, dtype=object).astype(str))
    fold = np.array(
        [
            int.from_bytes(hashlib.sha256(f"{seed}:{u}".encode()).digest()[:8], "big") % k
            for u in uniques
        ],
        dtype=np.int64,
    )
    out: np.ndarray = fold[codes]
    return out


#: How `folds_of` and `fold_parts` assign rows, as the run's parameters and the card say it.
FOLD_RULE = (
    "fold = first 8 bytes of sha256('<seed>:<enterprise id>') (big-endian) mod k; "
    f"fold {TEST_FOLD} is test, fold {VALID_FOLD} valid (tuning, calibration), the others train"
)


def fold_parts(folds: np.ndarray) -> np.ndarray:
    """The part (test / valid / train) of each fold number (`TEST_FOLD`, `VALID_FOLD`)."""
    return np.where(folds == TEST_FOLD, "test", np.where(folds == VALID_FOLD, "valid", "train"))


def snapshot_month(as_of: str) -> tuple[dt.date, str]:
    """An external snapshot's as-of date and its feature month: the last month end on or
    before it. ``YYYY-MM`` is that month's end; ``YYYY-MM-DD`` a day.

    >>> snapshot_month("2026-10-31"), snapshot_month("2026-10-15")[1], snapshot_month("2026-10")[1]
    ((datetime.date(2026, 10, 31), '2026-10'), '2026-09', '2026-10')
    """
    text = (as_of or "").strip()
    if re.fullmatch(r"\d{4}-\d{2}", text):
        day = month_end(*parse_month(text))
    else:
        try:
            day = dt.date.fromisoformat(text)
        except ValueError:
            raise ValueError(
                f"an as-of date is written YYYY-MM-DD (or YYYY-MM for its month end), got {as_of!r}"
            ) from None
    month = f"{day.year:04d}-{day.month:02d}"
    return day, month if day == month_end(day.year, day.month) else previous_month(month)
