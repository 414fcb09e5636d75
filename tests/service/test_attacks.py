"""The attacks that got through before issue 15, each tried again against the service.

Forwarded addresses, lock-outs of others, disk growth from unauthenticated requests, formulas
in exports, tampering that rewrites the hashes, probing another county, missing headers, odd
digits in division codes, an administrator granting themselves access. (Links out of a
delivery folder: tests/pipelines/intake/test_readers.py; accounts in depth:
tests/service/test_accounts.py; anchors in depth: tests/service/test_anchors.py.)
"""

from __future__ import annotations

import datetime as dt
import io
import os
import re
import shutil
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from pipelines import chain
from service import anchor, seal
from service.accounts import Accounts, Policy, User
from service.app import create_app
from service.config import AnchorConfig, ServiceConfig
from service.pages import csv as export_csv
from tests.service.conftest import PASSWORD, Env

# the module on one worker, its `env` copied once; modules balance across workers (the
# service base is built once per worker: tests/service/conftest.py)
pytestmark = pytest.mark.xdist_group("service_attacks")


def _token(c: TestClient) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', c.get("/login").text).group(1)  # type: ignore[union-attr]


def _login(c: TestClient, token: str, user: str, password: str, **kw: object) -> int:
    r = c.post(
        "/login",
        data={"username": user, "password": password, "csrf": token},
        follow_redirects=False,
        **kw,
    )  # type: ignore[arg-type]
    return r.status_code


def _csrf_of(c: TestClient, path: str = "/") -> str:
    return re.search(r'name="csrf" value="([^"]+)"', c.get(path).text).group(1)  # type: ignore[union-attr]


# ---------------------------------------------------------------------- addresses and lock-outs
def test_a_forged_forwarded_address_is_not_believed(env: Env) -> None:
    c = TestClient(env.app, client=("127.0.0.1", 50001))  # loopback, as uvicorn trusted it
    token = _token(c)
    codes = [
        _login(
            c, token, "granted", "wrong password!!", headers={"X-Forwarded-For": f"203.0.113.{i}"}
        )
        for i in range(12)
    ]
    assert codes == [401] * 5 + [429] * 7  # rotating forged addresses: one address, limited
    entries = [
        e
        for e in chain.read(env.settings.audit_log)
        if e["action"] == "login" and e["user"] == "granted"
    ]
    assert {e["client"] for e in entries} == {"127.0.0.1"}  # the forged ones were not recorded


def test_a_configured_proxy_is_believed_and_only_it(env: Env) -> None:
    cfg = ServiceConfig(seal_check_seconds=0, four_eyes=False, trusted_proxies=["10.1.1.0/24"])
    app = create_app(replace(env.settings, config=cfg))
    proxy = TestClient(app, client=("10.1.1.5", 50002))
    token = _token(proxy)
    forged = {"X-Forwarded-For": "198.51.100.7, 10.1.1.9"}  # client, then a second proxy
    assert [
        _login(proxy, token, "analyst", "wrong password!!", headers=forged) for _ in range(6)
    ] == [401] * 5 + [429]
    other = {"X-Forwarded-For": "198.51.100.8"}  # another office behind the same proxy
    assert _login(proxy, token, "analyst", PASSWORD, headers=other) == 303
    clients = {
        e.get("client")
        for e in chain.read(env.settings.audit_log)
        if e["action"] == "login" and e["user"] == "analyst"
    }
    assert {"198.51.100.7", "198.51.100.8"} <= clients and "10.1.1.5" not in clients


