"""A within-month delivery for the demo province (issue 20, item 5; `riskclass update`).

Pure: the province's registry and a random generator in, contract tables out. A few dozen
new records of real enterprises of the province, dated and received in the month after the
classified month, on or before the delivery date: serious-list entries (严重违法失信名单),
heavy penalties (责令停产停业, 吊销许可证: what the scheme's ``heavy_penalty_36m`` override
reads) and court records (失信被执行人). Each of them fires one of the hard overrides of
configs/classes/henan.yaml on the delivery date, so the demo shows firms moved to D at once.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from contract.months import month_end, parse_month
from contract.tables import TABLES, VOCABULARIES


def _eligible(registry: pd.DataFrame, end: dt.date) -> np.ndarray:
    """Registry rows of enterprises alive at ``end`` (established, not deregistered or revoked)."""
    est = pd.to_datetime(registry["established_date"]).dt.date
    dereg = pd.to_datetime(registry["deregistered_date"]).dt.date
    revoked = pd.to_datetime(registry["revoked_date"]).dt.date
    alive = (est <= end) & (dereg.isna() | (dereg > end)) & revoked.isna()
    return np.flatnonzero(alive.to_numpy(dtype=bool))


def delivery(
    registry: pd.DataFrame,
    month: str,
    date: dt.date,
    seed: int,
    serious: int = 30,
    penalties: int = 20,
    court: int = 20,
) -> dict[str, pd.DataFrame]:
    """Contract tables of one within-month delivery received on ``date`` (in the month after
    ``month``): ``serious`` serious-list entries, ``penalties`` heavy penalties and ``court``
    dishonest-debtor records, each for a different enterprise alive at ``month``'s end.
    Event dates fall from the 1st of the delivery's month up to ``date``, received dates up
    to ``date``."""
    y, m = parse_month(month)
    end = month_end(y, m)
    if not end < date:
        raise ValueError(f"the delivery date {date} must follow the month {month}")
    rng = np.random.default_rng(seed)
    rows = _eligible(registry, end)
    total = serious + penalties + court
    if len(rows) < total:
        raise ValueError(f"the registry has {len(rows)} live enterprises, fewer than {total}")
    picked = registry["uscc"].to_numpy()[rng.choice(rows, size=total, replace=False)]
    first = date.replace(day=1)
    span = (date - first).days

    def dates(n: int) -> tuple[list[dt.date], list[dt.date]]:
        event = [first + dt.timedelta(days=int(d)) for d in rng.integers(0, span + 1, n)]
        received = [min(e + dt.timedelta(days=int(k)), date) for e, k in
                    zip(event, rng.integers(0, 4, n), strict=True)]  # fmt: skip
        return event, received

    ev, rc = dates(serious)
    sd = pd.DataFrame(
        {
            "uscc": picked[:serious],
            "reason": rng.choice(list(VOCABULARIES["serious_reason"]), serious),
            "listed_date": ev,
            "received_date": rc,
            "removed_date": pd.Series([None] * serious, dtype=object),
            "removal_reason": pd.Series([None] * serious, dtype=object),
            "removal_received_date": pd.Series([None] * serious, dtype=object),
        }
    )
    ev, rc = dates(penalties)
    heavy = ["suspension", "licence_revocation"]
    causes = [c for c in VOCABULARIES["penalty_cause"] if c != "other"]
    pen = pd.DataFrame(
        {
            "uscc": picked[serious : serious + penalties],
            "decision_no": [
                f"更新罚〔{date.year}〕{seed % 1000:03d}{i:04d}号" for i in range(penalties)
            ],
            "penalty_kind": rng.choice(heavy, penalties),
            "cause": rng.choice(causes, penalties),
            "decision_date": ev,
            "amount": np.round(rng.uniform(1, 50, penalties), 2),
            "minor": False,
            "repaired_date": pd.Series([None] * penalties, dtype=object),
            "received_date": rc,
        }
    )
    ev, rc = dates(court)
    jud = pd.DataFrame(
        {
            "case_no": [f"({date.year})更新执{seed % 1000:03d}{i:04d}号" for i in range(court)],
            "uscc": picked[serious + penalties :],
            "kind": "dishonest_debtor",
            "filed_date": ev,
            "amount": np.round(rng.uniform(5, 500, court), 2),
            "closed_date": pd.Series([None] * court, dtype=object),
            "received_date": rc,
        }
    )
    out = {"serious_dishonest_list": sd, "penalties": pen, "judicial": jud}
    for name, frame in out.items():  # the contract's columns, in its order
        if list(frame.columns) != [c.name for c in TABLES[name].columns]:
            raise ValueError(f"{name}: the columns do not follow the contract")
    return out
