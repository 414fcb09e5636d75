"""The synthetic province reproduces the published figures it is calibrated to, at 100k
enterprises x 36 months (the demo size). Targets and their sources are commented in
configs/simulator.yaml."""

from __future__ import annotations

import itertools

import duckdb
import numpy as np
import pytest

from simulator.summary import auc

# One worker builds the demo-sized province (conftest: simulate, ingest, a year of features)
# and runs every test that reads it; spread over two workers, each built it again.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("province100k")]


@pytest.fixture(scope="module")
def calibrated(province):  # type: ignore[no-untyped-def]
    """(summary, connection) of the demo-sized province (tests/simulator/conftest.py)."""
    summary, base = province
    con = duckdb.connect()
    for name in ("enterprises", "inspections", "abnormal_list"):
        con.execute(
            f"CREATE VIEW {name} AS SELECT * FROM read_parquet('{base}/raw/{name}/*.parquet')"
        )
    return summary, con


def test_class_shares_match_published_ranges(calibrated) -> None:  # type: ignore[no-untyped-def]
    shares = calibrated[0].class_shares
    assert 0.40 <= shares["A"] <= 0.73
    assert 0.05 <= shares["C"] <= 0.08
    assert 0.015 <= shares["D"] <= 0.035


def test_yearly_double_random_coverage(calibrated) -> None:  # type: ignore[no-untyped-def]
    coverage = calibrated[0].yearly_coverage
    assert len(coverage) >= 2  # 2024 and 2025 are full years of a window ending 2026-10
    for year, share in coverage.items():
        # "roughly 3-5%": two rounds a year at the minimum rates land near the upper end
        assert 0.03 <= share <= 0.055, (year, share)


# Henan 2021 (seeds/001): hit rates of low / medium / medium-high / high risk about
# 0 / 40 / 57 / 85%. Tolerance: A at most 8% ("about 0"), B, C and D within 12 points.
HENAN_2021 = {"B": 0.40, "C": 0.57, "D": 0.85}
HIT_TOLERANCE = 0.12


def test_hit_rates_match_henan_2021(calibrated) -> None:  # type: ignore[no-untyped-def]
    hits = calibrated[0].hit_rates
    rates = [hits[c] for c in "ABCD"]
    assert all(a < b for a, b in itertools.pairwise(rates)), rates
    assert hits["A"] <= 0.08, hits
    for c, target in HENAN_2021.items():
        assert abs(hits[c] - target) <= HIT_TOLERANCE, (c, hits[c], target)
    assert hits["D"] / hits["A"] >= 8


def test_oracle_is_the_ceiling(calibrated) -> None:  # type: ignore[no-untyped-def]
    summary, con = calibrated
    cls, found = zip(
        *con.execute(
            "SELECT risk_class_at_draw, problem_found FROM inspections WHERE draw_mode = 'double_random'"
        ).fetchall(),
        strict=True,
    )
    legacy = auc(np.array(found), np.array(["ABCD".index(c) for c in cls], dtype=float))
    assert 0.85 <= summary.oracle_auc <= 0.99
    assert summary.oracle_auc >= legacy + 0.05, "the legacy classes must leave room for a model"


def test_population_marginals(calibrated) -> None:  # type: ignore[no-untyped-def]
    _, con = calibrated
    young5, cap, emp = con.execute(
        "SELECT avg((established_date > DATE '2021-10-31')::int), "
        "median(registered_capital) FILTER (WHERE entity_type = 'enterprise'), median(employees) "
        "FROM enterprises WHERE status = 'operating'"
    ).fetchone()
    assert 0.40 <= young5 <= 0.65  # heavy in young firms
    assert 20 <= cap <= 300  # 万元: typical private LLC
    assert emp <= 10  # mostly micro firms
    ib, coop = con.execute(
        "SELECT avg((entity_type = 'individual_business')::int), avg((entity_type = 'farmer_cooperative')::int) FROM enterprises"
    ).fetchone()
    assert 0.10 <= ib <= 0.14 and 0.01 <= coop <= 0.03
    food, se = con.execute(
        "SELECT avg((coalesce(sector_tags, '') SIMILAR TO '.*(food|catering).*')::int), "
        "avg((coalesce(sector_tags, '') LIKE '%special_equipment%')::int) FROM enterprises"
    ).fetchone()
    assert 0.05 <= food <= 0.25 and 0.01 <= se <= 0.08
    shenzhen = con.execute(
        "SELECT avg((left(division_code, 4) = '4403')::int) FROM enterprises"
    ).fetchone()[0]
    assert 0.25 <= shenzhen <= 0.40  # ~2.4M of Guangdong's ~7.5M enterprises
    dereg = con.execute(
        "SELECT count(*) FILTER (WHERE year(deregistered_date) = 2025) / count(*) FILTER "
        "(WHERE established_date < DATE '2025-01-01') FROM enterprises"
    ).fetchone()[0]
    assert 0.02 <= dereg <= 0.08


def test_abnormal_list_rate(calibrated) -> None:  # type: ignore[no-untyped-def]
    _, con = calibrated
    listed = con.execute(
        "SELECT count(*) FROM abnormal_list WHERE reason = 'annual_report' AND year(listed_date) = 2025"
    ).fetchone()[0]
    operating = con.execute(
        "SELECT count(*) FROM enterprises WHERE established_date < DATE '2025-01-01'"
    ).fetchone()[0]
    assert 0.02 <= listed / operating <= 0.12