def test_a_forged_line_before_the_proxy_line_is_not_believed(env: Env) -> None:
    """A proxy that adds its own X-Forwarded-For line after the client's forged one: every
    line is read, so the client is the address the proxy saw, not the one it was told."""
    cfg = ServiceConfig(seal_check_seconds=0, four_eyes=False, trusted_proxies=["10.5.5.0/24"])
    proxy = TestClient(create_app(replace(env.settings, config=cfg)), client=("10.5.5.5", 50006))
    token = _token(proxy)
    codes = [
        _login(
            proxy,
            token,
            "city",
            "wrong password!!",
            headers=[("X-Forwarded-For", f"198.51.100.{i}"), ("X-Forwarded-For", "192.0.2.44")],
        )
        for i in range(6)
    ]
    assert codes == [401] * 5 + [429]  # one client, 192.0.2.44, however the first line rotates
    junk = [("X-Forwarded-For", "192.0.2.45, not-an-address")]
    assert _login(proxy, token, "city", "wrong password!!", headers=junk) == 401
    clients = [
        e.get("client")
        for e in chain.read(env.settings.audit_log)
        if e["action"] == "login" and e["user"] == "city"
    ]
    assert "192.0.2.44" in clients and "10.5.5.5" in clients  # junk: the proxy itself
    assert not any(str(c).startswith("198.51.100.") for c in clients)


def test_nobody_can_lock_out_someone_else(env: Env) -> None:
    attacker = TestClient(env.app, client=("10.2.2.2", 50003))
    token = _token(attacker)
    assert [_login(attacker, token, "province", "wrong password!!") for _ in range(6)] == [
        401
    ] * 5 + [429]
    assert _login(attacker, token, "province", PASSWORD) == 429  # from there, not even right
    elsewhere = TestClient(env.app, client=("10.3.3.3", 50004))
    assert _login(elsewhere, _token(elsewhere), "province", PASSWORD) == 303  # the real user
    assert _login(attacker, token, "city", PASSWORD) == 303  # a colleague behind that address
    # an administrator unlocks the address (say, the user's own office)
    admin = env.client("admin")
    page = admin.get("/admin/users").text
    assert "10.2.2.2" in page and 'id="throttled"' in page
    r = admin.post(
        "/admin/users/unlock",
        data={
            "csrf": _csrf_of(admin, "/admin/users"),
            "username": "province",
            "client": "10.2.2.2",
        },
    )
    assert r.status_code == 200 and "1 blocked address(es) cleared" in r.text
    assert _login(attacker, _token(attacker), "province", PASSWORD) == 303
    unlocks = [e for e in chain.read(env.settings.audit_log) if e["action"] == "unlock_user"]
    assert unlocks[-1]["user"] == "admin" and unlocks[-1]["object"] == "province"


def test_unauthenticated_requests_cannot_grow_the_disk(env: Env) -> None:
    log = env.settings.audit_log
    c = TestClient(env.app, client=("10.4.4.4", 50005))
    token = _token(c)

    def size_of() -> int:  # the module's log starts with its first audited request
        return log.stat().st_size if log.exists() else 0

    size = size_of()
    huge = "x" * 500_000
    assert {_login(c, token, huge, "whatever password") for _ in range(10)} == {413}
    assert size_of() == size  # refused before it is read, nothing logged
    long_name = "y" * 20_000  # under the body limit: capped before it is stored or logged
    codes = [_login(c, token, long_name, "whatever password") for _ in range(30)]
    assert codes[:5] == [401] * 5 and set(codes[5:]) == {429}
    grown = size_of() - size
    assert grown < 2_000, grown  # one failure and one block recorded, each capped
    mine = [e for e in chain.read(log) if e.get("client") == "10.4.4.4"]
    assert [e["outcome"] for e in mine] == ["failed", "throttled"]
    assert all(len(e["user"]) <= 64 for e in mine)
    rows = Accounts(env.settings.accounts).throttled()
    assert all(len(name) <= 64 for name, *_ in rows)


# ---------------------------------------------------------------------- what a county may learn
def test_not_yours_and_does_not_exist_answer_alike(env: Env) -> None:
    c = env.client("county")
    outside = c.get(f"/enterprise/{env.outside}")
    nobody = c.get("/enterprise/91440000000000000X")
    assert outside.status_code == nobody.status_code == 404
    strip = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}")  # the page's clock line
    assert strip.sub("", outside.text) == strip.sub("", nobody.text)


