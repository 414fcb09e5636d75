"""Every feature family on tiny hand-built tables, against values computed by hand.

The month is 2026-10 (month end 2026-10-31) unless a test says otherwise. Windows are
exact: "12 months" is (2025-10-31, 2026-10-31], "36 months" (2023-10-31, 2026-10-31].
The annual report for 2025 is due on 2026-06-30, so at 2026-10 the last due year is 2025.
"""

from __future__ import annotations

import math

import pytest

from tests.features.tiny import build, config, d, firms, write

END = d("2026-10-31")


def days(since: str) -> int:
    return (END - d(since)).days


# ---------------------------------------------------------------------------- base
def test_population_and_registry_as_known_at_the_month_end(tmp_path) -> None:  # type: ignore[no-untyped-def]
    folder = write(
        tmp_path,
        {
            "enterprises": [
                {
                    "uscc": "E1",
                    "established_date": d("2020-10-31"),
                    "registered_capital": 500.0,
                    "paid_in_capital": 150.0,
                    "sector_tags": "catering;drugs",
                },
                {
                    "uscc": "E2",
                    "established_date": d("2024-01-01"),
                    "registered_capital": 0.0,
                    "paid_in_capital": 0.0,
                },
                {
                    "uscc": "E3",
                    "established_date": d("2010-01-01"),
                    "revoked_date": d("2026-09-01"),
                    "status": "revoked",
                    "registered_capital": 12000.0,
                },
                {
                    "uscc": "E4",
                    "established_date": d("2010-01-01"),
                    "deregistered_date": d("2026-05-01"),
                    "status": "deregistered",
                },
                {"uscc": "E5", "established_date": d("2026-11-01")},
            ],
            "changes": [
                # today's registry says 500; at 2026-10 the capital was 300, at 2025-04 100
                {
                    "uscc": "E1",
                    "change_kind": "registered_capital",
                    "change_date": d("2025-05-01"),
                    "received_date": d("2025-05-03"),
                    "before_value": "100",
                    "after_value": "300",
                },
                {
                    "uscc": "E1",
                    "change_kind": "registered_capital",
                    "change_date": d("2026-11-15"),
                    "before_value": "300",
                    "after_value": "500",
                },
            ],
        },
    )
    f = build(folder)
    assert set(f) == {"E1", "E2", "E3"}  # E4 deregistered by then, E5 not yet established
    e1, e2, e3 = f["E1"], f["E2"], f["E3"]
    assert e1["age_years"] == pytest.approx(days("2020-10-31") / 365.25)
    assert e1["young_3y"] == 0 and e2["young_3y"] == 1
    assert e1["registered_capital"] == 300.0
    assert e1["registered_capital_log"] == pytest.approx(math.log(301))
    assert e1["paid_in_ratio"] == pytest.approx(0.5)
    assert e2["paid_in_ratio"] is None  # zero capital: no ratio, not a zero
    assert (e1["capital_1yi_plus"], e3["capital_1yi_plus"]) == (0, 1)
    assert (e1["sector_food"], e1["sector_drug"], e1["sector_special_equipment"]) == (1, 1, 0)
    assert (e1["sector_tag_count"], e2["sector_tag_count"]) == (2, 0)
    assert (e1["revoked"], e3["revoked"]) == (0, 1)
    assert (e1["industry_division"], e1["city"], e1["legal_form"]) == (
        "52",
        "4401",
        "llc_natural_persons",
    )
    assert e1["established_date"] == d("2020-10-31")

    earlier = build(folder, "2025-04")
    assert set(earlier) == {"E1", "E2", "E3", "E4"}
    assert earlier["E1"]["registered_capital"] == 100.0
    assert earlier["E3"]["revoked"] == 0


