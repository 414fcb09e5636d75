"""The simulator grows credit repairs (granted, refused, a few revoked) and commitments (kept
or broken, broken ones related to risk) that refer to the province's own records."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest


@pytest.fixture(scope="module")
def con(small_province):  # type: ignore[no-untyped-def]
    c = duckdb.connect()
    raw: Path = small_province["raw"]
    for name in ("credit_repairs", "commitments", "penalties", "abnormal_list",
                 "serious_dishonest_list"):  # fmt: skip
        c.execute(f"CREATE VIEW {name} AS SELECT * FROM read_parquet('{raw / name}/*.parquet')")
    truth: Path = small_province["truth"]
    c.execute(
        f"CREATE VIEW truth AS SELECT * FROM read_parquet('{truth / 'enterprises'}/*.parquet')"
    )
    return c


def test_repairs_are_granted_refused_and_revoked(con) -> None:  # type: ignore[no-untyped-def]
    rows = dict(
        con.execute(
            "SELECT CASE WHEN revoked_date IS NOT NULL THEN 'revoked' ELSE decision END, count(*) "
            "FROM credit_repairs GROUP BY 1"
        ).fetchall()
    )
    assert rows.get("granted", 0) > rows.get("refused", 0) > 0, rows
    assert rows.get("revoked", 0) > 0, rows
    targets = {
        t for (t,) in con.execute("SELECT DISTINCT target_table FROM credit_repairs").fetchall()
    }
    assert targets == {"penalties", "abnormal_list", "serious_dishonest_list"}


def test_repairs_name_delivered_records(con) -> None:  # type: ignore[no-untyped-def]
    orphans = con.execute(
        "SELECT count(*) FROM credit_repairs r WHERE target_table = 'penalties' AND NOT EXISTS "
        "(SELECT 1 FROM penalties p WHERE p.uscc = r.uscc AND p.decision_no = r.decision_no)"
    ).fetchone()[0]
    assert orphans == 0
    for table in ("abnormal_list", "serious_dishonest_list"):
        orphans = con.execute(
            f"SELECT count(*) FROM credit_repairs r WHERE target_table = '{table}' AND NOT EXISTS "
            f"(SELECT 1 FROM {table} l WHERE l.uscc = r.uscc AND l.reason = r.listing_reason "
            "AND l.listed_date = r.listed_date)"
        ).fetchone()[0]
        assert orphans == 0, table
    # the bureau of the demo delivers repairs as their own table
    assert con.execute("SELECT count(repaired_date) FROM penalties").fetchone()[0] == 0
    # a granted listing repair is delivered with the listing's removal
    late = con.execute(
        "SELECT count(*) FROM credit_repairs r JOIN serious_dishonest_list l "
        "ON l.uscc = r.uscc AND l.reason = r.listing_reason AND l.listed_date = r.listed_date "
        "WHERE r.decision = 'granted' AND r.received_date <> l.removal_received_date"
    ).fetchone()[0]
    assert late == 0


def test_broken_commitments_come_from_riskier_firms(con) -> None:  # type: ignore[no-untyped-def]
    kinds = {k for (k,) in con.execute("SELECT DISTINCT kind FROM commitments").fetchall()}
    assert kinds == {"notification_approval", "registration", "credit_repair", "voluntary"}
    share, broken, kept = con.execute(
        "SELECT avg(CASE WHEN NOT kept THEN 1.0 ELSE 0 END), "
        "avg(CASE WHEN NOT kept THEN t.z_base END), avg(CASE WHEN kept THEN t.z_base END) "
        "FROM commitments c JOIN truth t USING (uscc) WHERE kept IS NOT NULL"
    ).fetchone()
    assert 0.03 < share < 0.25, share
    assert broken > kept + 0.2, (broken, kept)
