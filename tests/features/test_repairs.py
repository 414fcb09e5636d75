"""Credit repair and commitments (issue 20, item 7), point in time.

A repair counts from the date its decision was received, if granted; a revoked repair counts
again from the date the revocation was received (a month before still sees it repaired); a
refusal leaves the record counting. Penalties' own ``repaired_date`` is still honoured (a
bureau that exports it on the penalty), unless a revocation of a repair of the penalty is
known. Listings (abnormal, serious) count again once a revocation of their repair is known.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from features.definitions import BY_NAME
from pipelines.render.names import Names
from pipelines.report.sentences import sentence
from tests.features.tiny import build, d, write

FIRMS = [{"uscc": u} for u in ("E1", "E2", "E3", "E4", "E5", "E6")]
# tiny numbers penalties P00000, P00001 ... in the order given
PENALTIES = [
    {"uscc": "E1", "decision_date": d("2025-06-01")},  # P00000: repaired, received 2026-03-10
    {"uscc": "E2", "decision_date": d("2025-06-01")},  # P00001: repair refused
    {"uscc": "E3", "decision_date": d("2025-06-01")},  # P00002: repaired, revoked
    {  # P00003: repaired_date on the penalty, its repair (no record of it) later revoked
        "uscc": "E4",
        "decision_date": d("2025-06-01"),
        "repaired_date": d("2026-01-01"),
    },
    {  # P00004: a bureau that delivers both: repaired_date on the penalty AND the repair
        "uscc": "E6",
        "decision_date": d("2025-06-01"),
        "repaired_date": d("2026-01-01"),
    },
]
REPAIRS = [
    {
        "uscc": "E1",
        "decision_no": "P00000",
        "applied_date": d("2026-02-01"),
        "decided_date": d("2026-03-01"),
        "received_date": d("2026-03-10"),
    },
    {
        "uscc": "E2",
        "decision_no": "P00001",
        "decision": "refused",
        "refusal_reason": "obligations_unmet",
        "decided_date": d("2026-03-01"),
    },
    {
        "uscc": "E3",
        "decision_no": "P00002",
        "decided_date": d("2026-01-01"),
        "revoked_date": d("2026-05-20"),
        "revocation_reason": "false_materials",
        "revocation_received_date": d("2026-06-05"),
    },
    {
        "uscc": "E4",
        "decision_no": "P00003",
        "decided_date": d("2026-01-01"),
        "revoked_date": d("2026-04-01"),
        "revocation_reason": "commitment_broken",
        "revocation_received_date": d("2026-04-02"),
    },
    {  # E6: decided 2026-01-01 (the penalty's repaired_date), received only 2026-03-10
        "uscc": "E6",
        "decision_no": "P00004",
        "applied_date": d("2025-12-01"),
        "decided_date": d("2026-01-01"),
        "received_date": d("2026-03-10"),
    },
    {  # E5's serious listing removed by repair, the repair revoked
        "uscc": "E5",
        "target_table": "serious_dishonest_list",
        "decision_no": None,
        "listing_reason": "major_violation",
        "listed_date": d("2024-01-01"),
        "decided_date": d("2025-03-01"),
        "revoked_date": d("2026-02-01"),
        "revocation_reason": "false_materials",
        "revocation_received_date": d("2026-02-03"),
    },
]
SERIOUS = [
    {
        "uscc": "E5",
        "reason": "major_violation",
        "listed_date": d("2024-01-01"),
        "removed_date": d("2025-03-01"),
        "removal_reason": "credit_repair",
        "removal_received_date": d("2025-03-05"),
    }
]
COMMITMENTS = [
    {"uscc": "E1", "kind": "notification_approval", "made_date": d("2025-01-01")},
    {
        "uscc": "E2",
        "kind": "credit_repair",
        "made_date": d("2025-02-01"),
        "kept": False,
        "assessed_date": d("2026-01-20"),
        "assessment_received_date": d("2026-02-02"),
    },
    {
        "uscc": "E2",
        "kind": "voluntary",
        "made_date": d("2025-02-01"),
        "kept": True,
        "assessed_date": d("2025-08-01"),
        "assessment_received_date": d("2025-08-03"),
    },
]


def _province(tmp_path: Path, repairs: bool = True) -> Path:
    data: dict[str, list[dict[str, Any]]] = {
        "enterprises": FIRMS,
        "penalties": PENALTIES,
        "serious_dishonest_list": SERIOUS,
        "commitments": COMMITMENTS,
    }
    if repairs:
        data["credit_repairs"] = REPAIRS
    return write(tmp_path / ("with" if repairs else "without"), data)


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _province(tmp_path_factory.mktemp("repairs"))


def _pen(folder: Path, month: str) -> dict[str, float]:
    return {u: r["pen_count_36m"] for u, r in build(folder, month).items()}


def test_a_granted_repair_counts_from_the_date_its_decision_was_received(folder: Path) -> None:
    # decided 2026-03-01, received 2026-03-10: February and March still count the penalty
    # (the decision was not received by 2026-02-28; at 2026-03-31 it was)
    assert _pen(folder, "2026-02")["E1"] == 1
    assert _pen(folder, "2026-03")["E1"] == 0
    got = build(folder, "2026-03")["E1"]
    assert got["rep_granted_36m"] == 1 and got["rep_refused_36m"] == 0


def test_a_refused_repair_leaves_the_penalty_counting(folder: Path) -> None:
    row = build(folder, "2026-03")["E2"]
    assert row["pen_count_36m"] == 1
    assert row["rep_refused_36m"] == 1 and row["rep_granted_36m"] == 0
    assert row["rep_last_refusal_reason"] == "obligations_unmet"
    assert build(folder, "2026-02")["E2"]["rep_refused_36m"] == 0  # decided in March


def test_a_revoked_repair_counts_again_from_the_revocation_received(folder: Path) -> None:
    # repaired from 2026-01; revoked 2026-05-20 but received 2026-06-05: May still repaired
    assert _pen(folder, "2025-12")["E3"] == 1
    assert _pen(folder, "2026-01")["E3"] == 0
    may = build(folder, "2026-05")["E3"]
    assert may["pen_count_36m"] == 0 and may["rep_revoked_36m"] == 0
    june = build(folder, "2026-06")["E3"]
    assert june["pen_count_36m"] == 1 and june["rep_revoked_36m"] == 1
    assert june["rep_granted_36m"] == 0
    assert june["rep_last_revocation_reason"] == "false_materials"


def test_repaired_date_on_the_penalty_is_honoured_until_a_revocation_is_known(
    folder: Path, tmp_path: Path
) -> None:
    # E4's penalty carries repaired_date 2026-01-01; the repair table revokes it (received
    # 2026-04-02)
    assert _pen(folder, "2026-02")["E4"] == 0
    assert _pen(folder, "2026-04")["E4"] == 1
    # without the repair table: repaired_date alone, as before; repair features unknown
    without = build(_province(tmp_path, repairs=False), "2026-04")
    assert without["E4"]["pen_count_36m"] == 0 and without["E3"]["pen_count_36m"] == 1
    assert without["E1"]["rep_granted_36m"] is None and without["E1"]["rep_revoked_36m"] is None


def test_a_repair_the_table_records_counts_from_its_receipt_not_the_penalty_date(
    folder: Path,
) -> None:
    # the penalty says repaired 2026-01-01; the repair table says the decision was received
    # 2026-03-10: the record wins, so January and February still count the penalty
    assert _pen(folder, "2026-01")["E6"] == 1
    assert _pen(folder, "2026-02")["E6"] == 1
    assert _pen(folder, "2026-03")["E6"] == 0


def test_a_listing_whose_repair_is_revoked_is_listed_again(folder: Path) -> None:
    assert build(folder, "2025-12")["E5"]["sd_listed"] == 0  # removed by repair in 2025-03
    assert build(folder, "2026-01")["E5"]["sd_listed"] == 0  # revoked 2026-02-01
    feb = build(folder, "2026-02")["E5"]
    assert feb["sd_listed"] == 1 and feb["rep_revoked_36m"] == 1


def test_commitments_count_when_their_assessment_is_received(folder: Path) -> None:
    jan = build(folder, "2026-01")
    assert jan["E2"]["com_made_36m"] == 2
    assert jan["E2"]["com_kept_36m"] == 1 and jan["E2"]["com_broken_36m"] == 0
    feb = build(folder, "2026-02")  # assessed 2026-01-20, received 2026-02-02
    assert feb["E2"]["com_broken_36m"] == 1
    assert feb["E1"]["com_made_36m"] == 1 and feb["E1"]["com_broken_36m"] == 0
    assert feb["E3"]["com_made_36m"] == 0  # no commitment: a true zero


def test_granted_refused_and_revoked_repairs_read_correctly(folder: Path) -> None:
    names = Names()
    rows = build(folder, "2026-06")
    e1, e2, e3 = rows["E1"], rows["E2"], rows["E3"]
    assert sentence(BY_NAME["rep_granted_36m"], e1, names, "zh") == (
        "近三年1项失信信息已完成信用修复"
    )
    assert sentence(BY_NAME["rep_refused_36m"], e2, names, "zh") == (
        "近三年1次申请信用修复被决定不予修复（最近一次原因：未履行行政处罚决定或未消除危害后果和不良影响）"
    )
    assert sentence(BY_NAME["rep_revoked_36m"], e3, names, "en") == (
        "1 credit repairs revoked in the last 3 years (latest reason: the repair was "
        "obtained by concealment or falsification)"
    )
    # the revoked repair's penalty is back among the penalties
    assert sentence(BY_NAME["pen_count_36m"], e3, names, "zh").startswith(
        "近三年受到行政处罚1次，最近一次在2025-06-01"
    )
    # a count of 0 is not a fact: no sentence claims a refusal that did not happen
    assert sentence(BY_NAME["rep_refused_36m"], e1, names, "zh") == "近36个月信用修复被拒：0"


def test_the_penalty_repair_remedy_skips_repaired_and_revoked_penalties() -> None:
    import pandas as pd

    from features.engine import Window
    from features.whatif import RemedyRules, _rows
    from tests.features.tiny import config

    def frame(rows: list[dict[str, Any]], table: str) -> pd.DataFrame:
        from contract.tables import TABLES
        from tests.features.tiny import _defaults

        cols = TABLES[table].column_names
        return pd.DataFrame([_defaults(table, r, i) for i, r in enumerate(rows)]).reindex(
            columns=cols
        )

    pens = frame(PENALTIES, "penalties")
    w = Window("2026-10", config())
    rules = RemedyRules(penalty_repair_months=12)
    alone = _rows({"penalties": pens}, "penalty_repair", w, rules)
    # without the repair table: every penalty without a passed repaired_date (E4's has one)
    assert list(pens.loc[alone.to_numpy(dtype=bool), "uscc"]) == ["E1", "E2", "E3"]
    both = _rows(
        {"penalties": pens, "credit_repairs": frame(REPAIRS, "credit_repairs")},
        "penalty_repair",
        w,
        rules,
    )
    # E1 repaired (in force), E3 and E4 revoked (barred): only E2's refused one is left
    assert list(pens.loc[both.to_numpy(dtype=bool), "uscc"]) == ["E2"]
    # the remedy itself, with the repair table: a granted repair record decided and received
    # at the month end (the penalty's own repaired_date would not count: the table knows it)
    from features.whatif import apply

    tables = {"penalties": pens, "credit_repairs": frame(REPAIRS, "credit_repairs")}
    scenarios = pd.DataFrame({"key": ["S1", "S0"], "uscc": ["E2", "E2"]})
    scenarios["penalty_repair"] = [True, False]
    out = apply(tables, scenarios, w, rules)["credit_repairs"]
    added = out[out["repair_id"].astype(str).str.startswith("WHATIF-")]
    assert list(added["uscc"]) == ["S1"]  # the scenario's key stands in for the enterprise
    row = added.iloc[0]
    assert (row["decision"], row["target_table"], row["decision_no"]) == (
        "granted",
        "penalties",
        "P00001",
    )
    assert row["received_date"] == w.end_date