def test_industry_and_county_context_leave_the_enterprise_out(tmp_path) -> None:  # type: ignore[no-untyped-def]
    dr = {"draw_mode": "double_random"}
    folder = write(
        tmp_path,
        {
            "enterprises": [
                *firms("E1", "E2", "E3"),
                {"uscc": "E4", "industry_code": "1310", "division_code": "440111"},
            ],
            "inspections": [
                {"uscc": "E1", "inspection_date": d("2026-03-01"), "problem_found": True, **dr},
                {"uscc": "E1", "inspection_date": d("2025-05-01"), **dr},
                {"uscc": "E2", "inspection_date": d("2026-01-10"), "problem_found": True, **dr},
                {"uscc": "E4", "inspection_date": d("2025-12-01"), **dr},
                # targeted inspections are not a sample: never in the context rates
                {
                    "uscc": "E3",
                    "inspection_date": d("2026-02-01"),
                    "problem_found": True,
                    "draw_mode": "targeted",
                    "trigger": "complaint",
                    "plan_id": None,
                    "stratum": None,
                    "risk_class_at_draw": None,
                    "inclusion_probability": None,
                },
            ],
            "penalties": [{"uscc": "E2", "decision_date": d("2026-06-01")}],
            "abnormal_list": [{"uscc": "E3", "listed_date": d("2026-01-01")}],
        },
    )
    f = build(folder)  # prior strength k = 20 (configs/features.yaml)
    # E1: peers of its industry: E2 1/1, E3 0/0; province without E1: 1 problem in 2
    assert f["E1"]["ctx_industry_problem_rate"] == pytest.approx((1 + 20 * 0.5) / (1 + 20))
    assert f["E1"]["ctx_division_problem_rate"] == pytest.approx((1 + 20 * 0.5) / (1 + 20))
    # E3: peers E1 1/2 and E2 1/1; province without E3 (nothing of its own): 2 in 4
    assert f["E3"]["ctx_industry_problem_rate"] == pytest.approx((2 + 20 * 0.5) / (3 + 20))
    # E4 alone in its industry: the province rate without it, 2 in 3
    assert f["E4"]["ctx_industry_problem_rate"] == pytest.approx(2 / 3)
    # shares over the other enterprises of the group; alone in a group -> missing
    assert f["E1"]["ctx_industry_penalised_share"] == pytest.approx(0.5)
    assert f["E2"]["ctx_industry_penalised_share"] == 0.0
    assert f["E4"]["ctx_industry_penalised_share"] is None
    assert f["E4"]["ctx_division_abnormal_share"] is None
    assert f["E1"]["ctx_division_abnormal_share"] == pytest.approx(0.5)
    assert f["E3"]["ctx_division_abnormal_share"] == 0.0
    # k = 0: raw leave-one-out rates
    raw = build(folder, cfg=config(context_prior_strength=0))
    assert raw["E1"]["ctx_industry_problem_rate"] == 1.0
    assert raw["E2"]["ctx_industry_problem_rate"] == pytest.approx(0.5)


# ---------------------------------------------------------------------------- dynamic
def _report(uscc: str, year: int, submitted: str, **values: object) -> dict:
    figures = {
        "revenue": 100.0,
        "total_assets": 50.0,
        "tax_paid": 2.0,
        "employees": 10,
        "net_profit": 3.0,
        "social_insurance_count": 4,
    }
    return {"uscc": uscc, "report_year": year, "submitted_date": d(submitted), **figures, **values}


