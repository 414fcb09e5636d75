"""The page /quality (issue 20, item 8): collection quality per department for the province,
cities and data scientists; refused to counties and administrators; aggregates only; every
view and export audited; the export formula-safe and marked."""

from __future__ import annotations

import pytest

from pipelines import chain
from pipelines.render.wording import BANNER_ZH as BANNER
from tests.service.conftest import Env

# the module on one worker, its `env` copied once; modules balance across workers (the
# service base is built once per worker: tests/service/conftest.py)
pytestmark = pytest.mark.xdist_group("service_quality")


@pytest.fixture(scope="module")
def qenv(env: Env) -> Env:
    return env  # create_app adds /quality


@pytest.mark.parametrize(
    ("user", "page", "download"),
    [
        ("province", 200, 200),
        ("city", 200, 200),
        ("analyst", 200, 200),
        ("county", 403, 403),
        ("admin", 403, 403),
        (None, 302, 401),
    ],
)
def test_who_may_see_collection_quality(
    qenv: Env, user: str | None, page: int, download: int
) -> None:
    c = qenv.client(user)
    assert c.get("/quality", follow_redirects=False).status_code == page
    assert c.get("/quality.csv", follow_redirects=False).status_code == download


def test_the_page_shows_departments_and_nothing_of_an_enterprise(qenv: Env) -> None:
    c = qenv.client("city")
    r = c.get("/quality")
    assert r.status_code == 200
    assert 'id="quality"' in r.text and "市场监管·综合执法" in r.text and "≤20" in r.text
    for uscc in (qenv.inside, qenv.outside):
        assert uscc not in r.text
    entries = chain.read(qenv.settings.audit_log)
    assert any(e["user"] == "city" and e["action"] == "view_quality" for e in entries)


def test_the_export_is_marked_audited_and_aggregate(qenv: Env) -> None:
    c = qenv.client("province")
    r = c.get("/quality.csv")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    text = r.content.decode("utf-8-sig")
    assert text.startswith(f"# {BANNER}") and "province" in text.splitlines()[1]
    header = text.splitlines()[2].split(",")
    assert header[:3] == ["department", "table", "records"]
    assert "uscc" not in header and qenv.inside not in text
    entries = chain.read(qenv.settings.audit_log)
    assert any(e["user"] == "province" and e["action"] == "export_quality" for e in entries)


def test_the_verification_report_has_the_collection_section(qenv: Env) -> None:
    html = (qenv.settings.outputs / "2026-10" / "verification" / "verification.html").read_text(
        "utf-8"
    )
    assert "数据归集质量" in html and "市场监管·综合执法" in html
