"""What the service may serve, kept current cheaply while many requests arrive.

The service refuses a month whose files no longer match its seal, and everything while the
audit, promotion or seal chain does not verify against its anchors. Checking that on every
request would cost each request a walk of the month and a read of every log; checking it
rarely would serve a changed file for long. The guard does it this way:

- **One check at a time, ahead of the requests.** Each month, and the chains, are checked at
  most once per ``interval``; a request that finds the last result older than that waits for
  the one check under way (or runs it), and every request within the window uses its result.
  While the service runs, a background thread renews each result at half its window, so
  requests find a fresh one and do not wait at all.
- **Cheap change detection.** A file is hashed again only when its size, modification time,
  change time or inode differ from when it was last hashed. The change time (ctime) cannot be
  set back by ``touch`` or ``os.utime``, so an in-place edit with the file times restored is
  seen at the next check.
- **Full re-hashing in the background**, at a bounded rate (bytes per second), of every sealed
  file and of the whole audit log, for what the cheap path cannot see (a file system without
  ctime, a clock set back).
- **The audit log followed, not re-read**: `pipelines.chain.Follower` checks only the lines
  appended since the last check.

Nothing here reads the data it guards beyond hashing it; the results are lists of problems in
the words of `service.seal` and `pipelines.chain`.
"""

from __future__ import annotations

import contextlib
import ctypes
import datetime as dt
import hashlib
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import pyarrow as pa

from pipelines import chain, paths
from service import anchor as anchors_mod
from service import seal

log = logging.getLogger(__name__)


class Stat(NamedTuple):
    size: int
    mtime_ns: int
    ctime_ns: int
    ino: int


def _stat(path: Path) -> Stat:
    st = path.stat()
    return Stat(st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)