def test_annual_reports_and_dormancy(tmp_path) -> None:  # type: ignore[no-untyped-def]
    zero = {"revenue": 0.0, "total_assets": 0.0, "tax_paid": 0.0, "employees": 0}
    folder = write(
        tmp_path,
        {
            "enterprises": [
                {"uscc": "E1", "established_date": d("2019-05-01")},
                {"uscc": "E2", "established_date": d("2026-02-01")},
                {"uscc": "E3", "established_date": d("2010-01-01"), "registered_capital": 20000.0},
                {"uscc": "E4", "established_date": d("2010-01-01")},
                {"uscc": "E5", "established_date": d("2010-01-01")},
            ],
            "annual_reports": [
                _report("E1", 2023, "2024-05-01"),
                _report("E1", 2024, "2025-08-01"),  # late: after 2025-06-30
                _report("E3", 2024, "2025-04-01"),
                _report("E3", 2025, "2026-03-01", **zero),
                _report("E4", 2024, "2025-04-01", net_profit=-5.0),
                _report("E4", 2025, "2026-05-01", revenue=150.0),
                # filed in time for the month but received after it: not known yet
                {**_report("E5", 2025, "2026-10-30"), "received_date": d("2026-11-03")},
            ],
            "changes": [
                {
                    "uscc": "E1",
                    "change_kind": "address",
                    "change_date": d("2026-02-01"),
                    "before_value": "AD-E1",
                    "after_value": "AD-E1b",
                }
            ],
        },
    )
    f = build(folder)
    e1, e2, e3, e4, e5 = (f[k] for k in ("E1", "E2", "E3", "E4", "E5"))
    assert (e1["ar_last_due_missing"], e1["ar_missing_years"], e1["ar_late_3y"]) == (1, 1, 1)
    assert e1["ar_latest_year"] == 2024
    # E2 owes no report yet: missing, not "filed"
    assert (e2["ar_last_due_missing"], e2["ar_missing_years"], e2["ar_late_3y"]) == (None, None, 0)
    assert e2["ar_all_zero"] is None and e2["ar_revenue_log"] is None
    assert (e3["ar_last_due_missing"], e3["ar_missing_years"]) == (0, 0)
    assert (e3["ar_all_zero"], e3["ar_big_capital_zero"], e3["ar_tax_zero"]) == (1, 1, 1)
    assert e3["ar_revenue_growth"] == pytest.approx(-1.0)
    assert (e4["ar_all_zero"], e4["ar_big_capital_zero"], e4["ar_loss"]) == (0, 0, 0)
    assert e4["ar_revenue_growth"] == pytest.approx(0.5)
    assert e4["ar_insured_share"] == pytest.approx(0.4)
    assert e4["ar_revenue_log"] == pytest.approx(math.log(151))
    # E5: nothing known; 3 due years missing at most (lookback in config)
    assert (e5["ar_last_due_missing"], e5["ar_missing_years"]) == (1, 3)
    # dormancy: E3 (all-zero report, no change) and E5 (no report, no change); E1 changed lately
    assert [f[k]["dormant"] for k in ("E1", "E2", "E3", "E4", "E5")] == [0, 0, 1, 0, 1]
    # capped at 36 months: beyond it the figure would measure how far the records reach back
    assert days("2010-01-01") / 30.4375 > 36
    assert e5["months_since_activity"] == pytest.approx(36.0)
    assert e1["months_since_activity"] == pytest.approx(days("2026-02-01") / 30.4375)
    assert e4["months_since_activity"] == pytest.approx(days("2026-05-01") / 30.4375)


def test_registration_changes(tmp_path) -> None:  # type: ignore[no-untyped-def]
    def chg(kind: str, day: str, **kw: object) -> dict:
        return {"uscc": "E1", "change_kind": kind, "change_date": d(day), **kw}

    folder = write(
        tmp_path,
        {
            "enterprises": firms("E1", "E2"),
            "changes": [
                chg("legal_representative", "2026-02-01"),
                chg("legal_representative", "2025-06-01"),  # in 36 months, not 12
                chg("legal_representative", "2026-11-02"),  # after the month
                chg("address", "2026-10-31", before_value="AD-E1", after_value="AD-X"),  # last day
                chg("registered_capital", "2026-03-01", before_value="300", after_value="200"),
                chg("registered_capital", "2026-04-01", before_value="200", after_value="300"),
                chg("name", "2024-01-01"),
                chg("shareholders", "2026-10-15", received_date=d("2026-11-01")),  # not received
            ],
        },
    )
    e1, e2 = (build(folder)[k] for k in ("E1", "E2"))
    assert (e1["chg_legal_rep_12m"], e1["chg_legal_rep_36m"], e1["chg_address_12m"]) == (1, 2, 1)
    assert (e1["chg_capital_down_12m"], e1["chg_name_36m"], e1["chg_shareholders_12m"]) == (1, 1, 0)
    assert (e1["chg_total_12m"], e1["chg_total_36m"], e1["chg_days_since_last"]) == (4, 6, 0)
    assert (e2["chg_total_12m"], e2["chg_days_since_last"]) == (0, None)