def test_every_response_has_the_security_headers(env: Env) -> None:
    c = env.client("county")
    for r in (
        c.get("/no/such/route"),
        c.put("/login"),
        c.get("/enterprise/x?month=1999-01"),
        c.get("/lists"),
        TestClient(env.app).get("/login"),
    ):
        assert "default-src 'none'" in r.headers.get("content-security-policy", ""), r.url
        assert r.headers.get("cache-control") == "no-store", r.url
        assert r.headers.get("x-frame-options") == "DENY", r.url


# ---------------------------------------------------------------------- exports
def test_the_list_export_is_formula_safe() -> None:
    frame = pd.DataFrame(
        {
            "uscc": ["91440101MA5AAAAA1X", "91440101MA5AAAAA2X", "x"],
            "name": ['=HYPERLINK("http://x"&B4,"x")', "+cmd|' /C calc'!A0", "@SUM(A1)"],
            "score": [912, 540, 12],
        }
    )
    user = User("zhang.san", "county", ("440106",), False)
    body = export_csv(frame, user, "list.csv").body.decode("utf-8-sig")  # type: ignore[union-attr]
    rows = pd.read_csv(io.StringIO(body), comment="#", dtype=str)
    assert rows["name"].tolist() == ["'" + n for n in frame["name"]]
    assert not re.search(r"(^|,)[=+@]", body.replace("\r", ""), re.M)


# ---------------------------------------------------------------------- accounts
def test_division_codes_are_ascii_digits(env: Env) -> None:
    admin = env.client("admin")
    token = _csrf_of(admin, "/admin/users")
    for code in ("４４０１０６", "٤٤٠١٠٦", "44０106"):
        r = admin.post(
            "/admin/users",
            data={
                "csrf": token,
                "username": "odd.digits",
                "password": "long enough password",
                "role": "county",
                "divisions": code,
            },
        )
        assert r.status_code == 400 and "digits 0-9" in r.text, code


def test_an_administrator_cannot_grant_themselves_named_data(env: Env, tmp_path: Path) -> None:
    accounts = Accounts(tmp_path / "accounts.sqlite", policy=Policy(four_eyes=True))
    accounts.add("root.admin", PASSWORD, "admin", by="cli")  # the first admin: in force
    second = accounts.add("other.admin", PASSWORD, "admin", by="cli")
    assert second.request_id is not None
    accounts.approve(second.request_id, by="root.admin")
    app = create_app(
        replace(
            env.settings,
            config=ServiceConfig(seal_check_seconds=0),
            accounts=tmp_path / "accounts.sqlite",
        )
    )
    e = Env(env.root, env.settings, env.inside, env.outside, env.division)
    e.app = app
    alone = e.client("root.admin")
    token = _csrf_of(alone, "/admin/users")
    r = alone.post(
        "/admin/users",
        data={
            "csrf": token,
            "username": "my.province",
            "password": "another long password",
            "role": "province",
            "divisions": "44",
        },
    )
    assert r.status_code == 200 and "pending" in r.text
    # the account exists but cannot log in, and its maker cannot approve it
    c = TestClient(app)
    assert _login(c, _token(c), "my.province", "another long password") == 401
    request_id = accounts.pending()[0].id
    r = alone.post("/admin/users/approve", data={"csrf": token, "request_id": request_id})
    assert r.status_code == 400 and "second administrator" in r.text
    other = e.client("other.admin")
    r = other.post(
        "/admin/users/approve",
        data={"csrf": _csrf_of(other, "/admin/users"), "request_id": request_id},
    )
    assert r.status_code == 200
    assert _login(c, _token(c), "my.province", "another long password") == 303
    grants = [
        (x["user"], x["action"], x["outcome"])
        for x in chain.read(env.settings.audit_log)
        if x["object"] in ("my.province", str(request_id))
    ]
    assert grants == [
        ("root.admin", "add_user", "pending"),
        ("root.admin", "approve_user", "refused"),
        ("other.admin", "approve_user", "ok"),
    ]


# ---------------------------------------------------------------------- tampering, end to end
ATTACKS = ["truncate", "drop_views_rechain", "rewrite_all", "reseal_recomputed", "edit_in_place"]