class Guard:
    """The checks behind every served page (see the module docstring).

    ``anchored``: a function returning the signed anchors (`service.anchor.read`), or None
    when the site has not configured anchors (then only the chains and the seals' own record
    of the audit head are checked).
    """

    def __init__(
        self,
        outputs: Path,
        audit_log: Path,
        interval: float = 5.0,
        rehash_bytes_per_second: float = 50 * 2**20,
        anchored: Callable[[], anchors_mod.Anchored] | None = None,
        full_verify_seconds: float = 600.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.outputs, self.audit_log = Path(outputs), Path(audit_log)
        self.interval, self.rate = interval, rehash_bytes_per_second
        self.full_verify_seconds = full_verify_seconds
        self._anchored_fn, self._clock = anchored, clock
        self.hashes = seal.HashCache()  # by size, times (ctime too) and inode
        self._results: dict[str, tuple[float, list[str]]] = {}
        self._checks: dict[str, Callable[[], list[str]]] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._locks_lock = threading.Lock()
        self._tampered: dict[tuple[str, str], list[str]] = {}  # (month, seal hash) -> problems
        self._audit_full: list[str] = []
        self._follower = chain.Follower(self.audit_log)
        self._seals: tuple[Stat | None, dict[str, dict[str, Any]], list[str]] | None = None
        self._seal_heads: list[chain.Head] = []  # the audit heads the seals recorded
        self._logs: dict[str, tuple[Any, list[str]]] = {}
        self._anchored: tuple[Any, anchors_mod.Anchored] | None = None
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.last_request = clock()

    # ------------------------------------------------------------------ what requests ask
    def seals(self) -> dict[str, dict[str, Any]]:
        """The latest seal of each month (reread only when the seal log changes)."""
        return self._seal_state()[1]

    def month(self, month: str) -> list[str]:
        """Why ``month`` may not be served (empty: exactly as sealed)."""
        return self._once(f"month:{month}", lambda: self._check_month(month))

    def chains(self) -> list[str]:
        """Why nothing may be served: the chains do not verify against their anchors."""
        return self._once("chains", self._check_chains)

    def _once(
        self, key: str, check: Callable[[], list[str]], fresh: float | None = None
    ) -> list[str]:
        """The result of ``check`` no older than ``fresh`` (default: the interval): the last
        one, or a new one, computed by one caller while the others wait for it."""
        fresh = self.interval if fresh is None else fresh
        self._checks[key] = check  # the background thread keeps it fresh from now on
        last = self._results.get(key)
        if last is not None and self._clock() - last[0] < fresh:
            return last[1]
        with self._locks_lock:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:  # one check at a time; those who waited use its result
            last = self._results.get(key)
            if last is not None and self._clock() - last[0] < fresh:
                return last[1]
            started = self._clock()
            found = check()
            self._results[key] = (started, found)
            return found

    def refresh(self) -> None:
        """Renew every result past half its window, so that requests find a fresh one and
        never wait for a check (the background thread calls this every second)."""
        for key, check in list(self._checks.items()):
            self._once(key, check, fresh=self.interval / 2)

    # ------------------------------------------------------------------ checks
    def _seal_state(self) -> tuple[Stat | None, dict[str, dict[str, Any]], list[str]]:
        """The latest seal of each month and the seal chain's problems, reread only when the
        seal log changes (it holds every manifest: megabytes, not for every check)."""
        path = seal.seals_path(self.outputs)
        st = _stat(path) if path.is_file() else None
        if self._seals is None or self._seals[0] != st:
            entries = chain.read(path)
            self._seal_heads = [
                chain.Head(int(e["audit_head"]["seq"]), e["audit_head"]["line_sha256"])
                for e in entries
                if "audit_head" in e
            ]
            latest = {e["month"]: e for e in entries if "month" in e}
            self._seals = (st, latest, chain.verify(path))
        return self._seals

    def _check_month(self, month: str) -> list[str]:
        _, latest, problems = self._seal_state()
        problems = list(problems)
        entry = latest.get(month)
        if entry is None:
            return [*problems, f"{month} has not been sealed (riskclass seal --as-of {month})"]
        problems += seal.compare(self.outputs, month, entry, self.hashes)
        problems += self._tampered.get((month, entry["sha256"]), [])
        return problems

    def anchored(self) -> anchors_mod.Anchored | None:
        if self._anchored_fn is None:
            return None
        return self._anchored_fn()

    def _check_chains(self) -> list[str]:
        anchored = self.anchored()
        signed = anchored.heads if anchored is not None else {}
        problems = list(anchored.problems) if anchored is not None else []
        _, _, seal_chain = self._seal_state()
        audit_anchors = self._seal_heads + signed.get("audit", [])
        problems += self._follower.update(audit_anchors)
        problems += self._audit_full
        problems += [p for p in seal_chain if p not in problems]
        for name, path in anchors_mod.logs(self.outputs, self.audit_log).items():
            if name == "audit":
                continue
            key = (_stat(path) if path.is_file() else None, tuple(signed.get(name, [])))
            cached = self._logs.get(name)
            if cached is None or cached[0] != key:
                found = chain.verify(path, signed.get(name, []))
                self._logs[name] = (key, found)
            problems += self._logs[name][1]
        return problems

    # ------------------------------------------------------------------ in the background
    def start(self) -> None:
        """Two background threads until `stop`: one renews the checks every second (and hands
        freed memory back to the system when the service is idle), one re-hashes every sealed
        file and re-verifies the whole audit log at the bounded rate."""
        if not self._threads:
            for name, loop in (
                ("seal-refresh", self._refresh_loop),
                ("seal-rehash", self._rehash_loop),
            ):
                t = threading.Thread(target=loop, name=name, daemon=True)
                t.start()
                self._threads.append(t)

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(timeout=10)
        self._threads.clear()

    def _refresh_loop(self) -> None:
        trimmed = False
        while not self._stop.wait(1.0):
            try:
                self.refresh()
                idle = self._clock() - self.last_request > 2.0
                if idle and not trimmed:
                    _trim()
                trimmed = idle
            except Exception as exc:  # keep guarding; the next round tries again
                log.error("background seal check failed: %s", type(exc).__name__)

    def _rehash_loop(self) -> None:
        while not self._stop.is_set():
            self.verify_audit_in_full()
            for month in sorted(self.seals()):
                try:
                    self.rehash(month)
                except Exception as exc:  # fail closed for this month; the others go on
                    entry = self.seals().get(month) or {}
                    self._tampered[(month, str(entry.get("sha256")))] = [
                        f"{month}: cannot be re-hashed ({type(exc).__name__})"
                    ]
                    self._results.pop(f"month:{month}", None)
            self._stop.wait(self.full_verify_seconds)

    def verify_audit_in_full(self) -> list[str]:
        """The whole audit log (an edit inside the part already followed)."""
        anchored = self.anchored()
        signed = anchored.heads.get("audit", []) if anchored is not None else []
        try:
            self._audit_full = chain.verify(self.audit_log, seal.anchors(self.outputs) + signed)
        except (OSError, ValueError, KeyError) as exc:  # fail closed: unreadable is not intact
            self._audit_full = [f"{self.audit_log}: cannot be verified ({type(exc).__name__})"]
        return self._audit_full

    def rehash(self, month: str) -> list[str]:
        """Hash every file of ``month``'s seal from disk, whatever its times say."""
        entry = self.seals().get(month)
        if entry is None:
            return []
        found = []
        folder = paths.Outputs(self.outputs).month(month)
        sealed = dict(entry["files"])
        for name, rec in (entry.get("inputs") or {}).items():
            path = Path(rec["path"])
            if path.is_file() and self._throttled_sha256(path) != rec["sha256"]:
                found.append(f"{month} {name} input: changed after the seal (full re-hash)")
        for rel, digest in sorted(sealed.items()):
            path = folder / rel
            readable = path.is_file() and not path.is_symlink()  # else: the cheap check says so
            if readable and self._throttled_sha256(path) != digest:
                found.append(f"{month}/{rel}: changed after the seal (full re-hash)")
            if self._stop.is_set():
                break
        self._tampered[(month, entry["sha256"])] = found
        if found:
            self._results.pop(f"month:{month}", None)  # refused from the next request on
        return found

    def _throttled_sha256(self, path: Path) -> str:
        h = hashlib.sha256()
        with path.open("rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
                if self.rate > 0:
                    self._stop.wait(len(block) / self.rate)
        return h.hexdigest()


def _trim() -> None:
    """After a burst, hand freed memory back to the system: glibc's heap and Arrow's memory
    pool both keep it otherwise, and the process would stay at its peak size."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    pa.default_memory_pool().release_unused()


def read_anchors(
    anchors: Path, public_key: Path, max_age: dt.timedelta
) -> Callable[[], anchors_mod.Anchored]:
    """A function for `Guard` that rereads the anchor file only when it changes."""
    key = anchors_mod.load_public(public_key)
    cache: dict[str, Any] = {}

    def read() -> anchors_mod.Anchored:
        st = _stat(anchors) if Path(anchors).is_file() else None
        now = dt.datetime.now(dt.UTC)  # an audit check: how old the newest anchor is
        if cache.get("stat") != st or cache.get("at", now) + dt.timedelta(seconds=60) < now:
            cache["value"] = anchors_mod.read(anchors, key, now, max_age)
            cache["stat"], cache["at"] = st, now
        value: anchors_mod.Anchored = cache["value"]
        return value

    return read