def test_licences_and_pledges(tmp_path) -> None:  # type: ignore[no-untyped-def]
    def lic(uscc: str, kind: str, issued: str, until: str, **kw: object) -> dict:
        return {
            "uscc": uscc,
            "licence_kind": kind,
            "issued_date": d(issued),
            "valid_until": d(until),
            **kw,
        }

    folder = write(
        tmp_path,
        {
            "enterprises": [
                {"uscc": "E1", "sector_tags": "catering"},
                {"uscc": "E2", "sector_tags": "catering", "registered_capital": 0.0},
                {"uscc": "E3", "sector_tags": "special_equipment"},
                {"uscc": "E4"},
                {"uscc": "E5", "sector_tags": "drugs"},
                {"uscc": "E6", "sector_tags": "catering"},
                {"uscc": "E7", "sector_tags": "drugs"},
            ],
            "licences": [
                lic("E1", "food_business", "2021-09-01", "2026-08-31"),  # lapsed, not renewed
                lic("E2", "food_business", "2021-08-01", "2026-07-31"),
                lic("E2", "food_business", "2026-07-20", "2031-07-19"),  # renewed
                lic(
                    "E3",
                    "special_equipment_use",
                    "2020-01-01",
                    "2030-01-01",
                    revoked_date=d("2025-01-10"),
                ),
                lic("E5", "drug_production", "2021-12-16", "2026-12-15"),  # expires within 3 months
                # renewed early: the new licence is exported as a row beside the old, still valid one
                lic("E7", "drug_production", "2021-12-16", "2026-12-15"),
                lic("E7", "drug_production", "2026-10-10", "2031-12-15"),
                lic(
                    "E6", "food_business", "2026-10-20", "2031-10-19", received_date=d("2026-11-02")
                ),  # not received by the month end
            ],
            "pledges": [
                {
                    "uscc": "E1",
                    "pledge_kind": "equity",
                    "registered_date": d("2026-01-01"),
                    "amount": 50.0,
                },
                {
                    "uscc": "E1",
                    "pledge_kind": "chattel",
                    "registered_date": d("2024-01-01"),
                    "amount": 30.0,
                    "released_date": d("2025-01-01"),
                },
                {
                    "uscc": "E1",
                    "pledge_kind": "ip",
                    "registered_date": d("2026-05-01"),
                    "amount": 20.0,
                    "released_date": d("2026-11-10"),
                },  # released after the month
            ],
        },
    )
    f = build(folder)
    lic_cols = (
        "lic_valid_count",
        "lic_lapsed_12m",
        "lic_revoked_36m",
        "lic_expiring_3m",
        "lic_unlicensed_sector",
    )
    assert [f["E1"][c] for c in lic_cols] == [0, 1, 0, 0, 1]
    assert [f["E2"][c] for c in lic_cols] == [1, 0, 0, 0, 0]
    assert [f["E3"][c] for c in lic_cols] == [0, 0, 1, 0, 1]
    assert [f["E4"][c] for c in lic_cols] == [0, 0, 0, 0, None]  # no licensed sector
    assert [f["E5"][c] for c in lic_cols] == [1, 0, 0, 1, 0]
    assert f["E6"]["lic_unlicensed_sector"] == 1
    # a kind expires when its latest valid licence does: E7's renewal ends the warning
    assert [f["E7"][c] for c in lic_cols] == [1, 0, 0, 0, 0]
    e1 = f["E1"]
    assert (e1["pledge_active_count"], e1["pledge_new_12m"], e1["pledge_equity_active"]) == (
        2,
        2,
        1,
    )
    assert e1["pledge_amount_ratio"] == pytest.approx(0.7)
    assert f["E2"]["pledge_amount_ratio"] is None  # zero capital
    assert (f["E3"]["pledge_amount_ratio"], f["E3"]["pledge_active_count"]) == (0.0, 0)


