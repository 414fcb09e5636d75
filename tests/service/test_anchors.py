"""Tampering that rewrites the hashes: caught by the signed anchors, not by the chains alone.

Each test first shows what the chains alone say (the attack was invisible before anchors),
then that `audit.verify` with the anchors, and the service's guard, catch it.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path

import pytest

from pipelines import chain
from service import anchor, audit, seal
from service.guard import Guard

MAX_AGE = dt.timedelta(hours=3)


class Site:
    """An outputs folder with an audit log, a sealed month and an anchor key pair."""

    def __init__(self, root: Path) -> None:
        self.outputs = root / "outputs"
        self.log = self.outputs / "audit.jsonl"
        self.anchors = root / "anchors" / "anchors.jsonl"
        self.key, self.pub = root / "keys" / "anchor.key", root / "keys" / "anchor.pub"
        anchor.keygen(self.key, self.pub)
        folder = self.outputs / "2026-10"
        (folder / "plans" / "routine").mkdir(parents=True)
        (folder / "classes.parquet").write_bytes(b"classes")
        (folder / "classes_summary.json").write_text('{"D": 0.03}')
        (folder / "plans" / "routine" / "plan.csv").write_text("uscc,name\n1,a\n2,b\n")

    def record(self, n: int, what: str = "view_report") -> None:
        for i in range(n):
            audit.record(self.log, "zhang.san", what, f"9144{i:014d}")

    def seal(self) -> None:
        seal.seal(self.outputs, "2026-10", "admin", self.log)
        self.anchor("seal 2026-10")

    def anchor(self, reason: str = "hourly") -> None:
        anchor.make(self.anchors, self.key, self.outputs, self.log, reason)

    def anchored(self, now: dt.datetime | None = None) -> anchor.Anchored:
        now = now or dt.datetime.now(dt.UTC)
        return anchor.read(self.anchors, anchor.load_public(self.pub), now, MAX_AGE)

    def verify(self, anchored: bool = True) -> list[str]:
        found = audit.verify(
            self.outputs,
            self.log,
            self.outputs / "promotions.jsonl",
            anchored=self.anchored() if anchored else None,
        )
        return [p for problems in found.values() for p in problems]

    def guard(self) -> Guard:
        return Guard(self.outputs, self.log, interval=0, anchored=self.anchored)


def _lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()


def _rechain(path: Path, entries: list[dict]) -> None:  # type: ignore[type-arg]
    """What an attacker with write access does: rewrite the log with every hash recomputed."""
    path.unlink()
    for e in entries:
        chain.append(
            path, {k: v for k, v in e.items() if k not in ("seq", "previous_sha256", "sha256")}
        )


@pytest.fixture
def site(tmp_path: Path) -> Site:
    s = Site(tmp_path)
    s.record(20, "login")
    s.seal()
    s.record(80)
    s.anchor()  # the hourly anchor
    assert s.verify() == [] and s.guard().chains() == []
    return s


def test_cutting_the_last_lines_is_caught(site: Site) -> None:
    site.log.write_text("\n".join(_lines(site.log)[:-50]) + "\n", encoding="utf-8")
    assert site.verify(anchored=False) == []  # the chain alone still holds
    assert any("missing (lines cut off)" in p for p in site.verify())
    assert any("missing" in p for p in site.guard().chains())


def test_dropping_views_since_the_seal_and_recomputing_the_chain_is_caught(site: Site) -> None:
    entries = [e for e in chain.read(site.log) if e["action"] != "view_report"]
    _rechain(site.log, entries)
    assert site.verify(anchored=False) == []  # the chain holds, the seal's audit head too
    found = site.verify()
    assert any("audit.jsonl: entry seq 99" in p and "missing" in p for p in found), found
    assert site.guard().chains()


def test_rewriting_the_audit_log_and_the_seals_with_new_heads_is_caught(site: Site) -> None:
    audit_entries = chain.read(site.log)
    for e in audit_entries:
        e["user"] = "someone.else"
    _rechain(site.log, audit_entries)
    # the seals rewritten to point at the new log's head
    seals = chain.read(seal.seals_path(site.outputs))
    h = chain.head(site.log)
    for e in seals:
        e["audit_head"] = {"seq": 19, "line_sha256": chain.line_hash(_lines(site.log)[19])}
    _rechain(seal.seals_path(site.outputs), seals)
    assert h.seq == 99
    assert site.verify(anchored=False) == []  # invisible without anchors
    found = site.verify()
    assert any("audit.jsonl: entry seq" in p and "rewritten" in p for p in found), found
    assert any("seals.jsonl: entry seq 0" in p and "rewritten" in p for p in found), found
    assert site.guard().chains()


def test_a_resealed_month_with_a_recomputed_seal_is_caught(site: Site) -> None:
    summary = site.outputs / "2026-10" / "classes_summary.json"
    summary.write_text('{"D": 0.01}')
    seals = chain.read(seal.seals_path(site.outputs))
    seals[-1]["files"]["classes_summary.json"] = seal._sha256(summary)
    _rechain(seal.seals_path(site.outputs), seals)
    assert site.verify(anchored=False) == []  # the month matches its (forged) seal
    found = site.verify()
    assert any("seals.jsonl: entry seq 0 differs" in p for p in found), found
    assert site.guard().chains()


def test_an_in_place_edit_with_the_times_restored_is_caught(site: Site) -> None:
    plan = site.outputs / "2026-10" / "plans" / "routine" / "plan.csv"
    guard = site.guard()
    assert guard.month("2026-10") == []  # hashed once, then known by its stat
    before = plan.stat()
    text = plan.read_bytes()
    with plan.open("r+b") as f:  # same size, same inode
        f.write(text.replace(b"1,a", b"1,z"))
    os.utime(plan, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert plan.stat().st_mtime_ns == before.st_mtime_ns and plan.stat().st_size == before.st_size
    assert guard.month("2026-10") == ["2026-10/plans/routine/plan.csv: changed after the seal"]
    assert any("plan.csv: changed after the seal" in p for p in site.verify())


def test_the_background_rehash_finds_what_the_stat_cannot(site: Site) -> None:
    guard = site.guard()
    assert guard.month("2026-10") == []
    plan = site.outputs / "2026-10" / "plans" / "routine" / "plan.csv"
    sealed_digest = guard.hashes.seen[str(plan)][1]
    plan.write_bytes(plan.read_bytes().replace(b"2,b", b"2,y"))
    # a file system whose times say nothing: the cache still takes the file for the sealed one
    guard.hashes.seen[str(plan)] = (seal.HashCache.key(plan), sealed_digest)
    assert guard.month("2026-10") == []  # the cheap path is fooled by the forged cache entry
    assert guard.rehash("2026-10") == [
        "2026-10/plans/routine/plan.csv: changed after the seal (full re-hash)"
    ]
    assert guard.month("2026-10") == [
        "2026-10/plans/routine/plan.csv: changed after the seal (full re-hash)"
    ]


def test_a_forged_or_foreign_anchor_does_not_count(site: Site, tmp_path: Path) -> None:
    other = tmp_path / "other"
    anchor.keygen(other / "k", other / "p")
    cut = _lines(site.log)[:-50]
    site.log.write_text("\n".join(cut) + "\n", encoding="utf-8")
    # the attacker appends an anchor of the cut log, signed with a key of their own
    anchor.make(site.anchors, other / "k", site.outputs, site.log, "forged")
    found = site.verify()
    assert any("signature does not verify" in p for p in found)
    assert any("missing" in p for p in found)  # the genuine anchors still hold the old head
    # an entry edited in the anchor file breaks the anchor chain
    lines = _lines(site.anchors)
    e = json.loads(lines[0])
    e["heads"]["audit"]["seq"] = 5
    lines[0] = json.dumps(e, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    site.anchors.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert any("edited" in p for p in site.verify())


def test_old_or_missing_anchors_are_reported(site: Site) -> None:
    later = dt.datetime.now(dt.UTC) + dt.timedelta(hours=4)
    assert "older than" in str(site.anchored(later).stale)
    site.anchors.unlink()
    assert "no valid anchor" in str(site.anchored().stale)


def test_keys_are_not_overwritten_and_the_private_key_is_private(site: Site) -> None:
    with pytest.raises(anchor.AnchorError, match="exists"):
        anchor.keygen(site.key, site.pub)
    assert site.key.stat().st_mode & 0o077 == 0


def test_a_user_name_with_a_unicode_line_separator_does_not_break_the_chain(tmp_path: Path) -> None:
    log = tmp_path / "audit.jsonl"
    audit.record(log, "x\u2028y\x85z\u2029", "login", outcome="failed")
    audit.record(log, "zhang.san", "login")
    assert chain.verify(log) == [] and len(chain.read(log)) == 2


def test_the_follower_reads_only_what_was_appended(tmp_path: Path) -> None:
    log = tmp_path / "audit.jsonl"
    for i in range(5):
        chain.append(log, {"i": i})
    f = chain.Follower(log)
    assert f.update() == []
    for i in range(5, 8):
        chain.append(log, {"i": i})
    head = chain.head(log)
    assert f.update([head]) == []
    log.write_text("\n".join(_lines(log)[:-2]) + "\n", encoding="utf-8")  # cut
    assert any("missing" in p for p in f.update([head]))
    for i in range(2):  # the cut lines replaced by others of the same seq
        chain.append(log, {"i": 100 + i})
    assert any("rewritten" in p for p in f.update([head]))


def test_one_check_of_a_month_at_a_time(site: Site) -> None:
    """Thirty requests at once after the window: one check runs, the others use its result."""
    import threading
    import time

    t = [0.0]
    guard = Guard(site.outputs, site.log, interval=5.0, clock=lambda: t[0])
    runs = []
    real = guard._check_month

    def slow(month: str) -> list[str]:
        runs.append(month)
        time.sleep(0.2)
        return real(month)

    guard._check_month = slow  # type: ignore[method-assign]
    assert guard.month("2026-10") == [] and len(runs) == 1
    assert guard.month("2026-10") == [] and len(runs) == 1  # within the window
    t[0] = 10.0  # the window passed
    results: list[list[str]] = []
    threads = [
        threading.Thread(target=lambda: results.append(guard.month("2026-10"))) for _ in range(30)
    ]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert len(runs) == 2 and results == [[]] * 30


def test_a_byte_that_is_not_utf8_is_an_edit_not_a_crash(site: Site) -> None:
    data = bytearray(site.log.read_bytes())
    at = data.index(b'"object":"9144') + 12
    data[at] = 0xFF  # same length, same last line
    site.log.write_bytes(bytes(data))
    assert any("edited" in p for p in chain.verify(site.log))
    guard = site.guard()
    assert guard.verify_audit_in_full() and guard.chains()


def test_a_deleted_month_folder_is_reported_missing(site: Site) -> None:
    import shutil

    shutil.rmtree(site.outputs / "2026-10")
    assert "2026-10/classes.parquet: sealed, now missing" in site.guard().month("2026-10")
