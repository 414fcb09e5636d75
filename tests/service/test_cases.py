"""The case pages (service.cases): jurisdiction, history, refer/close with CSRF, audit, export."""

from __future__ import annotations

import datetime as dt
import json
import re

import pandas as pd
import pytest

from pipelines.cases import CaseStore, store_path
from tests.interim import read_table

# the module on one worker, its `env` copied once; modules balance across workers (the
# service base is built once per worker: tests/service/conftest.py)
pytestmark = pytest.mark.xdist_group("service_cases")


@pytest.fixture(scope="module")
def cases(env, tmp_path_factory):  # type: ignore[no-untyped-def]
    """Two problem cases: one inside the county user's division, one outside its city."""
    reg = read_table(env.settings.interim, "enterprises",
                          columns=["uscc", "division_code"])  # fmt: skip
    divisions = reg.drop_duplicates("uscc").set_index("uscc")["division_code"]
    # the store the service reads: <outputs>/cases/cases.sqlite (create_app adds the pages)
    store = CaseStore(store_path(env.settings.outputs))
    store.open_cases(
        pd.DataFrame(
            {
                "inspection_id": ["JCIN", "JCOUT"],
                "uscc": [env.inside, env.outside],
                "inspection_date": [dt.date(2026, 8, 1), dt.date(2026, 9, 1)],
                "problem_found": [True, True],
                "problem_category": ["licence", "=HYPERLINK(1)"],
            }
        ),
        divisions,
    )
    return store


def _csrf(text: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', text).group(1)  # type: ignore[union-attr]


def _audit(env) -> list[dict[str, object]]:  # type: ignore[no-untyped-def]
    lines = env.settings.audit_log.read_text(encoding="utf-8").splitlines()
    return [json.loads(x) for x in lines if x.strip()]


def test_county_sees_its_cases_only_overdue_first(env, cases) -> None:  # type: ignore[no-untyped-def]
    c = env.client("county")
    r = c.get("/cases?as_of=2026-12-31")
    assert r.status_code == 200
    assert "JCIN:licence" in r.text and "JCOUT" not in r.text
    assert "超期" in r.text
    r = c.get("/cases/JCOUT:=HYPERLINK(1)")
    assert r.status_code == 404  # another division's case: as if it did not exist
    assert c.get("/cases/NOPE:licence").status_code == 404
    r = c.get("/cases/JCIN:licence?as_of=2026-12-31")
    assert r.status_code == 200 and "open" in r.text and "超期" in r.text
    assert env.client("province").get("/cases").text.count("/cases/JC") == 2
    assert env.client("analyst").get("/cases").status_code == 403  # no named lists
    actions = [(e.get("action"), e.get("outcome")) for e in _audit(env)]
    assert ("view_cases", "ok") in actions
    assert any(a == "view_case" and o == "refused" for a, o in actions)


def test_refer_and_close_with_csrf_and_audit(env, cases) -> None:  # type: ignore[no-untyped-def]
    c = env.client("county")
    page = c.get("/cases/JCIN:licence")
    token = _csrf(page.text)
    r = c.post("/cases/JCIN:licence/refer", data={"csrf": "wrong", "department": "health",
                                                   "date": "2026-08-05"})  # fmt: skip
    assert r.status_code == 403 and cases.case("JCIN:licence")["state"] == "open"
    r = c.post("/cases/JCIN:licence/refer",
               data={"csrf": token, "department": "health", "date": "2026-08-05"},
               follow_redirects=False)  # fmt: skip
    assert r.status_code == 303 and cases.case("JCIN:licence")["state"] == "referred"
    r = c.post("/cases/JCIN:licence/refer",
               data={"csrf": token, "department": "health", "date": "2026-08-06"})  # fmt: skip
    assert r.status_code == 400 and "referred once" in r.text
    r = c.post("/cases/JCIN:licence/close",
               data={"csrf": token, "disposal": "referred_handled", "date": "2026-09-01"},
               follow_redirects=False)  # fmt: skip
    assert r.status_code == 303
    case = cases.case("JCIN:licence")
    assert (case["state"], case["disposal"]) == ("closed", "referred_handled")
    assert cases.events("JCIN:licence")["by"].tolist()[1:] == ["county", "county"]
    # another division's case cannot be changed either
    r = c.post("/cases/JCOUT:=HYPERLINK(1)/close",
               data={"csrf": token, "disposal": "rectified", "date": "2026-09-02"})  # fmt: skip
    assert r.status_code == 404 and cases.case("JCOUT:=HYPERLINK(1)")["state"] == "open"
    done = [e for e in _audit(env) if e.get("action") in ("case_refer", "case_close")]
    assert len(done) >= 3


def test_export_is_formula_safe_and_audited(env, cases) -> None:  # type: ignore[no-untyped-def]
    r = env.client("province").get("/cases.csv?as_of=2026-12-31")
    assert r.status_code == 200
    body = r.content.decode("utf-8-sig")
    assert "'=HYPERLINK(1)" in body and ",=HYPERLINK" not in body
    assert any(e.get("action") == "export_cases" for e in _audit(env))
