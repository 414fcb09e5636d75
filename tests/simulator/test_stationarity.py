"""Issue 19, item 1: the province is stationary. The records reach back far enough that
every feature window is full from the demo's first feature month, and the simulated state
is in its steady state (an undelivered warm-up), so every model feature has the same
distribution in the first and the last month of the demo's feature history (2024-10 and
2026-10: the same calendar month, two years apart) - PSI below 0.25 - unless its catalog
entry documents why it moves (`Feature.trend`)."""

from __future__ import annotations

from typing import Any

import duckdb
import pandas as pd
import pytest

from features.definitions import CATALOG
from models.verification import psi
from tests.simulator.conftest import FIRST_MONTH, LAST_MONTH

# One worker builds the demo-sized province (conftest: simulate, ingest, a year of features)
# and runs every test that reads it; spread over two workers, each built it again.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("province100k")]

PSI_LIMIT = 0.25
#: Rates of an enterprise's industry or county (one value per group).
GROUP_RATES = {f.name for f in CATALOG if f.role == "model" and f.name.startswith("ctx_")}


def test_every_model_feature_is_stationary(province_features: Any) -> None:
    first = pd.read_parquet(province_features / f"{FIRST_MONTH}.parquet")
    last = pd.read_parquet(province_features / f"{LAST_MONTH}.parquet")
    drifting = {}
    for f in CATALOG:
        if f.role != "model" or f.trend or f.kind == "category" or f.name in GROUP_RATES:
            continue
        value = psi(first[f.name].astype(float), last[f.name].astype(float))
        if value >= PSI_LIMIT:
            drifting[f.name] = round(value, 3)
    assert not drifting, f"features drifting between {FIRST_MONTH} and {LAST_MONTH}: {drifting}"


def test_group_rates_keep_their_level(province_features: Any) -> None:
    """The industry and county rates (`ctx_*`) are one value per group, shared by all its
    enterprises: a small change of one aggregate moves a whole group across a decile, so a
    PSI over enterprises measures the grouping, not drift. They are held to their level
    instead - the province-wide mean, and each enterprise's own group value (the median
    relative change) - within the same 25% a PSI of 0.25 stands for. Issue 19 found
    `ctx_industry_abnormal_share` drifting by a PSI of 6.0: its level rose month by month
    as the records piled up, which this catches."""
    first = pd.read_parquet(province_features / f"{FIRST_MONTH}.parquet").set_index("uscc")
    last = pd.read_parquet(province_features / f"{LAST_MONTH}.parquet").set_index("uscc")
    both = first.index.intersection(last.index)
    assert GROUP_RATES
    moved = {}
    for name in sorted(GROUP_RATES):
        a, b = first[name].astype(float), last[name].astype(float)
        level = abs(b.mean() / a.mean() - 1)
        x, y = a.loc[both], b.loc[both]
        ok = (x > 0) & y.notna()
        own = float(((y[ok] - x[ok]).abs() / x[ok]).median())
        if level >= PSI_LIMIT or own >= PSI_LIMIT:
            moved[name] = (round(level, 3), round(own, 3))
    assert not moved, f"group rates off their level (province, own group): {moved}"


def test_records_reach_back_before_the_longest_window(province: Any) -> None:
    """Event records (with their received dates) start 36 months before the first feature
    month; nothing of the warm-up is delivered except what is still in force then."""
    _, base = province
    con = duckdb.connect()
    for table, date in (
        ("penalties", "decision_date"),
        ("inspections", "inspection_date"),
        ("annual_reports", "submitted_date"),
        ("changes", "change_date"),
    ):
        first, missing = con.execute(
            f"SELECT min({date}), count(*) FILTER (WHERE received_date IS NULL) "
            f"FROM read_parquet('{base}/raw/{table}/*.parquet')"
        ).fetchone()
        assert str(first) >= "2021-11-01", (table, first)
        assert str(first) <= "2021-11-30", (table, first)
        assert missing == 0, table
    # double-random rounds run before the window too: the first feature month's 36-month
    # inspection window is full
    early = con.execute(
        f"SELECT count(*) FROM read_parquet('{base}/raw/inspections/*.parquet') "
        "WHERE draw_mode = 'double_random' AND inspection_date < DATE '2022-11-01'"
    ).fetchone()[0]
    assert early > 1000
    # an abnormal listing of the warm-up still open at the data start is delivered
    open_before = con.execute(
        f"SELECT count(*) FROM read_parquet('{base}/raw/abnormal_list/*.parquet') "
        "WHERE listed_date < DATE '2021-11-01' "
        "AND (removed_date IS NULL OR removed_date >= DATE '2021-11-01')"
    ).fetchone()[0]
    closed_before = con.execute(
        f"SELECT count(*) FROM read_parquet('{base}/raw/abnormal_list/*.parquet') "
        "WHERE removed_date < DATE '2021-11-01'"
    ).fetchone()[0]
    assert open_before > 0 and closed_before == 0


def test_latent_risk_and_classes_do_not_drift(province: Any) -> None:
    """The hidden state itself: mean risk, dormancy and legacy class shares of the first
    and last window months agree."""
    _, base = province
    rows = (
        duckdb.connect()
        .execute(
            f"SELECT month, avg(latent_risk) AS z, avg(dormant::INT) AS dormant, "
            f"avg((legacy_class = 'D')::INT) AS d, avg((legacy_class = 'A')::INT) AS a "
            f"FROM read_parquet('{base}/truth/enterprise_months/*.parquet') "
            f"WHERE month IN ('2023-11', '2025-11') GROUP BY month ORDER BY month"
        )
        .fetchall()
    )
    (_, z0, dorm0, d0, a0), (_, z1, dorm1, d1, a1) = rows
    assert abs(z1 - z0) < 0.05
    assert abs(dorm1 - dorm0) < 0.01
    assert abs(d1 - d0) < 0.006
    assert abs(a1 - a0) < 0.03
