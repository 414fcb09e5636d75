"""Attacks on the accounts: lock-outs of others, disk growth, one administrator alone.

`Accounts` is used directly with a fake clock; argon2 runs with tiny parameters here (the
throttling does not depend on how slow a check is; the real parameters are tested in
tests/service/test_chain_and_seals.py).
"""

from __future__ import annotations

import datetime as dt
import random
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from argon2 import PasswordHasher

import service.accounts as accounts_module
from service.accounts import MAX_FIELD, AccountError, Accounts, Policy

PASSWORD = "correct horse battery"
WRONG = "wrong horse battery"


class _Clock:
    def __init__(self) -> None:
        self.t = dt.datetime(2026, 11, 1, 9, 0, tzinfo=dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.t

    def advance(self, **kwargs: float) -> None:
        self.t += dt.timedelta(**kwargs)


@pytest.fixture(autouse=True)
def _cheap_argon2(monkeypatch: pytest.MonkeyPatch) -> None:
    cheap = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    monkeypatch.setattr(accounts_module, "PasswordHasher", lambda: cheap)
    monkeypatch.setattr(Accounts, "_dummy_hash", None)  # made again with the cheap hasher


@pytest.fixture
def clock() -> _Clock:
    return _Clock()


def _open(tmp_path: Path, clock: _Clock, **policy: object) -> Accounts:
    return Accounts(tmp_path / "a.sqlite", now=clock, policy=Policy(**policy))  # type: ignore[arg-type]


def _status(acc: Accounts) -> dict[str, str]:
    return {u.username: status for u, status in acc.users()}


def _rows(acc: Accounts, sql: str) -> list[tuple]:
    db = sqlite3.connect(acc.path)
    try:
        return db.execute(sql).fetchall()
    finally:
        db.close()


# ---------------------------------------------------------------------- throttling
def test_failures_block_the_pair_not_the_user_nor_the_address(tmp_path, clock) -> None:  # type: ignore[no-untyped-def]
    acc = _open(tmp_path, clock, four_eyes=False)
    for name in ("x.user", "y.user"):
        acc.add(name, PASSWORD, "county", ("440106",), by="ops")
    for _ in range(5):
        assert acc.login("x.user", WRONG, "10.0.0.1").outcome == "failed"
    refused = acc.login("x.user", PASSWORD, "10.0.0.1")  # even the right password
    assert refused.outcome == "throttled" and refused.retry_after == 30
    assert refused.token is None and refused.session is None
    assert acc.login("x.user", PASSWORD, "10.0.0.2").outcome == "ok"  # the user elsewhere
    assert acc.login("y.user", PASSWORD, "10.0.0.1").outcome == "ok"  # others behind it
    assert acc.throttled() == [("x.user", "10.0.0.1", 5, acc.throttled()[0][3])]
    # a name that does not exist is throttled exactly alike: no hint which names exist
    answers = [acc.login("no.such.user", WRONG, "10.0.0.1").outcome for _ in range(6)]
    assert answers == ["failed"] * 5 + ["throttled"]


def test_a_burst_of_parallel_guesses_cannot_pass_the_limit(tmp_path, clock) -> None:  # type: ignore[no-untyped-def]
    acc = _open(tmp_path, clock, four_eyes=False)
    acc.add("burst.target", PASSWORD, "province", ("44",), by="ops")
    with ThreadPoolExecutor(8) as pool:
        outcomes = list(
            pool.map(
                lambda i: acc.login("burst.target", f"guess {i}", "10.8.8.8").outcome, range(16)
            )
        )
    assert outcomes.count("failed") == 5 and outcomes.count("throttled") == 11


def test_backoff_doubles_is_capped_and_unlock_clears_it(tmp_path, clock) -> None:  # type: ignore[no-untyped-def]
    acc = _open(tmp_path, clock, four_eyes=False)
    acc.add("x.user", PASSWORD, "county", ("440106",), by="ops")
    for _ in range(5):
        acc.login("x.user", WRONG, "10.0.0.1")
    waits = []
    for _ in range(7):
        wait = acc.login("x.user", PASSWORD, "10.0.0.1").retry_after
        waits.append(wait)
        clock.advance(seconds=wait)
        assert acc.login("x.user", WRONG, "10.0.0.1").outcome == "failed"  # one more guess
    assert waits == [30, 60, 120, 240, 480, 900, 900]  # doubling, capped at 15 minutes
    clock.advance(seconds=899)
    assert acc.login("x.user", PASSWORD, "10.0.0.1").outcome == "throttled"
    clock.advance(seconds=1)
    assert acc.login("x.user", PASSWORD, "10.0.0.1").outcome == "ok"  # the block has passed
    assert acc.throttled() == []
    # unlock: by address or everywhere, counting the rows it clears
    for client in ("10.0.0.1", "10.0.0.2"):
        for _ in range(5):
            acc.login("x.user", WRONG, client)
    assert [c for _u, c, _n, _b in acc.throttled()] == ["10.0.0.1", "10.0.0.2"]
    assert acc.unlock("x.user", "10.0.0.1") == 1
    assert acc.login("x.user", PASSWORD, "10.0.0.1").outcome == "ok"
    assert acc.unlock("x.user") == 1 and acc.unlock("x.user") == 0
    assert acc.login("x.user", PASSWORD, "10.0.0.2").outcome == "ok"


def test_a_block_is_not_followed_by_a_fresh_set_of_guesses(tmp_path, clock) -> None:  # type: ignore[no-untyped-def]
    """The pair is forgotten only a quiet window after its block ends, not as it ends."""
    acc = _open(tmp_path, clock, four_eyes=False, backoff_max=dt.timedelta(minutes=15))
    for _ in range(30):  # guessing as fast as allowed: blocks of 30 s, 1 min ... 15 min
        wait = acc.login("x.user", WRONG, "10.0.0.1").retry_after
        if wait == 15 * 60:
            break
        clock.advance(seconds=wait)
    clock.advance(minutes=15)  # the capped block has just passed: one guess, blocked again
    assert acc.login("x.user", WRONG, "10.0.0.1").outcome == "failed"
    assert acc.login("x.user", WRONG, "10.0.0.1").retry_after == 15 * 60
    clock.advance(minutes=30)  # the block, then a quiet window: forgotten
    assert [acc.login("x.user", WRONG, "10.0.0.1").outcome for _ in range(6)] == (
        ["failed"] * 5 + ["throttled"]
    )


def test_huge_names_and_many_attempts_leave_little_on_disk(tmp_path, clock) -> None:  # type: ignore[no-untyped-def]
    acc = _open(tmp_path, clock, four_eyes=False)
    acc.add("x.user", PASSWORD, "county", ("440106",), by="ops")
    huge = "x.user" + "a" * 500_000
    assert acc.login(huge, PASSWORD, "10.0.0.1" + "9" * 500_000).outcome == "failed"
    assert acc.login(huge[:MAX_FIELD], PASSWORD, "10.0.0.1").outcome == "failed"
    (longest,) = _rows(acc, "SELECT max(length(username)), max(length(client)) FROM throttle")
    assert longest == (MAX_FIELD, MAX_FIELD)
    session = acc.login("x.user", PASSWORD, "10.0.0.1")
    assert session.outcome == "ok"
    # 1,000 failures with random names from rotating addresses over two hours
    rng = random.Random(7)
    for i in range(1000):
        name = "".join(rng.choices("abcdefghijklmnopqrstuvwxyz", k=rng.randint(3, 300)))
        acc.login(name, WRONG, f"10.1.{i % 50}.{i % 7}")
        clock.advance(seconds=7.2)  # 1,000 attempts in 2 hours
    rows = _rows(acc, "SELECT count(*), max(length(username)) FROM throttle")[0]
    per_window = 15 * 60 / 7.2  # attempts within the last window
    assert rows[0] <= per_window + 1 and rows[1] <= MAX_FIELD
    assert acc.session(session.token) is None  # expired, and deleted by a login's write
    assert _rows(acc, "SELECT count(*) FROM sessions") == [(0,)]


def test_repeats_are_reported_once_per_window(tmp_path, clock) -> None:  # type: ignore[no-untyped-def]
    acc = _open(tmp_path, clock, four_eyes=False)
    firsts = [acc.login("x.user", WRONG, "10.0.0.1").first_in_window for _ in range(7)]
    # the first failure, then four more; the first refusal, then one more: once per outcome
    assert firsts == [True, False, False, False, False, True, False]
    assert acc.login("x.user", WRONG, "10.0.0.2").first_in_window  # another pair
    assert acc.login("y.user", WRONG, "10.0.0.1").first_in_window
    clock.advance(minutes=15)  # a new window: the (still remembered) pair is reported again
    again = acc.login("x.user", WRONG, "10.0.0.1")
    assert again.outcome == "failed" and again.first_in_window
    blocked = acc.login("x.user", WRONG, "10.0.0.1")  # still over the limit: blocked again
    assert blocked.outcome == "throttled" and blocked.first_in_window
    assert not acc.login("x.user", WRONG, "10.0.0.1").first_in_window


def test_spraying_is_flagged_once_and_locks_nobody(tmp_path, clock) -> None:  # type: ignore[no-untyped-def]
    acc = _open(tmp_path, clock, four_eyes=False)
    acc.add("real.user", PASSWORD, "county", ("440106",), by="ops")
    flags = [acc.login(f"name{i}", WRONG, "10.6.6.6").spraying for i in range(12)]
    assert flags == [False] * 9 + [True] + [False] * 2  # the tenth name crosses it
    assert not any(acc.login(f"name{i}", WRONG, "10.6.6.6").spraying for i in range(3))
    assert not acc.login("name0", WRONG, "10.7.7.7").spraying  # another address
    assert acc.login("real.user", PASSWORD, "10.6.6.6").outcome == "ok"


# ---------------------------------------------------------------------- four eyes
def test_one_administrator_alone_cannot_open_named_data(tmp_path, clock) -> None:  # type: ignore[no-untyped-def]
    acc = _open(tmp_path, clock)
    first = acc.add("admin.a", PASSWORD, "admin", by="ops")  # no active admin yet: in force
    assert first.request_id is None
    second = acc.add("admin.b", PASSWORD, "admin", by="ops")  # not the first: it waits
    assert second.request_id is not None
    with pytest.raises(
        AccountError, match=r"a second administrator must approve: 'admin\.b' is not an active"
    ):
        acc.approve(second.request_id, by="admin.b")  # not a pending admin, not itself
    acc.approve(second.request_id, by="admin.a")
    analyst = acc.add("ana.lyst", PASSWORD, "data_scientist", by="admin.a")  # no named data
    assert analyst.request_id is None

    grant = acc.add("prov.user", PASSWORD, "province", ("44",), by="admin.a")
    assert grant.request_id is not None and grant.user.may_see("440106")
    assert _status(acc)["prov.user"] == "pending"
    assert acc.login("prov.user", PASSWORD, "10.0.0.1").outcome == "failed"
    [waiting] = acc.pending()
    assert (waiting.id, waiting.kind, waiting.requested_by) == (
        grant.request_id,
        "create",
        "admin.a",
    )
    with pytest.raises(
        AccountError, match=r"a second administrator must approve: 'admin\.a' made request"
    ):
        acc.approve(grant.request_id, by="admin.a")
    with pytest.raises(AccountError, match=r"'ana\.lyst' is not an active administrator"):
        acc.approve(grant.request_id, by="ana.lyst")
    with pytest.raises(AccountError, match="not an active administrator"):
        acc.approve(grant.request_id, by="nobody")
    assert acc.approve(grant.request_id, by="admin.b") == grant.user
    assert acc.login("prov.user", PASSWORD, "10.0.0.1").outcome == "ok"
    assert acc.pending() == []
    with pytest.raises(AccountError, match="already approved"):
        acc.reject(grant.request_id, by="admin.b")
    with pytest.raises(AccountError, match="no request 99"):
        acc.approve(99, by="admin.b")


def test_widening_waits_narrowing_applies_at_once(tmp_path, clock) -> None:  # type: ignore[no-untyped-def]
    acc = _open(tmp_path, clock, four_eyes=False)
    acc.add("admin.a", PASSWORD, "admin", by="ops")
    acc.add("admin.b", PASSWORD, "admin", by="ops")
    acc.add("city.user", PASSWORD, "city", ("4401",), by="ops")
    acc.add("ana.lyst", PASSWORD, "data_scientist", by="ops")
    acc = _open(tmp_path, clock)  # now with four eyes
    session = acc.login("city.user", PASSWORD, "10.0.0.1")
    assert session.session is not None

    wider = acc.change("city.user", divisions=("4401", "4402"), by="admin.a")
    assert wider.request_id is not None and wider.user.may_see("440201")
    now = acc.session(session.token)  # rights unchanged until approved
    assert now is not None and not now.user.may_see("440201")
    with pytest.raises(AccountError, match=r"request \d+ for 'city\.user' is waiting for approval"):
        acc.change("city.user", divisions=("4401",), by="admin.a")  # one request at a time
    acc.approve(wider.request_id, by="admin.b")
    assert acc.session(session.token) is None  # its sessions end with the change
    assert acc.login("city.user", PASSWORD, "10.0.0.1").session.user.may_see("440201")  # type: ignore[union-attr]

    for change in (
        {"role": "province", "divisions": ("44",)},  # a role that sees more
        {"role": "admin"},  # to administrator
    ):
        assert acc.change("city.user", by="admin.a", **change).request_id is not None  # type: ignore[arg-type]
        acc.reject(acc.pending()[0].id, by="admin.b")
    named = acc.change("ana.lyst", named_lists=True, divisions=("4401",), by="admin.a")
    assert named.request_id is not None
    with pytest.raises(AccountError, match="not an active administrator"):
        acc.approve(named.request_id, by="ana.lyst")  # the account itself, and no admin
    acc.reject(named.request_id, by="admin.b")
    assert [u.named_lists for u, _s in acc.users() if u.username == "ana.lyst"] == [False]
    to_province = acc.change("admin.b", role="province", divisions=("44",), by="admin.a")
    with pytest.raises(AccountError, match="cannot decide on their own account"):
        acc.approve(to_province.request_id, by="admin.b")  # type: ignore[arg-type]

    narrower = acc.change("city.user", divisions=("4402",), by="admin.a")
    assert narrower.request_id is None and not narrower.user.may_see("440106")
    county = acc.change("city.user", role="county", divisions=("440201",), by="admin.a")
    assert county.request_id is None  # a county inside its city: narrower
    assert acc.change("ana.lyst", role="county", divisions=("440201",), by="admin.a").request_id
    assert [u.divisions for u, _s in acc.users() if u.username == "city.user"] == [("440201",)]


def test_reject_deactivate_and_one_person_offices(tmp_path, clock) -> None:  # type: ignore[no-untyped-def]
    acc = _open(tmp_path, clock)
    acc.add("admin.a", PASSWORD, "admin", by="ops")
    b = acc.add("admin.b", PASSWORD, "admin", by="ops")
    acc.approve(b.request_id, by="admin.a")  # type: ignore[arg-type]
    made = acc.add("county.user", PASSWORD, "county", ("440106",), by="admin.a")
    with pytest.raises(AccountError, match="made request"):
        acc.reject(made.request_id, by="admin.a")  # type: ignore[arg-type]
    acc.reject(made.request_id, by="admin.b")  # type: ignore[arg-type]
    assert "county.user" not in [u.username for u, _s in acc.users()]  # the name is free
    again = acc.add("county.user", PASSWORD, "county", ("440106",), by="admin.a")
    with pytest.raises(AccountError, match="awaits approval"):
        acc.change("county.user", divisions=("440105",), by="admin.a")
    acc.deactivate("county.user")  # closes its request
    assert acc.pending() == [] and _status(acc)["county.user"] == "inactive"
    with pytest.raises(AccountError, match="already rejected"):
        acc.approve(again.request_id, by="admin.b")  # type: ignore[arg-type]

    alone = _open(tmp_path / "alone", clock, four_eyes=False)
    alone.add("admin.a", PASSWORD, "admin", by="ops")
    for grant in (
        alone.add("admin.b", PASSWORD, "admin", by="admin.a"),
        alone.add("prov.user", PASSWORD, "province", ("44",), by="admin.a"),
        alone.change("prov.user", role="admin", by="admin.a"),
    ):
        assert grant.request_id is None
    assert alone.pending() == [] and set(_status(alone).values()) == {"active"}
    assert dict((u.username, u.role) for u, _s in alone.users())["prov.user"] == "admin"


# ---------------------------------------------------------------------- validation
@pytest.mark.parametrize("code", ["４４", "٤٤", "4٤", "4 4", "+44", "4四"])
def test_division_codes_are_ascii_digits(tmp_path, clock, code: str) -> None:  # type: ignore[no-untyped-def]
    """str.isdigit() takes full-width and Arabic-Indic digits: no prefix of any real code."""
    acc = _open(tmp_path, clock, four_eyes=False)
    with pytest.raises(AccountError, match="digits 0-9"):
        acc.add("prov.user", PASSWORD, "province", (code,), by="ops")
    acc.add("city.user", PASSWORD, "city", ("4401",), by="ops")
    with pytest.raises(AccountError, match="digits 0-9"):
        acc.change("city.user", role="province", divisions=(code,), by="ops")


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("max_failures", 0, "max_failures must be at least 1"),
        ("spray_names", 0, "spray_names must be at least 1"),
        ("window", dt.timedelta(0), "window must be positive"),
        ("backoff_max", dt.timedelta(seconds=10), "backoff_max must be at least backoff_base"),
        ("idle", dt.timedelta(seconds=-1), "idle must be positive"),
    ],
)
def test_bad_policies_are_clear_errors(field: str, value: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Policy(**{field: value})  # type: ignore[arg-type]


# ---------------------------------------------------------------------- command line
def test_users_commands_follow_the_same_rules(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from typer.testing import CliRunner

    from pipelines import chain, cli
    from pipelines.paths import OUTPUTS

    monkeypatch.chdir(tmp_path)  # the CLI's audit log is the default one, under tmp_path
    (tmp_path / "pw").write_text(PASSWORD, encoding="utf-8")
    db = str(tmp_path / "a.sqlite")
    runner = CliRunner()

    def users(*args: str) -> tuple[int, str]:
        result = runner.invoke(cli.app, ["users", *args, "--accounts", db])
        return result.exit_code, " ".join(result.output.split())

    add = ["add", "--password-file", "pw", "--by", "ops", "--username"]
    assert users(*add, "admin.a", "--role", "admin")[1].startswith("account admin.a (admin) added")
    code, out = users(*add, "admin.b", "--role", "admin")
    assert code == 0 and "pending approval by a second administrator (request 1)" in out
    assert "admin.b" in users("pending")[1] and "pending" in users("list")[1]
    assert users("approve", "--request", "1", "--by", "admin.b") == (
        2,
        "error: users approve: a second administrator must approve: 'admin.b' is not an "
        "active administrator",
    )
    assert users("approve", "--request", "1", "--by", "admin.a") == (
        0,
        "request 1 (admin.b) approved",
    )
    code, out = users(
        *add, "prov.user", "--role", "province", "--divisions", "44", "--by", "admin.a"
    )
    assert code == 0 and "(request 2)" in out
    assert users("reject", "--request", "2", "--by", "admin.b")[0] == 0
    assert users(*add, "city.user", "--role", "city", "--divisions", "4401")[0] == 0
    assert users("approve", "--request", "3", "--by", "admin.a")[0] == 0
    code, out = users(
        "change", "--username", "city.user", "--divisions", "4401,4402", "--by", "admin.a"
    )
    assert code == 0 and "(request 4)" in out
    code, out = users(
        "change", "--username", "city.user", "--divisions", "４４０１", "--by", "admin.a"
    )
    assert code == 2 and "digits 0-9" in out
    assert users("unlock", "--username", "city.user", "--client", "10.0.0.1") == (
        0,
        "city.user: 0 throttle record(s) cleared",
    )
    assert users("deactivate", "--username", "city.user", "--by", "admin.a")[0] == 0
    assert "city.user" not in users("pending")[1]
    entries = [
        (e["user"], e["action"], e["object"], e["outcome"])
        for e in chain.read(tmp_path / OUTPUTS.audit_log)
    ]
    assert entries == [
        ("ops", "add_user", "admin.a", "ok"),
        ("ops", "add_user", "admin.b", "pending"),
        ("admin.b", "approve_request", "admin.b", "refused"),
        ("admin.a", "approve_request", "admin.b", "ok"),
        ("admin.a", "add_user", "prov.user", "pending"),
        ("admin.b", "reject_request", "prov.user", "ok"),
        ("ops", "add_user", "city.user", "pending"),
        ("admin.a", "approve_request", "city.user", "ok"),
        ("admin.a", "change_user", "city.user", "pending"),
        (entries[9][0], "unlock_user", "city.user", "ok"),
        ("admin.a", "deactivate_user", "city.user", "ok"),
    ]


# ---------------------------------------------------------------------- service accounts
def test_service_token_lifecycle(tmp_path: Path, clock: _Clock) -> None:
    acc = _open(tmp_path, clock)
    acc.add("admin.a", PASSWORD, "admin", by="ops")
    acc.add("admin.b", PASSWORD, "admin", by="ops")
    acc.approve(1, by="admin.a")
    token, info = acc.add_service(
        "platform-4401", ("4401",), ("classes:read", "results:write"), 30, by="admin.a"
    )
    assert token.startswith(f"rct_{info.id}_") and len(token) > 40
    # only the hash is stored, and the token does not work before a second approval
    assert not any(token in str(r) for r in _rows(acc, "SELECT * FROM api_tokens"))
    assert info.pending and acc.service(token) is None
    assert acc.tokens()[0].status(clock.t) == "pending"
    with pytest.raises(AccountError, match="second administrator"):
        acc.approve(info.request_id or 0, by="admin.a")  # not the one who asked
    acc.approve(info.request_id or 0, by="admin.b")
    svc = acc.service(token)
    assert svc is not None and svc.name == "platform-4401"
    assert svc.may_see("440103") and not svc.may_see("440203")  # a city sees its counties
    assert svc.user.may_see("440106") and svc.scopes == ("classes:read", "results:write")
    assert acc.service(token[:-1] + ("A" if token[-1] != "A" else "B")) is None
    clock.advance(days=31)
    assert acc.service(token) is None and acc.tokens()[0].status(clock.t) == "expired"
    # a write-only token reads no named data: no second approval; revoked at once
    token2, info2 = acc.add_service("platform-4401", ("4401",), ("results:write",), by="admin.a")
    assert not info2.pending and acc.service(token2) is not None
    acc.revoke_token(info2.id)
    assert acc.service(token2) is None
    assert acc.tokens("platform-4401")[0].status(clock.t) == "revoked"
    with pytest.raises(AccountError, match="no unrevoked token"):
        acc.revoke_token(info2.id)


@pytest.mark.parametrize(
    ("name", "divisions", "scopes", "days", "message"),
    [
        ("Platform", ("4401",), ("classes:read",), 90, "service name"),
        ("platform", ("４４０１",), ("classes:read",), 90, "digits 0-9"),
        ("platform", (), ("classes:read",), 90, "needs division codes"),
        ("platform", ("4401",), ("classes:write",), 90, "scopes classes:write"),
        ("platform", ("4401",), (), 90, "scopes"),
        ("platform", ("4401",), ("classes:read",), 0, "expires_days"),
        ("admin.a", ("4401",), ("classes:read",), 90, "staff account"),
    ],
)
def test_bad_service_accounts_are_clear_errors(
    tmp_path: Path,
    clock: _Clock,
    name: str,
    divisions: tuple[str, ...],
    scopes: tuple[str, ...],
    days: int,
    message: str,
) -> None:
    acc = _open(tmp_path, clock)
    acc.add("admin.a", PASSWORD, "admin", by="ops")
    with pytest.raises(AccountError, match=message):
        acc.add_service(name, divisions, scopes, days, by="admin.a")


def test_token_commands(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from typer.testing import CliRunner

    from pipelines import chain, cli
    from pipelines.paths import OUTPUTS

    monkeypatch.chdir(tmp_path)
    db = str(tmp_path / "a.sqlite")
    runner = CliRunner()

    def users(*args: str) -> tuple[int, str]:
        result = runner.invoke(cli.app, ["users", *args, "--accounts", db])
        return result.exit_code, result.output

    code, out = users(
        "add-service", "--name", "platform-4401", "--divisions", "4401",
        "--scopes", "results:write", "--by", "ops",
    )  # fmt: skip
    assert code == 0, out
    token = out.strip().splitlines()[-1]
    svc = Accounts(tmp_path / "a.sqlite").service(token)
    assert svc is not None and svc.scopes == ("results:write",)
    code, out = users("tokens")
    assert code == 0 and svc.token_id in out and "active" in out and token not in out
    code, out = users("add-service", "--name", "pf", "--divisions", "4401", "--scopes", "x:y")
    assert code == 2 and "scopes x:y" in " ".join(out.split())
    assert users("revoke-token", "--token-id", svc.token_id, "--by", "ops")[0] == 0
    assert "revoked" in users("tokens")[1]
    entries = [(e["action"], e["object"]) for e in chain.read(tmp_path / OUTPUTS.audit_log)]
    assert entries == [("add_token", "platform-4401"), ("revoke_token", "platform-4401")]
    assert token not in (tmp_path / OUTPUTS.audit_log).read_text()
