"""Tamper evidence: the hash-chained logs and the monthly seals; accounts and sessions."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from pipelines import chain
from service import audit, seal
from service.accounts import AccountError, Accounts, Policy


def _log(tmp_path, n: int = 5):  # type: ignore[no-untyped-def]
    log = tmp_path / "audit.jsonl"
    for i in range(n):
        chain.append(log, {"user": f"u{i}", "action": "view", "object": f"o{i}"})
    return log


def _lines(log):  # type: ignore[no-untyped-def]
    return log.read_text(encoding="utf-8").splitlines()


def _write(log, lines) -> None:  # type: ignore[no-untyped-def]
    log.write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_an_intact_chain_verifies(tmp_path) -> None:  # type: ignore[no-untyped-def]
    log = _log(tmp_path)
    assert chain.verify(log) == []
    assert [e["seq"] for e in chain.read(log)] == [0, 1, 2, 3, 4]
    assert chain.head(log).seq == 4


def test_an_edited_entry_is_detected(tmp_path) -> None:  # type: ignore[no-untyped-def]
    log = _log(tmp_path)
    lines = _lines(log)
    lines[2] = lines[2].replace('"object":"o2"', '"object":"o9"')
    _write(log, lines)
    found = chain.verify(log)
    assert any("line 3" in p and "edited" in p for p in found)


def test_an_edited_entry_with_its_own_hash_recomputed_breaks_the_next_link(tmp_path) -> None:  # type: ignore[no-untyped-def]
    log = _log(tmp_path)
    lines = _lines(log)
    e = json.loads(lines[2])
    e["object"] = "o9"
    e["sha256"] = chain.entry_hash(e)
    lines[2] = json.dumps(e, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    _write(log, lines)
    found = chain.verify(log)
    assert any("line 4" in p and "does not follow" in p for p in found)


@pytest.mark.parametrize("how", ["delete", "reorder", "insert"])
def test_deleted_reordered_inserted_entries_are_detected(tmp_path, how: str) -> None:  # type: ignore[no-untyped-def]
    log = _log(tmp_path)
    lines = _lines(log)
    if how == "delete":
        del lines[2]
    elif how == "reorder":
        lines[1], lines[2] = lines[2], lines[1]
    else:
        forged = {
            "user": "x",
            "action": "view",
            "object": "forged",
            "seq": 2,
            "previous_sha256": chain.line_hash(lines[1]),
        }
        forged["sha256"] = chain.entry_hash(forged)
        lines.insert(2, json.dumps(forged, sort_keys=True, separators=(",", ":")))
    _write(log, lines)
    assert chain.verify(log), how


def test_cut_or_rewritten_logs_are_caught_by_the_anchors(tmp_path) -> None:  # type: ignore[no-untyped-def]
    log = _log(tmp_path)
    anchor = chain.head(log)
    _write(log, _lines(log)[:3])  # the last two lines cut off: the chain alone still holds
    assert chain.verify(log) == []
    assert any("missing" in p for p in chain.verify(log, [anchor]))
    log.unlink()  # the whole log rewritten, every hash recomputed
    for i in range(5):
        chain.append(log, {"user": f"u{i}", "action": "view", "object": "rewritten"})
    assert chain.verify(log) == []
    assert any("differs" in p for p in chain.verify(log, [anchor]))


def _month(outputs, month: str = "2026-10"):  # type: ignore[no-untyped-def]
    folder = outputs / month
    (folder / "reports").mkdir(parents=True)
    (folder / "classes.parquet").write_bytes(b"classes")
    (folder / "classes_summary.json").write_text("{}")
    (folder / "reports" / "914400000000000000.html").write_text("<html></html>")
    return folder


def test_a_month_checks_against_its_seal_until_a_file_changes(tmp_path) -> None:  # type: ignore[no-untyped-def]
    outputs = tmp_path / "outputs"
    log = outputs / "audit.jsonl"
    folder = _month(outputs)
    with pytest.raises(seal.SealError, match="2026-09 is not classified"):
        seal.seal(outputs, "2026-09", "admin", log)
    assert seal.check(outputs, "2026-10") == [
        "2026-10 has not been sealed (riskclass seal --as-of 2026-10)"
    ]
    seal.seal(outputs, "2026-10", "admin", log)
    assert seal.check(outputs, "2026-10") == []
    cache = seal.HashCache()
    assert seal.check(outputs, "2026-10", cache) == []
    (folder / "classes.parquet").write_bytes(b"CLASSES")
    assert seal.check(outputs, "2026-10", cache) == [
        "2026-10/classes.parquet: changed after the seal"
    ]
    (folder / "classes.parquet").write_bytes(b"classes")
    (folder / "reports" / "914400000000000000.html").unlink()
    (folder / "extra.csv").write_text("x")
    assert seal.check(outputs, "2026-10") == [
        "2026-10/extra.csv: added after the seal",
        "2026-10/reports/914400000000000000.html: sealed, now missing",
    ]


def test_seals_are_chained_and_anchor_the_audit_log(tmp_path) -> None:  # type: ignore[no-untyped-def]
    outputs = tmp_path / "outputs"
    log = outputs / "audit.jsonl"
    _month(outputs, "2026-09")
    _month(outputs, "2026-10")
    audit.record(log, "zhang.san", "login")
    seal.seal(outputs, "2026-09", "admin", log)
    audit.record(log, "zhang.san", "view_report", "914400000000000000")
    second = seal.seal(outputs, "2026-10", "admin", log)
    first = chain.read(seal.seals_path(outputs))[0]
    assert second["previous_sha256"] == chain.line_hash(_lines(seal.seals_path(outputs))[0])
    assert first["audit_head"]["seq"] == 0 and second["audit_head"]["seq"] == 1
    assert all(not v for v in audit.verify(outputs, log).values())
    # rewriting the first seal (to cover a changed file) breaks the chain of seals
    lines = _lines(seal.seals_path(outputs))
    lines[0] = lines[0].replace('"user":"admin"', '"user":"other"')
    _write(seal.seals_path(outputs), lines)
    found = audit.verify(outputs, log)
    assert found[str(seal.seals_path(outputs))]
    # cutting the audit log before an anchored entry is caught
    _write(log, _lines(log)[:1])
    assert any("missing" in p for p in audit.verify(outputs, log)[str(log)])


class _Clock:
    def __init__(self) -> None:
        self.t = dt.datetime(2026, 11, 1, 9, 0, tzinfo=dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.t


def test_accounts_roles_jurisdictions_passwords(tmp_path) -> None:  # type: ignore[no-untyped-def]
    acc = Accounts(tmp_path / "a.sqlite", policy=Policy(four_eyes=False))
    u = acc.add("zhang.san", "long enough password", "county", ("440106",), by="admin").user
    assert u.may_see("440106") and not u.may_see("440105") and not u.may_see(None)
    city = acc.add("li.si", "long enough password", "city", ("4401",), by="admin").user
    assert city.may_see("440105") and not city.may_see("440305")
    ds = acc.add("wang.wu", "long enough password", "data_scientist", by="admin").user
    assert not ds.sees_named and not ds.may_see("440106")
    for args, msg in [
        (("a", "long enough password", "county", ("440106",)), "user name"),
        (("x.y\n", "long enough password", "county", ("440106",)), "user name"),
        (("x.y", "short", "county", ("440106",)), "at least 12"),
        (("x.y", "long enough password", "county", ("4401",)), "6 digits"),
        (("x.y", "long enough password", "county", ("４４０１０６",)), "6 digits"),
        (("x.y", "long enough password", "county", ()), "needs division codes"),
        (("x.y", "long enough password", "admin", ("44",)), "no jurisdiction"),
        (("x.y", "long enough password", "root", ()), "role 'root'"),
        (("zhang.san", "long enough password", "county", ("440106",)), "exists"),
    ]:
        with pytest.raises(AccountError, match=msg):
            acc.add(*args, by="admin")  # type: ignore[arg-type]
    assert [(u.username, status) for u, status in acc.users()] == [
        ("li.si", "active"),
        ("wang.wu", "active"),
        ("zhang.san", "active"),
    ]
    import sqlite3

    db = sqlite3.connect(tmp_path / "a.sqlite")
    stored = db.execute("SELECT password FROM users").fetchall()
    db.close()
    assert all(p.startswith("$argon2id$") and "long enough" not in p for (p,) in stored)


def test_sessions_expire_and_failures_are_limited(tmp_path) -> None:  # type: ignore[no-untyped-def]
    clock = _Clock()
    acc = Accounts(tmp_path / "a.sqlite", now=clock, policy=Policy(four_eyes=False))
    acc.add("zhang.san", "long enough password", "county", ("440106",), by="admin")
    made = acc.login("zhang.san", "long enough password", "127.0.0.1")
    assert made.outcome == "ok" and made.session is not None and made.session.csrf
    assert acc.session(made.token) is not None
    clock.t += dt.timedelta(minutes=29)
    assert acc.session(made.token) is not None  # activity renews the idle time
    clock.t += dt.timedelta(minutes=31)
    assert acc.session(made.token) is None  # idle too long
    token = acc.login("zhang.san", "long enough password", "127.0.0.1").token
    for _ in range(17):  # active every 29 minutes, but 8 hours is the limit
        clock.t += dt.timedelta(minutes=29)
        acc.session(token)
    assert acc.session(token) is None
    for _ in range(5):
        assert acc.login("zhang.san", "wrong password!", "10.0.0.1").outcome == "failed"
    assert acc.login("zhang.san", "long enough password", "10.0.0.1").outcome == "throttled"
    assert acc.login("zhang.san", "long enough password", "10.0.0.2").outcome == "ok"
    clock.t += dt.timedelta(seconds=31)  # the first block is 30 seconds
    token = acc.login("zhang.san", "long enough password", "10.0.0.1").token
    assert token is not None
    acc.deactivate("zhang.san")
    assert acc.session(token) is None
    assert acc.login("zhang.san", "long enough password", "127.0.0.1").outcome == "failed"


def test_resealing_needs_a_reason_and_links_are_refused(tmp_path) -> None:  # type: ignore[no-untyped-def]
    outputs = tmp_path / "outputs"
    log = outputs / "audit.jsonl"
    folder = _month(outputs)
    features = tmp_path / "2026-10.parquet"
    features.write_bytes(b"features")
    seal.seal(outputs, "2026-10", "admin", log, features)
    with pytest.raises(seal.SealError, match="already sealed"):
        seal.seal(outputs, "2026-10", "admin", log, features)
    again = seal.seal(outputs, "2026-10", "admin", log, features, reseal_reason="reclassified")
    assert again["reseal_reason"] == "reclassified" and seal.latest(outputs, "2026-10") == again
    features.write_bytes(b"FEATURES")  # reports are rendered from it: it is sealed too
    assert seal.check(outputs, "2026-10") == ["2026-10 features input: changed after the seal"]
    features.write_bytes(b"features")
    (folder / "plans").mkdir()
    (folder / "plans" / "x").symlink_to(tmp_path)
    assert any("a link" in p for p in seal.check(outputs, "2026-10"))
    with pytest.raises(seal.SealError, match="a link"):
        seal.seal(outputs, "2026-10", "admin", log, features, reseal_reason="again")
