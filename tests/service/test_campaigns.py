"""The page /plans/due (issue 20, item 1): the firms due a visit under their class's yearly
frequency, within the user's jurisdiction, for a sealed month; check modes and departments
of each plan's visits; every view and export audited; the export marked and formula-safe."""

from __future__ import annotations

import io

import pandas as pd
import pytest

from pipelines import chain
from pipelines.render.wording import BANNER_ZH as BANNER
from tests.service.conftest import Env

# the module on one worker, its `env` copied once; modules balance across workers (the
# service base is built once per worker: tests/service/conftest.py)
pytestmark = pytest.mark.xdist_group("service_campaigns")


@pytest.fixture(scope="module")
def cenv(env: Env) -> Env:
    return env  # create_app adds the campaign pages


def _export(c, query: str = "") -> pd.DataFrame:  # type: ignore[no-untyped-def]
    r = c.get(f"/plans/due/export.csv{query}")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    text = r.content.decode("utf-8-sig")
    assert text.startswith(f"# {BANNER}")
    return pd.read_csv(io.StringIO(text), comment=None, skiprows=2, dtype=str)


def test_a_county_sees_its_own_due_firms_only(cenv: Env) -> None:
    due = pd.read_csv(
        cenv.settings.outputs / "2026-10" / "plans" / "routine" / "due.csv",
        dtype=str,
        encoding="utf-8-sig",
    )
    assert len(due) and set(due["class"]) <= {"C", "D"}  # the classes with a frequency
    county = cenv.client("county")
    r = county.get("/plans/due")
    assert r.status_code == 200 and 'id="due"' in r.text and 'id="visits"' in r.text
    got = _export(county)
    assert list(got.columns) == list(due.columns)
    mine = due[due["division_code"].str.startswith(cenv.division)]
    assert set(got["uscc"]) == set(mine["uscc"])
    assert got["division_code"].str.startswith(cenv.division).all()
    others = set(due["uscc"]) - set(mine["uscc"])
    assert not any(u in r.text for u in others)
    province = _export(cenv.client("province"), "?month=2026-10&campaign=routine")
    assert len(province) >= len(got)
    entries = chain.read(cenv.settings.audit_log)
    assert any(e["user"] == "county" and e["action"] == "view_due" for e in entries)
    assert any(e["user"] == "province" and e["action"] == "export_due" for e in entries)


def test_check_modes_and_departments_are_shown(cenv: Env) -> None:
    r = cenv.client("province").get("/plans/due?month=2026-10")
    assert r.status_code == 200
    assert "routine" in r.text and "市场监管" in r.text
    assert "on_site" in r.text or "written" in r.text


@pytest.mark.parametrize(("user", "code"), [("analyst", 403), (None, 401)])
def test_who_may_not(cenv: Env, user: str | None, code: int) -> None:
    c = cenv.client(user)
    assert c.get("/plans/due/export.csv", follow_redirects=False).status_code == code


def test_only_sealed_plans(cenv: Env) -> None:
    c = cenv.client("province")
    assert c.get("/plans/due?campaign=nope").status_code == 404
    assert c.get("/plans/due/export.csv?campaign=nope").status_code == 404
