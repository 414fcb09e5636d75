"""What the demo province's case system records after a problem is found (issue 20, item 3).

Pure: the simulated inspections and a seeded generator in, an action file out, in the layout
``riskclass cases import`` reads (one row per action: inspection_id, item, action,
department, disposal, date, by). Written by `pipelines.simulate.write_case_actions` to
``data/raw_cases/actions.csv``.

ASSUMPTIONS (no seed document gives figures; chosen so the demo shows every path):

* ``REFER_SHARE`` 12% of problems belong to another department and are referred, 3-10 days
  after the inspection; problems of a category some other department owns
  (``CATEGORY_DEPARTMENT``) are referred to it, the others to a department drawn at random.
  90% of referrals are acknowledged 1-8 days later (the rest are overdue: never acknowledged);
  an acknowledged referral is closed 移交后已处理 some 20-80 days later.
* Problems handled here are closed after a lognormal number of days (median 21, most within
  weeks; ``LATE_SHARE`` 5% are never closed and fall overdue). The disposal depends on the
  category: an unreachable address mostly ends on the abnormal-operation list, others are
  corrected on order (责令改正), filed for a penalty, or found no violation on review.
* Only actions dated on or before ``end`` (the simulated period's last day) are written: the
  rest have not happened yet, so the latest problems are still open, as in a real export.

The department and disposal codes are those of ``configs/cases.yaml`` (a test checks it).
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

REFER_SHARE = 0.12
ACK_SHARE = 0.9
LATE_SHARE = 0.05
DEPARTMENTS = ("health", "emergency", "environment", "housing", "transport", "agriculture", "tax",
               "public_security")  # fmt: skip
#: categories another department usually owns (referred to it when referred)
CATEGORY_DEPARTMENT = {
    "drug_device_safety": "health",
    "special_equipment": "emergency",
    "address_unreachable": "public_security",
}
#: disposal shares of a problem handled here: (codes, probabilities) per category
_DEFAULT = (("rectified", "penalty_case", "no_violation"), (0.70, 0.18, 0.12))
_BY_CATEGORY = {
    "address_unreachable": (("abnormal_listed", "rectified", "no_violation"), (0.75, 0.15, 0.10)),
    "false_disclosure": (("rectified", "penalty_case", "abnormal_listed"), (0.65, 0.20, 0.15)),
}
COLUMNS = ["inspection_id", "item", "action", "department", "disposal", "date", "by"]


def case_actions(inspections: pd.DataFrame, end: dt.date, seed: int) -> pd.DataFrame:
    """The action file for the problems found in ``inspections`` (contract columns), dated on
    or before ``end``; sorted by date, then inspection. Deterministic for a seed."""
    found = inspections.loc[inspections["problem_found"].fillna(False).astype(bool)]
    found = found.sort_values("inspection_id", kind="stable")
    n = len(found)
    rng = np.random.default_rng([seed, 20])  # 20: the issue, apart from the province's streams
    ids = found["inspection_id"].astype(str).to_numpy()
    cat = found["problem_category"].astype(object).where(found["problem_category"].notna())
    items = cat.fillna("unspecified").astype(str).to_numpy()
    day0 = pd.to_datetime(found["inspection_date"]).dt.date.to_numpy()
    refer = rng.random(n) < REFER_SHARE
    ack = rng.random(n) < ACK_SHARE
    late = rng.random(n) < LATE_SHARE
    refer_days = rng.integers(3, 11, n)
    ack_days = rng.integers(1, 9, n)
    handled_days = rng.integers(20, 81, n)
    close_days = np.maximum(3, np.round(rng.lognormal(np.log(21), 0.5, n))).astype(int)
    pick = rng.random(n)
    rand_dept = rng.integers(0, len(DEPARTMENTS), n)
    rows: list[tuple[str, str, str, str | None, str | None, dt.date]] = []
    for i in range(n):
        start = day0[i]
        if refer[i]:
            dept = CATEGORY_DEPARTMENT.get(items[i], DEPARTMENTS[rand_dept[i]])
            d1 = start + dt.timedelta(days=int(refer_days[i]))
            rows.append((ids[i], items[i], "refer", dept, None, d1))
            if not ack[i]:
                continue
            d2 = d1 + dt.timedelta(days=int(ack_days[i]))
            rows.append((ids[i], items[i], "acknowledge", None, None, d2))
            d3 = d2 + dt.timedelta(days=int(handled_days[i]))
            rows.append((ids[i], items[i], "close", None, "referred_handled", d3))
        elif not late[i]:
            codes, probs = _BY_CATEGORY.get(items[i], _DEFAULT)
            k = int(np.searchsorted(np.cumsum(probs), pick[i] * sum(probs), side="right"))
            disposal = codes[min(k, len(codes) - 1)]
            d1 = start + dt.timedelta(days=int(close_days[i]))
            rows.append((ids[i], items[i], "close", None, disposal, d1))
    out = pd.DataFrame(rows, columns=COLUMNS[:-1])
    out = out.loc[out["date"] <= end].copy()
    out["by"] = "case-system"
    out = out.sort_values(["date", "inspection_id"], kind="stable", ignore_index=True)
    out["date"] = out["date"].map(dt.date.isoformat)
    return out[COLUMNS]