# ---------------------------------------------------------------------------- supervision
def test_penalties_publication_periods_and_repair(tmp_path) -> None:  # type: ignore[no-untyped-def]
    def pen(day: str, **kw: object) -> dict:
        return {"uscc": "E1", "decision_date": d(day), **kw}

    folder = write(
        tmp_path,
        {
            "enterprises": firms("E1", "E2"),
            "penalties": [
                pen("2024-01-10", amount=5.0, cause="food_safety"),
                pen("2023-09-01", amount=9.0),  # more than 3 years old
                pen("2026-09-15", amount=0.1, minor=True, penalty_kind="warning", cause="pricing"),
                pen("2026-06-01", amount=0.2, minor=True),  # minor, more than 3 months old
                pen(
                    "2026-05-01",
                    amount=3.0,
                    penalty_kind="suspension",
                    cause="product_quality",
                    repaired_date=d("2026-08-01"),
                ),  # repaired
                pen("2026-10-20", amount=8.0, received_date=d("2026-11-05")),  # not received
                pen(
                    "2026-01-05",
                    amount=2.0,
                    penalty_kind="business_licence_revocation",
                    cause="unlicensed",
                ),
            ],
        },
    )
    f = build(folder)
    e1 = f["E1"]
    assert (e1["pen_count_12m"], e1["pen_count_36m"]) == (2, 3)
    assert e1["pen_amount_12m"] == pytest.approx(2.1)
    assert e1["pen_amount_36m"] == pytest.approx(7.1)
    assert e1["pen_max_amount_36m"] == 5.0
    assert (e1["pen_heavy_36m"], e1["pen_food_drug_36m"], e1["pen_quality_36m"]) == (1, 1, 0)
    assert (e1["pen_commercial_36m"], e1["pen_licensing_36m"]) == (1, 1)
    assert e1["pen_days_since_last"] == days("2026-09-15")
    assert (e1["pen_last_date"], e1["pen_last_cause"]) == (d("2026-09-15"), "pricing")
    e2 = f["E2"]
    assert (e2["pen_count_36m"], e2["pen_amount_36m"], e2["pen_days_since_last"]) == (0, 0, None)

    # at 2026-07 the repaired penalty still counts and the June minor one is within 3 months
    july = build(folder, "2026-07")["E1"]
    assert (july["pen_count_12m"], july["pen_heavy_36m"], july["pen_quality_36m"]) == (3, 2, 1)


def test_abnormal_and_serious_lists(tmp_path) -> None:  # type: ignore[no-untyped-def]
    folder = write(
        tmp_path,
        {
            "enterprises": firms("E1", "E2", "E3"),
            "abnormal_list": [
                {"uscc": "E1", "reason": "annual_report", "listed_date": d("2025-07-01")},
                {
                    "uscc": "E1",
                    "reason": "unreachable",
                    "listed_date": d("2024-03-01"),
                    "removed_date": d("2024-09-01"),
                    "removal_reason": "reachable",
                    "removal_received_date": d("2024-09-05"),
                },
                # removed on paper, but the removal only reached the bureau in November
                {
                    "uscc": "E2",
                    "reason": "unreachable",
                    "listed_date": d("2026-01-01"),
                    "removed_date": d("2026-10-20"),
                    "removal_reason": "reachable",
                    "removal_received_date": d("2026-11-03"),
                },
                {
                    "uscc": "E3",
                    "reason": "concealment",
                    "listed_date": d("2026-10-30"),
                    "received_date": d("2026-11-02"),
                },
            ],
            "serious_dishonest_list": [
                {"uscc": "E1", "listed_date": d("2025-01-01")},
                {
                    "uscc": "E2",
                    "listed_date": d("2024-01-01"),
                    "removed_date": d("2025-06-01"),
                    "removal_reason": "credit_repair",
                    "removal_received_date": d("2025-06-02"),
                },
            ],
        },
    )
    f = build(folder)
    e1, e2, e3 = f["E1"], f["E2"], f["E3"]
    assert (e1["abn_listed"], e1["abn_listed_annual_report"], e1["abn_listed_unreachable"]) == (
        1,
        1,
        0,
    )
    assert e1["abn_months_listed"] == pytest.approx(days("2025-07-01") / 30.4375)
    assert (e1["abn_count_36m"], e1["abn_removed_36m"]) == (2, 1)
    assert (e1["abn_listed_since"], e1["abn_reason"]) == (d("2025-07-01"), "annual_report")
    assert (e2["abn_listed"], e2["abn_listed_unreachable"], e2["abn_removed_36m"]) == (1, 1, 0)
    assert (e3["abn_listed"], e3["abn_count_36m"], e3["abn_months_listed"]) == (0, 0, None)
    assert (e1["sd_listed"], e1["sd_count_ever"], e1["sd_listed_since"]) == (1, 1, d("2025-01-01"))
    assert (e2["sd_listed"], e2["sd_count_ever"], e2["sd_listed_since"]) == (0, 1, None)
    assert (e3["sd_listed"], e3["sd_count_ever"]) == (0, 0)


