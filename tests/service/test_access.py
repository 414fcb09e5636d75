"""The staff service: every role x every endpoint x inside/outside the jurisdiction, with the
exact status code; CSRF, rate limits, watermarks, seals, and what never leaks."""

from __future__ import annotations

import logging
import re

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from pipelines import chain
from pipelines.render.wording import BANNER_ZH as BANNER
from service import seal
from tests.service.conftest import PASSWORD, Env

# the module on one worker, its `env` copied once; modules balance across workers (the
# service base is built once per worker: tests/service/conftest.py)
pytestmark = pytest.mark.xdist_group("service_access")


ROLES = ["county", "city", "province", "analyst", "granted", "admin", None]
NAMED = {"county", "city", "province", "granted"}


def _expected(path: str, role: str | None, where: str) -> int:
    """The access rules, written out independently of the code."""
    download = path.endswith(".csv")
    if role is None:
        return 401 if download else 302
    if path == "/":
        return 200
    if path in ("/admin/users", "/audit"):
        return 200 if role == "admin" else 403
    if path == "/hotspots":
        return 403 if role == "admin" else 200
    if path == "/models":
        return 200 if role in ("analyst", "granted", "province") else 403
    if role not in NAMED:
        return 403
    if path == "/enterprise" and where == "outside" and role in ("county", "city"):
        return 404  # the same answer as for an enterprise that does not exist
    return 200


PATHS = [
    "/",
    "/search",
    "/enterprise",
    "/lists",
    "/lists.csv",
    "/warnings",
    "/hotspots",
    "/plans",
    "/plans/routine.csv",
    "/models",
    "/admin/users",
    "/audit",
]


@pytest.mark.parametrize("role", ROLES, ids=lambda r: r or "anonymous")
def test_access_matrix(env: Env, role: str | None) -> None:
    c = env.client(role)
    for path in PATHS:
        for where, uscc in (("inside", env.inside), ("outside", env.outside)):
            if path == "/enterprise":
                url = f"/enterprise/{uscc}"
            elif path == "/search":
                url = f"/search?q={uscc}"
            else:
                url = path
                if where == "outside":
                    continue  # not about one enterprise
            r = c.get(url, follow_redirects=False)
            assert r.status_code == _expected(path, role, where), (role, url, r.status_code)
            if r.status_code == 302:
                assert r.headers["location"].startswith("/login")
    # the one form that changes something: adding an account (with this session's CSRF token)
    home = c.get("/", follow_redirects=False)
    found = re.search(r'name="csrf" value="([^"]+)"', home.text)
    form = {
        "csrf": found.group(1) if found else "",
        "username": f"made.by.{role or 'nobody'}",
        "password": "another long password",
        "role": "admin",
    }
    r = c.post("/admin/users", data=form, follow_redirects=False)
    assert r.status_code == {"admin": 200, None: 302}.get(role, 403), (role, r.status_code)


def test_named_lists_stay_within_the_jurisdiction(env: Env) -> None:
    c = env.client("county")
    found = c.get(f"/search?q={env.outside}")
    assert 'id="none"' in found.text and 'id="results"' not in found.text  # nothing found
    inside = c.get(f"/search?q={env.inside}")
    assert 'id="results"' in inside.text and f"/enterprise/{env.inside}" in inside.text
    csv = c.get("/lists.csv").content.decode("utf-8-sig")
    head, _, body = csv.partition("\n# ")
    assert BANNER in head and "county" in body.splitlines()[0]  # watermark and exporter
    rows = pd.read_csv(__import__("io").StringIO(csv), comment="#", dtype=str)
    assert len(rows) and rows["division_code"].str.startswith(env.division).all()
    plan = pd.read_csv(
        __import__("io").StringIO(c.get("/plans/routine.csv").content.decode("utf-8-sig")),
        comment="#",
        dtype=str,
    )
    assert plan["division_code"].str.startswith(env.division).all()
    refused = c.get(f"/enterprise/{env.outside}")
    assert refused.status_code == 404 and env.outside not in refused.text
    page = c.get(f"/enterprise/{env.inside}")
    assert 'id="watermark"' in page.text and "county" in page.text and BANNER in page.text


def test_forms_need_their_csrf_token(env: Env) -> None:
    c = env.client("admin")
    r = c.post("/admin/users", data={"username": "new.user", "password": PASSWORD, "role": "admin"})
    assert r.status_code == 403
    token = re.search(r'name="csrf" value="([^"]+)"', c.get("/admin/users").text).group(1)  # type: ignore[union-attr]
    ok = c.post(
        "/admin/users",
        data={"csrf": token, "username": "new.user", "password": PASSWORD, "role": "admin"},
    )
    assert ok.status_code == 200 and "new.user" in ok.text
    # and deactivates it (its sessions end); not without the token, and never itself
    victim = env.client("new.user")
    assert victim.get("/", follow_redirects=False).status_code == 200
    assert c.post("/admin/users/deactivate", data={"username": "new.user"}).status_code == 403
    gone = c.post("/admin/users/deactivate", data={"csrf": token, "username": "new.user"})
    assert gone.status_code == 200 and victim.get("/", follow_redirects=False).status_code == 302
    own = c.post("/admin/users/deactivate", data={"csrf": token, "username": "admin"})
    assert own.status_code == 400 and "own account" in own.text
    assert c.post("/logout", data={}).status_code == 403
    anon = TestClient(env.app)
    anon.get("/login")
    r = anon.post(
        "/login",
        data={"username": "admin", "password": PASSWORD, "csrf": "forged"},
        follow_redirects=False,
    )
    assert r.status_code == 403