@pytest.mark.parametrize("attack", ATTACKS)
def test_tampering_that_rewrites_the_hashes_is_refused(
    env: Env, tmp_path: Path, attack: str
) -> None:
    """A copy of the served months, anchored with a key the service does not hold; each attack
    passes the chains alone, and is caught by `audit verify` and refused by the service."""
    from service import audit

    outputs = tmp_path / "outputs"
    shutil.copytree(env.settings.outputs, outputs, ignore=shutil.ignore_patterns("*.sqlite*"))
    log = outputs / "audit.jsonl"
    keys = tmp_path / "keys"
    anchor.keygen(keys / "anchor.key", keys / "anchor.pub")
    anchors = tmp_path / "anchors.jsonl"
    anchor.make(anchors, keys / "anchor.key", outputs, log, "seal")
    cfg = ServiceConfig(
        seal_check_seconds=0,
        four_eyes=False,
        anchors=AnchorConfig(file=anchors, public_key=keys / "anchor.pub"),
    )  # no private key: the service's view
    settings = replace(env.settings, config=cfg, outputs=outputs, audit_log=log)
    e = Env(env.root, settings, env.inside, env.outside, env.division)
    e.app = create_app(settings)
    c = e.client("county")
    assert c.get("/lists?month=2026-10").status_code == 200
    anchor.make(anchors, keys / "anchor.key", outputs, log, "hourly")  # after the view: covered

    def problems(anchored: bool = True) -> list[str]:
        now = dt.datetime.now(dt.UTC)
        a = (
            anchor.read(
                anchors, anchor.load_public(keys / "anchor.pub"), now, dt.timedelta(hours=3)
            )
            if anchored
            else None
        )
        return [
            p
            for ps in audit.verify(outputs, log, outputs / "promotions.jsonl", anchored=a).values()
            for p in ps
        ]

    def rechain(path: Path, entries: list[dict]) -> None:  # type: ignore[type-arg]
        path.unlink()
        for x in entries:
            chain.append(
                path, {k: v for k, v in x.items() if k not in ("seq", "previous_sha256", "sha256")}
            )

    seals = seal.seals_path(outputs)
    if attack == "truncate":
        lines = log.read_text(encoding="utf-8").splitlines()
        log.write_text("\n".join(lines[:-3]) + "\n", encoding="utf-8")
    elif attack == "drop_views_rechain":
        rechain(log, [x for x in chain.read(log) if x["action"] != "view_list"])
    elif attack == "rewrite_all":
        rechain(log, chain.read(log)[:2])
        rewritten = chain.read(seals)
        for x in rewritten:
            x["audit_head"] = {
                "seq": 1,
                "line_sha256": chain.line_hash(log.read_text(encoding="utf-8").splitlines()[1]),
            }
        rechain(seals, rewritten)
    elif attack == "reseal_recomputed":
        summary = outputs / "2026-10" / "classes_summary.json"
        summary.write_text(summary.read_text(encoding="utf-8") + " ", encoding="utf-8")
        rewritten = chain.read(seals)
        rewritten[-1]["files"]["classes_summary.json"] = seal._sha256(summary)
        rechain(seals, rewritten)
    else:  # an in-place edit of the plan with its times restored
        plan = outputs / "2026-10" / "plans" / "routine" / "plan.csv"
        st = plan.stat()
        data = plan.read_bytes()
        at = data.index(b"\n") + 1  # the first data row
        with plan.open("r+b") as f:
            f.seek(at)
            f.write(bytes([data[at] ^ 1]))
        os.utime(plan, ns=(st.st_atime_ns, st.st_mtime_ns))
        assert plan.stat().st_mtime_ns == st.st_mtime_ns
    if attack != "edit_in_place":
        assert problems(anchored=False) == []  # invisible to the chains and seals alone
    assert problems(), attack
    r = c.get("/lists?month=2026-10")
    assert r.status_code == 503, (attack, r.status_code)
    assert "does not verify" in r.text or "does not match its seal" in r.text