def test_inspections_sampling_and_complaints(tmp_path) -> None:  # type: ignore[no-untyped-def]
    targeted = {
        "draw_mode": "targeted",
        "trigger": "complaint",
        "plan_id": None,
        "stratum": None,
        "risk_class_at_draw": None,
        "inclusion_probability": None,
    }
    folder = write(
        tmp_path,
        {
            "enterprises": firms("E1", "E2"),
            "inspections": [
                {
                    "uscc": "E1",
                    "inspection_date": d("2026-03-01"),
                    "problem_found": True,
                    "result": "case_filed",
                    "problem_category": "food_safety",
                },
                {"uscc": "E1", "inspection_date": d("2025-05-01")},
                {
                    "uscc": "E1",
                    "inspection_date": d("2023-06-01"),
                    "problem_found": True,
                },  # > 36 months
                {
                    "uscc": "E1",
                    "inspection_date": d("2026-10-25"),
                    "problem_found": True,
                    "received_date": d("2026-11-02"),
                },  # not received
                {
                    "uscc": "E1",
                    "inspection_date": d("2026-04-01"),
                    "problem_found": True,
                    "result": "unreachable",
                    "problem_category": "address_unreachable",
                    **targeted,
                },
            ],
            "product_sampling": [
                {"uscc": "E1", "sample_date": d("2026-01-01"), "result": "fail"},
                {"uscc": "E1", "sample_date": d("2025-01-01")},
                {"uscc": "E1", "sample_date": d("2024-01-01")},
            ],
            "complaints": [
                {
                    "uscc": "E1",
                    "complaint_date": d("2026-09-01"),
                    "kind": "report",
                    "category": "food",
                    "substantiated": True,
                },
                {"uscc": "E1", "complaint_date": d("2026-02-01")},
                {
                    "uscc": "E1",
                    "complaint_date": d("2025-11-15"),
                    "category": "safety",
                    "substantiated": False,
                },
                {"uscc": "E1", "complaint_date": d("2025-03-01")},
                {"uscc": "E1", "complaint_date": d("2026-10-31"), "received_date": d("2026-11-01")},
            ],
        },
    )
    f = build(folder)
    e1, e2 = f["E1"], f["E2"]
    assert (e1["insp_count_36m"], e1["insp_problems_36m"], e1["insp_targeted_36m"]) == (3, 2, 1)
    assert e1["insp_problem_rate_36m"] == pytest.approx(2 / 3)
    assert (e1["insp_last_problem"], e1["insp_last_category"]) == (1, "address_unreachable")
    assert (e1["insp_unreachable_36m"], e1["insp_days_since_last"]) == (1, days("2026-04-01"))
    assert e1["insp_last_date"] == d("2026-04-01")
    assert (e2["insp_count_36m"], e2["insp_problem_rate_36m"], e2["insp_last_problem"]) == (
        0,
        None,
        None,
    )
    assert (e1["samp_count_36m"], e1["samp_fail_36m"]) == (3, 1)
    assert e1["samp_fail_rate_36m"] == pytest.approx(1 / 3)
    assert (e2["samp_count_36m"], e2["samp_fail_rate_36m"]) == (0, None)
    assert (e1["cmp_count_3m"], e1["cmp_count_12m"], e1["cmp_count_prev_12m"]) == (1, 3, 1)
    assert e1["cmp_growth_12m"] == pytest.approx((3 - 1) / (1 + 1))
    assert (e1["cmp_substantiated_12m"], e1["cmp_reports_12m"], e1["cmp_safety_12m"]) == (1, 1, 2)
    assert (e2["cmp_count_12m"], e2["cmp_growth_12m"]) == (0, 0.0)