def test_logins_are_rate_limited_and_audited(env: Env) -> None:
    c = TestClient(env.app, client=("10.9.9.9", 50000))  # its own address: others unaffected
    token = re.search(r'name="csrf" value="([^"]+)"', c.get("/login").text).group(1)  # type: ignore[union-attr]
    codes = [
        c.post(
            "/login",
            data={"username": "city", "password": "wrong password!!", "csrf": token},
            follow_redirects=False,
        ).status_code
        for _ in range(6)
    ]
    assert codes == [401] * 5 + [429]
    right = c.post(
        "/login",
        data={"username": "city", "password": PASSWORD, "csrf": token},
        follow_redirects=False,
    )
    assert right.status_code == 429  # even the right password waits out the window
    assert env.client("province").get("/").status_code == 200  # other addresses and users log in
    entries = chain.read(env.settings.audit_log)
    mine = [
        e["outcome"]
        for e in entries
        if e["user"] == "city" and e["action"] == "login" and e.get("client") == "10.9.9.9"
    ]
    assert mine == ["failed", "throttled"]  # repeats within the window are counted, not logged
    assert chain.verify(env.settings.audit_log, seal.anchors(env.settings.outputs)) == []


def test_views_are_audited_and_nothing_leaks_into_logs(
    env: Env, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    c = env.client("province")
    c.get(f"/enterprise/{env.inside}")
    c.get("/lists.csv?cls=D")
    entries = chain.read(env.settings.audit_log)
    mine = [(e["action"], e["object"]) for e in entries if e["user"] == "province"]
    assert ("view_report", env.inside) in mine and any(a == "export_list" for a, _ in mine)
    # what was shown is not copied: no class, score or count of a result, in keys or values
    assert not any(k in e for e in entries for k in ("class_final", "score", "rows", "results"))
    assert not any(str(v) in {"A", "B", "C", "D"} for e in entries for v in e.values())
    server = [
        r.getMessage() for r in caplog.records if not r.name.startswith("httpx")
    ]  # not the test's client
    assert server is not None and not any(env.inside in m for m in server)


def test_a_month_that_fails_its_seal_is_refused_and_says_why(env: Env) -> None:
    c = env.client("county")
    path = env.settings.outputs / "2026-09" / "classes_summary.json"
    original = path.read_bytes()
    try:
        path.write_bytes(original + b" ")
        r = c.get("/lists?month=2026-09")
        assert r.status_code == 503 and "does not match its seal" in r.text
        assert (
            "changed after the seal" in r.text and "classes_summary" not in r.text
        )  # counted, not named
        assert c.get("/lists?month=2026-10").status_code == 200  # other months still served
        assert c.get("/lists?month=2026-08").status_code == 404  # never sealed
    finally:
        path.write_bytes(original)
    assert c.get("/lists?month=2026-09").status_code == 200


def test_a_burst_of_guesses_is_limited_too(env: Env) -> None:
    """Parallel wrong passwords from one address: no more than the limit get through."""
    from concurrent.futures import ThreadPoolExecutor

    from service.accounts import Accounts, Policy

    Accounts(env.settings.accounts, policy=Policy(four_eyes=False)).add(
        "burst.target", PASSWORD, "province", ("44",), by="setup"
    )
    c = TestClient(env.app, client=("10.8.8.8", 50000))
    token = re.search(r'name="csrf" value="([^"]+)"', c.get("/login").text).group(1)  # type: ignore[union-attr]

    def guess(i: int) -> int:
        return c.post(
            "/login",
            data={"username": "burst.target", "password": f"guess {i:04d} wrong", "csrf": token},
            follow_redirects=False,
        ).status_code

    with ThreadPoolExecutor(8) as pool:
        codes = list(pool.map(guess, range(16)))
    assert codes.count(401) <= 5 and codes.count(429) >= 11 and set(codes) <= {401, 429}


def test_first_reports_at_once_all_render(env: Env) -> None:
    """A fresh service answering several first reports at the same time (one month load)."""
    from concurrent.futures import ThreadPoolExecutor

    from service.app import create_app

    fresh = Env(env.root, env.settings, env.inside, env.outside, env.division)
    fresh.app = create_app(env.settings)
    c = fresh.client("province")
    with ThreadPoolExecutor(4) as pool:
        codes = list(pool.map(lambda _i: c.get(f"/enterprise/{env.inside}").status_code, range(4)))
    assert codes == [200] * 4


def test_hot_spots_of_a_county_are_its_own_city(env: Env) -> None:
    page = env.client("county").get("/hotspots").text
    whole = env.client("province").get("/hotspots").text
    everywhere = set(re.findall(r"<td>(\d{4})</td>", whole))
    assert len(everywhere) > 1  # the province sees every city's cells
    assert set(re.findall(r"<td>(\d{4})</td>", page)) <= {env.division[:4]}