# ---------------------------------------------------------------------------- relations
def _related_province(tmp_path, links: bool):  # type: ignore[no-untyped-def]
    since = d("2020-01-01")

    def person(pid: str, uscc: str, role: str, start: object = since, **kw: object) -> dict:
        return {"person_id": pid, "uscc": uscc, "role": role, "from_date": start, **kw}

    tables = {
        "enterprises": [
            *firms("E1", "E2", "E3", address_id="A1"),
            {"uscc": "E4", "address_id": "A2"},
            {"uscc": "E5", "address_id": "A3"},
            {"uscc": "E6", "deregistered_date": d("2026-01-01"), "status": "deregistered"},
        ],
        "persons": [
            person("P1", "E1", "legal_representative"),
            person("P1", "E2", "legal_representative"),
            person("P1", "E6", "legal_representative"),  # E6 is deregistered: not a relation
            person("P1", "E1", "shareholder", share_pct=30.0),  # two roles, one person
            person("P2", "E1", "shareholder", share_pct=70.0),
            person("P2", "E4", "shareholder", share_pct=100.0),
            person("P3", "E3", "legal_representative", to_date=d("2026-05-01")),  # left
            person("P4", "E3", "legal_representative", d("2026-05-01")),
            person("P5", "E3", "director", d("2026-10-10"), received_date=d("2026-11-01")),
        ],
        "abnormal_list": [{"uscc": "E4", "listed_date": d("2026-01-01")}],
        "serious_dishonest_list": [{"uscc": "E5", "listed_date": d("2025-01-01")}],
        "penalties": [{"uscc": "E2", "decision_date": d("2026-08-01")}],
    }
    if links:
        tables["enterprise_links"] = [
            {
                "uscc": "E5",
                "linked_uscc": "E1",
                "link_kind": "investment",
                "share_pct": 60.0,
                "from_date": d("2022-01-01"),
            },
        ]
    return write(tmp_path, tables)


def test_related_parties_persons_addresses_and_links(tmp_path) -> None:  # type: ignore[no-untyped-def]
    f = build(_related_province(tmp_path, links=True), cfg=config(address_cluster_size=3))
    e1, e2, e3, e4, e5 = (f[k] for k in ("E1", "E2", "E3", "E4", "E5"))
    assert (e1["rel_persons"], e1["rel_shareholders"]) == (2, 2)
    assert (e1["rel_legal_rep_other_firms"], e1["rel_person_max_other_firms"]) == (1, 1)
    assert e1["rel_legal_rep_tenure_years"] == pytest.approx(days("2020-01-01") / 365.25)
    # E1 is related to E2 (P1), E4 (P2) and E5 (investor): itself and deregistered E6 never
    assert (e1["rel_linked_firms"], e1["rel_risky_firms"]) == (3, 3)
    assert e1["rel_abnormal_share"] == pytest.approx(1 / 3)
    assert e1["rel_serious_share"] == pytest.approx(1 / 3)
    assert e1["rel_penalised_share"] == pytest.approx(1 / 3)
    assert e1["rel_revoked_share"] == 0.0
    assert (e2["rel_linked_firms"], e2["rel_penalised_share"], e2["rel_abnormal_share"]) == (
        1,
        0.0,
        0.0,
    )
    # E3: only its current legal representative; nobody shared
    assert (e3["rel_persons"], e3["rel_legal_rep_other_firms"], e3["rel_linked_firms"]) == (1, 0, 0)
    assert e3["rel_abnormal_share"] is None
    assert e3["rel_legal_rep_tenure_years"] == pytest.approx(days("2026-05-01") / 365.25)
    assert (
        e5["rel_persons"],
        e5["rel_legal_rep_other_firms"],
        e5["rel_person_max_other_firms"],
    ) == (0, None, None)
    # address A1 holds E1, E2, E3 (cluster threshold 3 here); E4 is alone at A2
    assert (e1["addr_firm_count"], e1["addr_cluster"], e1["addr_abnormal_share"]) == (3, 1, 0.0)
    assert (e4["addr_firm_count"], e4["addr_cluster"], e4["addr_abnormal_share"]) == (1, 0, None)
    # investments: E5 holds 60% of E1 and is seriously dishonest
    assert (e1["investor_firm_count"], e1["parent_risky"], e5["inv_out_count"]) == (1, 1, 1)
    assert (e5["parent_risky"], e4["branch_count"]) == (None, 0)


def test_related_parties_without_the_optional_links_table(tmp_path) -> None:  # type: ignore[no-untyped-def]
    e1 = build(_related_province(tmp_path, links=False))["E1"]
    assert e1["rel_linked_firms"] == 2  # persons only
    assert e1["rel_serious_share"] == 0.0
    assert (e1["inv_out_count"], e1["investor_firm_count"], e1["parent_risky"]) == (
        None,
        None,
        None,
    )


# ---------------------------------------------------------------------------- social
def _social_province(tmp_path, optional: bool):  # type: ignore[no-untyped-def]
    tables: dict[str, list[dict]] = {"enterprises": firms("E1", "E2")}
    if optional:
        tables["judicial"] = [
            {"uscc": "E1", "kind": "enforcement", "filed_date": d("2025-01-01"), "amount": 100.0},
            {
                "uscc": "E1",
                "kind": "enforcement",
                "filed_date": d("2024-01-01"),
                "amount": 50.0,
                "closed_date": d("2025-01-01"),
            },
            {"uscc": "E1", "kind": "dishonest_debtor", "filed_date": d("2026-03-01")},
            {
                "uscc": "E1",
                "kind": "equity_freeze",
                "filed_date": d("2026-01-01"),
                "closed_date": d("2026-11-10"),
            },
            {
                "uscc": "E1",
                "kind": "enforcement",
                "filed_date": d("2026-10-29"),
                "amount": 7.0,
                "received_date": d("2026-11-05"),
            },
        ]
        tables["social"] = [
            {
                "uscc": "E1",
                "indicator": "tax_credit_rating",
                "value": "B",
                "eval_date": d("2025-04-01"),
            },
            {
                "uscc": "E1",
                "indicator": "tax_credit_rating",
                "value": "D",
                "eval_date": d("2026-04-01"),
            },
            {
                "uscc": "E1",
                "indicator": "news_sentiment",
                "value": "negative",
                "eval_date": d("2026-05-01"),
            },
            {
                "uscc": "E1",
                "indicator": "news_sentiment",
                "value": "negative",
                "eval_date": d("2025-01-01"),
            },
            {
                "uscc": "E1",
                "indicator": "platform_rating",
                "value": "4.5",
                "score": 4.5,
                "eval_date": d("2026-02-01"),
            },
            {
                "uscc": "E1",
                "indicator": "platform_rating",
                "value": "3.0",
                "score": 3.0,
                "eval_date": d("2026-06-01"),
            },
            {
                "uscc": "E2",
                "indicator": "tax_credit_rating",
                "value": "A",
                "eval_date": d("2026-04-01"),
            },
        ]
    return write(tmp_path, tables)


def test_judicial_and_social_evaluation(tmp_path) -> None:  # type: ignore[no-untyped-def]
    f = build(_social_province(tmp_path, optional=True))
    e1, e2 = f["E1"], f["E2"]
    assert (e1["jud_enforcement_open"], e1["jud_enforcement_amount"]) == (1, 100.0)
    assert (e1["jud_dishonest_debtor"], e1["jud_equity_frozen"], e1["jud_cases_36m"]) == (1, 1, 4)
    assert (e1["jud_days_since_last"], e1["jud_last_date"]) == (days("2026-03-01"), d("2026-03-01"))
    assert (
        e1["tax_rating_level"],
        e1["tax_rating"],
        e1["tax_rating_d"],
        e1["tax_rating_down"],
    ) == (1, "D", 1, 1)
    assert (e1["news_negative_12m"], e1["platform_rating"], e1["platform_rating_low"]) == (
        1,
        3.0,
        1,
    )
    assert e1["platform_ratings_12m"] == 2
    assert (e2["tax_rating_level"], e2["tax_rating_d"], e2["tax_rating_down"]) == (5, 0, None)
    assert (e2["jud_enforcement_open"], e2["jud_days_since_last"], e2["platform_rating"]) == (
        0,
        None,
        None,
    )
    assert e2["news_negative_12m"] == 0
