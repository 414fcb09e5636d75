"""Accounts, roles, jurisdictions, sessions, login throttling and four-eyes approval (SQLite).

Roles:

- ``county``, ``city``, ``province``: bureau staff; they see the named lists, reports and
  plans of enterprises whose division code starts with one of their codes (a county's six
  digits, a city's four, the province's two), and nothing else;
- ``data_scientist``: models and aggregate figures; named lists and reports only when granted
  (``named_lists``), and then within their codes;
- ``admin``: manages accounts and reads the audit log; sees no named list.

Passwords are hashed with argon2 (argon2-cffi's defaults); there is no default account or
password: the first admin is made with ``riskclass users add --role admin``. Sessions are
random tokens (only their SHA-256 is stored) with an idle and an absolute expiry, each with
its own CSRF token.

Login throttling is per (user name, client address) pair and nothing wider, so that nobody can
lock someone else out: after ``max_failures`` failures (no quiet ``window`` between them) the
pair is blocked for ``backoff_base``, doubling with each further failure up to
``backoff_max``; while blocked even the right password is refused *from that address*, but the
same user logs in from another address and other users log in from that one. Failures for
unknown names are kept exactly like those for real ones (no hint which names exist). One
address failing for many names (password spraying) is not blocked but reported
(`Attempt.spraying`) for the audit log. Keys are cut to `MAX_FIELD` characters and rows are
forgotten a window after their last failure or block, so unauthenticated requests cannot
grow the database beyond what one window's attempts write.

Service accounts (`add_service`): machines such as the double-random platform, with bearer
tokens scoped to what they may do (`SCOPES`) and to a jurisdiction (division code prefixes of
2, 4 or 6 digits, as for staff: a city's code covers its counties). A token is 32 random bytes
(`secrets.token_urlsafe`), shown once; only its SHA-256 is stored: a salted slow hash such as
argon2 guards low-entropy passwords against guessing, which 256 random bits need no help
against, and a plain hash keeps each API call's check to one indexed look-up. A token that
reads named classes waits for a second administrator under four eyes, like a staff account
that sees named data (a request of kind ``token``); it expires (``expires_days``) and can be
revoked at once (`revoke_token`).

Four eyes (``Policy.four_eyes``): creating an account that sees named data or an
administrator, or widening an account's rights, is a *request* that another active
administrator must approve (not the requester, not the account itself); narrowing applies at
once. The only exception is the first administrator, made while there is no active one.

The clock is passed in (``now``) so that expiry, throttling and back-off can be tested.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import hmac
import math
import re
import secrets
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

Role = Literal["county", "city", "province", "data_scientist", "admin"]
ROLES: tuple[Role, ...] = ("county", "city", "province", "data_scientist", "admin")
Status = Literal["active", "inactive", "pending"]
CODE_DIGITS = {"county": 6, "city": 4, "province": 2}
NAME = re.compile(r"[a-z][a-z0-9._-]{1,39}")  # used with fullmatch: "$" would allow a "\n"
DIGITS = re.compile(r"[0-9]+")  # not str.isdigit(): that takes full-width ４４ and Arabic-Indic ٤٤
#: longest user name or client string kept as a key (valid names have at most 40 characters,
#: an IPv6 address 45): a 500 KB name posted to the login costs 64 characters, not 500 KB
MAX_FIELD = 64
Clock = Callable[[], dt.datetime]
#: password checks at once (each argon2 check holds 64 MiB; a burst of logins queues here)
_HASHING = threading.BoundedSemaphore(2)

SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
  username TEXT PRIMARY KEY, password TEXT NOT NULL, role TEXT NOT NULL,
  divisions TEXT NOT NULL, named_lists INTEGER NOT NULL DEFAULT 0,
  active INTEGER NOT NULL DEFAULT 1, created TEXT NOT NULL,
  pending INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS sessions (
  token_sha256 TEXT PRIMARY KEY, username TEXT NOT NULL, csrf TEXT NOT NULL,
  started TEXT NOT NULL, last_seen TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS throttle (
  username TEXT NOT NULL, client TEXT NOT NULL, failures INTEGER NOT NULL,
  first_failure TEXT NOT NULL, last_failure TEXT NOT NULL, blocked_until TEXT,
  noted TEXT NOT NULL, expires TEXT NOT NULL, PRIMARY KEY (username, client));
CREATE INDEX IF NOT EXISTS throttle_expires ON throttle (expires);
CREATE INDEX IF NOT EXISTS throttle_client ON throttle (client);
CREATE TABLE IF NOT EXISTS requests (
  id INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, username TEXT NOT NULL,
  role TEXT NOT NULL, divisions TEXT NOT NULL, named_lists INTEGER NOT NULL,
  requested_by TEXT NOT NULL, requested_at TEXT NOT NULL,
  status TEXT NOT NULL DEFAULT 'pending', decided_by TEXT, decided_at TEXT);
CREATE INDEX IF NOT EXISTS requests_open ON requests (status, username);
CREATE TABLE IF NOT EXISTS api_tokens (
  id TEXT PRIMARY KEY, token_sha256 TEXT NOT NULL UNIQUE, name TEXT NOT NULL,
  divisions TEXT NOT NULL, scopes TEXT NOT NULL, created TEXT NOT NULL,
  created_by TEXT NOT NULL, expires TEXT NOT NULL, revoked TEXT,
  pending INTEGER NOT NULL DEFAULT 0, request_id INTEGER);
"""


class AccountError(ValueError):
    """A bad account request (unknown role, bad code, weak password, name taken, no second
    administrator ...)."""


@dataclass(frozen=True)
class User:
    username: str
    role: Role
    divisions: tuple[str, ...]
    named_lists: bool

    @property
    def sees_named(self) -> bool:
        return self.role in CODE_DIGITS or (self.role == "data_scientist" and self.named_lists)

    def may_see(self, division_code: str | None) -> bool:
        """Is an enterprise registered in ``division_code`` within this user's jurisdiction?"""
        code = str(division_code or "")
        return self.sees_named and any(code.startswith(d) for d in self.divisions)


@dataclass(frozen=True)
class Session:
    user: User
    csrf: str


@dataclass(frozen=True)
class Attempt:
    """What one login attempt came to."""

    outcome: Literal["ok", "failed", "throttled"]
    token: str | None = None  # ok only
    session: Session | None = None  # ok only
    retry_after: int = 0  # seconds, throttled only (for a Retry-After header)
    #: False when this (name, address) already had this outcome (a failure, or a refusal while
    #: blocked) in the current window: the caller audits each once per window, not per request
    first_in_window: bool = True
    #: this address has just failed for `Policy.spray_names` different names within the window
    #: (True only on the attempt that crosses the threshold, so that it is audited once)
    spraying: bool = False


@dataclass(frozen=True)
class Grant:
    """An account as added or changed. ``request_id`` None: in force now; else the number of
    the request a second administrator must approve (until then nothing changes)."""

    user: User
    request_id: int | None


@dataclass(frozen=True)
class Request:
    """A request for an account or wider rights, waiting for (or given) a second approval."""

    id: int
    kind: Literal["create", "change", "token"]  # token: a service account's token
    username: str
    role: Role
    divisions: tuple[str, ...]
    named_lists: bool
    requested_by: str
    requested_at: dt.datetime
    status: Literal["pending", "approved", "rejected"]
    decided_by: str | None  # None on a decided request: closed by deactivating the account
    decided_at: dt.datetime | None

    @property
    def user(self) -> User:
        """The account as requested."""
        return User(self.username, self.role, self.divisions, self.named_lists)


#: what a service account's token may be allowed to do (`riskclass users add-service`)
SCOPES = ("classes:read", "results:write", "export:read")
#: scopes that read named data: such a token needs a second administrator under four eyes
NAMED_SCOPES = frozenset({"classes:read", "export:read"})
TOKEN_PREFIX = "rct_"
MAX_TOKEN_DAYS = 366


@dataclass(frozen=True)
class Service:
    """The caller behind a valid API token: its service account, jurisdiction and scopes."""

    name: str
    divisions: tuple[str, ...]
    scopes: tuple[str, ...]
    token_id: str

    def may_see(self, division_code: str | None) -> bool:
        code = str(division_code or "")
        return any(code.startswith(d) for d in self.divisions)

    @property
    def user(self) -> User:
        """The account as `service.data` scopes lists: named data within its codes."""
        return User(self.name, "data_scientist", self.divisions, True)


@dataclass(frozen=True)
class TokenInfo:
    """A token as listed (never the token itself)."""

    id: str
    name: str
    divisions: tuple[str, ...]
    scopes: tuple[str, ...]
    created: dt.datetime
    created_by: str
    expires: dt.datetime
    revoked: dt.datetime | None
    pending: bool
    request_id: int | None

    def status(self, now: dt.datetime) -> str:
        if self.revoked is not None:
            return "revoked"
        if self.pending:
            return "pending"
        return "expired" if self.expires <= now else "active"


@dataclass(frozen=True)
class Policy:
    max_failures: int = 5
    window: dt.timedelta = dt.timedelta(minutes=15)
    backoff_base: dt.timedelta = dt.timedelta(seconds=30)
    backoff_max: dt.timedelta = dt.timedelta(minutes=15)
    #: distinct user names failing from one address within the window that flag spraying
    #: (an office behind one proxy has a few typos a morning, not ten different names)
    spray_names: int = 10
    four_eyes: bool = True
    idle: dt.timedelta = dt.timedelta(minutes=30)
    absolute: dt.timedelta = dt.timedelta(hours=8)
    min_password: int = 12

    def __post_init__(self) -> None:
        zero = dt.timedelta(0)
        problems = [
            f"{name} must be at least 1"
            for name in ("max_failures", "spray_names", "min_password")
            if getattr(self, name) < 1
        ] + [
            f"{name} must be positive"
            for name in ("window", "backoff_base", "backoff_max", "idle", "absolute")
            if getattr(self, name) <= zero
        ]
        if self.backoff_max < self.backoff_base:
            problems.append("backoff_max must be at least backoff_base")
        if problems:
            raise ValueError(f"Policy: {'; '.join(problems)}")


def _iso(t: dt.datetime) -> str:
    # fixed width (always microseconds, always UTC) so that SQLite compares times as strings
    return t.astimezone(dt.UTC).isoformat(timespec="microseconds")


def _time(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _codes(divisions: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(d.strip() for d in divisions if d.strip()))


def _split(text: str) -> tuple[str, ...]:
    return tuple(d for d in str(text).split(",") if d)


def widens(old: User, new: User) -> bool:
    """Would changing ``old`` into ``new`` let the account see anything it does not see now?

    Becoming an administrator, or seeing named data under a division code that none of the
    old codes covers (named lists turned on, a new or broader prefix, a move from county to
    city to province). Aggregate figures are not counted: a data scientist without named
    lists is made without a second approval too.

    >>> county = User("a.b", "county", ("440106",), False)
    >>> widens(county, User("a.b", "city", ("4401",), False))
    True
    >>> widens(User("a.b", "province", ("44",), False), county)
    False
    """
    if new.role == "admin":
        return old.role != "admin"
    if not new.sees_named:
        return False
    if not old.sees_named:
        return True
    return not all(any(d.startswith(o) for o in old.divisions) for d in new.divisions)


def _needs_second(user: User) -> bool:
    """Does making this account need a second administrator (while four eyes are on)?"""
    return user.sees_named or user.role == "admin"


#: how often a session's last activity is written (its idle expiry is 30 minutes by default)
SEEN_EVERY = dt.timedelta(minutes=1)


class Accounts:
    def __init__(self, path: Path, now: Clock | None = None, policy: Policy | None = None) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.now = now or (lambda: dt.datetime.now(dt.UTC))
        self.policy = policy or Policy()
        self.hasher = PasswordHasher()
        self._readers = threading.local()  # one read connection per thread, for `session`
        with self._db() as db:
            db.execute("PRAGMA journal_mode=WAL")  # kept in the file: once is enough
            db.executescript(SCHEMA)
        with self._tx() as db:  # a database made before throttling and approvals
            columns = {r[1] for r in db.execute("PRAGMA table_info(users)")}
            if "pending" not in columns:
                db.execute("ALTER TABLE users ADD COLUMN pending INTEGER NOT NULL DEFAULT 0")
            db.execute("DROP TABLE IF EXISTS failures")

    @contextlib.contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        try:
            yield db
        finally:
            db.close()

    @contextlib.contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        """One write transaction, taken at once (``BEGIN IMMEDIATE``): a read then a write
        inside it cannot interleave with another process's."""
        with self._db() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    # ------------------------------------------------------------------ accounts
    def add(
        self,
        username: str,
        password: str,
        role: str,
        divisions: tuple[str, ...] = (),
        named_lists: bool = False,
        *,
        by: str,
    ) -> Grant:
        """Add an account for ``by``. An account that sees named data, or an administrator,
        is made inactive and waits for a second administrator (`approve`), unless four eyes
        are off or it is the first administrator (no active one yet)."""
        if not NAME.fullmatch(username):
            raise AccountError(
                f"user name {username!r}: 2-40 characters, lower-case letters, digits, . _ -"
            )
        user = self._valid(username, role, _codes(divisions), named_lists)
        if len(password) < self.policy.min_password:
            raise AccountError(f"password: at least {self.policy.min_password} characters")
        hashed = self.hasher.hash(password)  # slow: before the transaction, not inside it
        now = _iso(self.now())
        with self._tx() as db:
            if db.execute("SELECT 1 FROM users WHERE username = ?", (username,)).fetchall():
                raise AccountError(f"user {username!r} exists")
            bootstrap = user.role == "admin" and not self._admins(db)
            wait = self.policy.four_eyes and _needs_second(user) and not bootstrap
            db.execute(
                "INSERT INTO users (username, password, role, divisions, named_lists, active, "
                "created, pending) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    username,
                    hashed,
                    user.role,
                    ",".join(user.divisions),
                    int(named_lists),
                    int(not wait),
                    now,
                    int(wait),
                ),
            )
            return Grant(user, self._request(db, "create", user, by, now) if wait else None)

    def change(
        self,
        username: str,
        *,
        role: str | None = None,
        divisions: tuple[str, ...] | None = None,
        named_lists: bool | None = None,
        by: str,
    ) -> Grant:
        """Change an active account's role, codes or named lists (what is not given stays;
        codes are dropped when the new role has no jurisdiction). A narrowing applies at once,
        a widening (`widens`) waits for a second administrator; either way the account's
        sessions end when its rights change. Refused while a request for it is open."""
        with self._tx() as db:
            row = db.execute(
                "SELECT username, role, divisions, named_lists, active, pending FROM users "
                "WHERE username = ?",
                (username,),
            ).fetchall()
            if not row:
                raise AccountError(f"no user {username!r}")
            old = self._user(row[0])
            if row[0][5]:
                raise AccountError(f"user {username!r} awaits approval; decide that first")
            if not row[0][4]:
                raise AccountError(f"user {username!r} is deactivated")
            new_role = old.role if role is None else role
            named = old.named_lists if named_lists is None else named_lists
            if divisions is not None:
                codes = _codes(divisions)
            elif new_role in CODE_DIGITS or (new_role == "data_scientist" and named):
                codes = old.divisions
            else:
                codes = ()
            new = self._valid(username, new_role, codes, named)
            open_ = db.execute(
                "SELECT id FROM requests WHERE status = 'pending' AND username = ?", (username,)
            ).fetchall()
            if open_:
                raise AccountError(
                    f"request {open_[0][0]} for {username!r} is waiting for approval; "
                    "have it approved or rejected first"
                )
            if new == old:
                return Grant(old, None)
            now = _iso(self.now())
            if self.policy.four_eyes and widens(old, new):
                return Grant(new, self._request(db, "change", new, by, now))
            self._apply(db, new)
            return Grant(new, None)

    def pending(self) -> list[Request]:
        """The requests waiting for a second administrator, oldest first."""
        with self._db() as db:
            rows = db.execute(
                "SELECT * FROM requests WHERE status = 'pending' ORDER BY id"
            ).fetchall()
        return [self._req(r) for r in rows]

    def approve(self, request_id: int, *, by: str) -> User:
        """Put request ``request_id`` in force: activate the account or apply the change (its
        sessions end). ``by`` must be an active administrator other than the one who asked
        and other than the account itself."""
        with self._tx() as db:
            req = self._decidable(db, request_id, by)
            if req.kind == "token":
                done = db.execute(
                    "UPDATE api_tokens SET pending = 0 WHERE request_id = ? AND pending = 1 "
                    "AND revoked IS NULL",
                    (request_id,),
                ).rowcount
            elif req.kind == "create":
                done = db.execute(
                    "UPDATE users SET active = 1, pending = 0 WHERE username = ? AND pending = 1",
                    (req.username,),
                ).rowcount
            else:
                done = len(
                    db.execute(
                        "SELECT 1 FROM users WHERE username = ? AND active = 1", (req.username,)
                    ).fetchall()
                )
                if done:
                    self._apply(db, req.user)
            if not done:
                raise AccountError(f"request {request_id}: user {req.username!r} has changed since")
            self._decide(db, request_id, "approved", by)
        return req.user

    def reject(self, request_id: int, *, by: str) -> None:
        """Turn request ``request_id`` down (same rule as `approve` for who may); a rejected
        new account is removed, so its name is free again."""
        with self._tx() as db:
            req = self._decidable(db, request_id, by)
            if req.kind == "create":
                db.execute("DELETE FROM users WHERE username = ? AND pending = 1", (req.username,))
            elif req.kind == "token":
                db.execute("DELETE FROM api_tokens WHERE request_id = ?", (request_id,))
            self._decide(db, request_id, "rejected", by)

    def users(self) -> list[tuple[User, Status]]:
        """Every account with its status: active, inactive (deactivated) or pending (made,
        waiting for a second administrator; it cannot log in)."""
        with self._db() as db:
            rows = db.execute(
                "SELECT username, role, divisions, named_lists, active, pending FROM users "
                "ORDER BY username"
            ).fetchall()
        return [(self._user(r), self._status(r[4], r[5])) for r in rows]

    @staticmethod
    def _status(active: int, pending: int) -> Status:
        return "pending" if pending else "active" if active else "inactive"

    def deactivate(self, username: str) -> None:
        """Deactivate an account: its sessions end and its open requests are closed."""
        with self._tx() as db:
            if (
                db.execute(
                    "UPDATE users SET active = 0, pending = 0 WHERE username = ?", (username,)
                ).rowcount
                == 0
            ):
                raise AccountError(f"no user {username!r}")
            db.execute("DELETE FROM sessions WHERE username = ?", (username,))
            db.execute(
                "UPDATE requests SET status = 'rejected', decided_at = ? "
                "WHERE status = 'pending' AND username = ?",
                (_iso(self.now()), username),
            )

    def count(self) -> int:
        with self._db() as db:
            return int(db.execute("SELECT count(*) FROM users").fetchall()[0][0])

    def _valid(self, username: str, role: str, divisions: tuple[str, ...], named: bool) -> User:
        if role not in ROLES:
            raise AccountError(f"role {role!r} is not one of {', '.join(ROLES)}")
        self._check_divisions(role, divisions, named)
        return User(username, role, divisions, named)  # a Role: checked against ROLES above

    @staticmethod
    def _check_divisions(role: str, divisions: tuple[str, ...], named: bool) -> None:
        digits = CODE_DIGITS.get(role)
        if digits is not None or (role == "data_scientist" and named):
            if not divisions:
                raise AccountError(f"role {role} needs division codes (its jurisdiction)")
            for d in divisions:
                ok = bool(DIGITS.fullmatch(d)) and (
                    len(d) == digits if digits else len(d) in (2, 4, 6)
                )
                if not ok:
                    raise AccountError(
                        f"division code {d!r} for role {role}: "
                        f"{digits or '2, 4 or 6'} digits 0-9 (GB/T 2260 prefix)"
                    )
        elif divisions:
            raise AccountError(f"role {role} has no jurisdiction; give no division codes")

    @staticmethod
    def _admins(db: sqlite3.Connection) -> int:
        rows = db.execute("SELECT count(*) FROM users WHERE role = 'admin' AND active = 1")
        return int(rows.fetchall()[0][0])

    @staticmethod
    def _request(db: sqlite3.Connection, kind: str, user: User, by: str, at: str) -> int:
        cursor = db.execute(
            "INSERT INTO requests (kind, username, role, divisions, named_lists, requested_by, "
            "requested_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                kind,
                user.username,
                user.role,
                ",".join(user.divisions),
                int(user.named_lists),
                by,
                at,
            ),
        )
        return int(cursor.lastrowid or 0)

    @staticmethod
    def _apply(db: sqlite3.Connection, user: User) -> None:
        db.execute(
            "UPDATE users SET role = ?, divisions = ?, named_lists = ? WHERE username = ?",
            (user.role, ",".join(user.divisions), int(user.named_lists), user.username),
        )
        db.execute("DELETE FROM sessions WHERE username = ?", (user.username,))

    def _decidable(self, db: sqlite3.Connection, request_id: int, by: str) -> Request:
        """The open request ``request_id``, if ``by`` may decide it (else `AccountError`)."""
        rows = db.execute("SELECT * FROM requests WHERE id = ?", (request_id,)).fetchall()
        if not rows:
            raise AccountError(f"no request {request_id}")
        req = self._req(rows[0])
        if req.status != "pending":
            raise AccountError(f"request {request_id} is already {req.status}")
        second = "a second administrator must approve"
        if not db.execute(
            "SELECT 1 FROM users WHERE username = ? AND role = 'admin' AND active = 1", (by,)
        ).fetchall():
            raise AccountError(f"{second}: {by!r} is not an active administrator")
        if by == req.requested_by:
            raise AccountError(f"{second}: {by!r} made request {request_id}")
        if by == req.username:
            raise AccountError(f"{second}: {by!r} cannot decide on their own account")
        return req

    def _decide(self, db: sqlite3.Connection, request_id: int, status: str, by: str) -> None:
        db.execute(
            "UPDATE requests SET status = ?, decided_by = ?, decided_at = ? WHERE id = ?",
            (status, by, _iso(self.now()), request_id),
        )

    @staticmethod
    def _user(row: tuple[Any, ...]) -> User:
        return User(row[0], row[1], _split(row[2]), bool(row[3]))

    @staticmethod
    def _req(row: tuple[Any, ...]) -> Request:
        return Request(
            id=row[0],
            kind=row[1],
            username=row[2],
            role=row[3],
            divisions=_split(row[4]),
            named_lists=bool(row[5]),
            requested_by=row[6],
            requested_at=_time(row[7]),
            status=row[8],
            decided_by=row[9],
            decided_at=_time(row[10]) if row[10] else None,
        )

    # ------------------------------------------------------------------ login and sessions
    def login(self, username: str, password: str, client: str) -> Attempt:
        """Check a password from ``client``; a new session when it is right.

        The attempt is counted as a failure of its (name, address) pair before the password is
        checked, in one transaction with reading the count, so a burst of parallel guesses
        cannot pass the limit; a success takes it back (and forgets the pair's failures).
        A blocked pair is refused without checking the password at all."""
        # a name longer than MAX_FIELD is nobody's: its key is cut, the attempt simply fails
        name, client, real = username[:MAX_FIELD], client[:MAX_FIELD], len(username) <= MAX_FIELD
        now, p = self.now(), self.policy
        with self._tx() as db:
            self._forget(db, now)
            row = db.execute(
                "SELECT failures, blocked_until, noted FROM throttle "
                "WHERE username = ? AND client = ?",
                (name, client),
            ).fetchall()
            failures, blocked, noted = row[0] if row else (0, None, None)
            # "first": the first of this outcome (failed, or throttled) for the pair within
            # the window, so the caller audits the failure and the block once each
            until_now = _time(blocked) if blocked is not None else None
            kind = "throttled" if until_now is not None and until_now > now else "failed"
            seen, _, at = (noted or "").partition("@")
            first = not row or seen != kind or _time(at) + p.window <= now
            if first and row:
                db.execute(
                    "UPDATE throttle SET noted = ? WHERE username = ? AND client = ?",
                    (f"{kind}@{_iso(now)}", name, client),
                )
            if until_now is not None and kind == "throttled":
                wait = math.ceil((until_now - now).total_seconds())
                return Attempt("throttled", retry_after=max(wait, 1), first_in_window=first)
            failures += 1
            until = now + self._backoff(failures) if failures >= p.max_failures else None
            # forgotten a window after the last failure or the end of the block, so a capped
            # block cannot end with a fresh set of max_failures guesses
            expires = _iso((until or now) + p.window)
            if row:
                db.execute(
                    "UPDATE throttle SET failures = ?, last_failure = ?, blocked_until = ?, "
                    "expires = ? WHERE username = ? AND client = ?",
                    (failures, _iso(now), until and _iso(until), expires, name, client),
                )
            else:
                db.execute(
                    "INSERT INTO throttle VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        name,
                        client,
                        failures,
                        _iso(now),
                        _iso(now),
                        until and _iso(until),
                        f"failed@{_iso(now)}",
                        expires,
                    ),
                )
            names = db.execute(
                "SELECT count(*) FROM throttle WHERE client = ?", (client,)
            ).fetchall()[0][0]
            spraying = not row and names == p.spray_names  # a new name just reached it
            account = db.execute(
                "SELECT username, role, divisions, named_lists, password FROM users "
                "WHERE username = ? AND active = 1",
                (name if real else "",),
            ).fetchall()
        if not self._verify(account[0][4] if account else None, password):
            return Attempt("failed", first_in_window=first, spraying=spraying)
        token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        with self._tx() as db:
            db.execute("DELETE FROM throttle WHERE username = ? AND client = ?", (name, client))
            t = _iso(self.now())
            db.execute(
                "INSERT INTO sessions VALUES (?, ?, ?, ?, ?)", (_sha(token), name, csrf, t, t)
            )
        return Attempt("ok", token=token, session=Session(self._user(account[0][:4]), csrf))

    def _backoff(self, failures: int) -> dt.timedelta:
        p = self.policy
        doublings = min(failures - p.max_failures, 32)  # 2**32 * 30 s is far past any cap
        backoff: dt.timedelta = min(p.backoff_base * 2**doublings, p.backoff_max)
        return backoff

    def _verify(self, hashed: str | None, password: str) -> bool:
        with _HASHING:  # argon2 takes 64 MiB per check: a bounded number at a time
            if hashed is None:  # same work for an unknown name: no timing hint that it is
                with contextlib.suppress(VerificationError, InvalidHashError):
                    self.hasher.verify(self._dummy(), password)
                return False
            try:
                return self.hasher.verify(hashed, password)
            except (VerificationError, InvalidHashError):
                return False

    def _forget(self, db: sqlite3.Connection, now: dt.datetime) -> None:
        """Delete expired throttle rows (an indexed range) and expired sessions."""
        db.execute("DELETE FROM throttle WHERE expires <= ?", (_iso(now),))
        db.execute(
            "DELETE FROM sessions WHERE last_seen < ? OR started < ?",
            (_iso(now - self.policy.idle), _iso(now - self.policy.absolute)),
        )

    def unlock(self, username: str, client: str | None = None) -> int:
        """Forget a user name's failures (from every address, or from ``client``): the rows
        cleared. For an administrator helping someone locked out from their own address."""
        name = username[:MAX_FIELD]
        with self._tx() as db:
            if client is None:
                cursor = db.execute("DELETE FROM throttle WHERE username = ?", (name,))
            else:
                cursor = db.execute(
                    "DELETE FROM throttle WHERE username = ? AND client = ?",
                    (name, client[:MAX_FIELD]),
                )
            return cursor.rowcount

    def throttled(self) -> list[tuple[str, str, int, str]]:
        """The (user name, client, failures, blocked until) pairs blocked now."""
        with self._db() as db:
            rows = db.execute(
                "SELECT username, client, failures, blocked_until FROM throttle "
                "WHERE blocked_until > ? ORDER BY username, client",
                (_iso(self.now()),),
            ).fetchall()
        return [(str(u), str(c), int(f), str(b)) for u, c, f, b in rows]

    _dummy_hash: str | None = None

    def _dummy(self) -> str:
        if Accounts._dummy_hash is None:
            Accounts._dummy_hash = self.hasher.hash(secrets.token_urlsafe(16))
        return Accounts._dummy_hash

    def session(self, token: str | None) -> Session | None:
        """The live session of a cookie token (its idle time renewed), or None."""
        if not token:
            return None
        now = self.now()
        reader = getattr(self._readers, "db", None)
        if reader is None:  # every request asks: no new connection per request
            reader = self._readers.db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        row = reader.execute(
            "SELECT s.username, u.role, u.divisions, u.named_lists, s.csrf, s.started, s.last_seen "
            "FROM sessions s JOIN users u USING (username) WHERE s.token_sha256 = ? AND u.active = 1",
            (_sha(token),),
        ).fetchall()
        if not row:
            return None
        started, seen = _time(row[0][5]), _time(row[0][6])
        if now - seen > self.policy.idle or now - started > self.policy.absolute:
            with self._db() as db:
                db.execute("DELETE FROM sessions WHERE token_sha256 = ?", (_sha(token),))
            return None
        if now - seen > SEEN_EVERY:  # renewing the idle time is a write: at most once a minute
            with self._db() as db:
                db.execute(
                    "UPDATE sessions SET last_seen = ? WHERE token_sha256 = ?",
                    (_iso(now), _sha(token)),
                )
        return Session(self._user(row[0][:4]), row[0][4])

    # ------------------------------------------------------------------ service accounts
    def add_service(
        self,
        name: str,
        divisions: tuple[str, ...],
        scopes: tuple[str, ...],
        expires_days: int = 90,
        *,
        by: str,
    ) -> tuple[str, TokenInfo]:
        """A new token for the service account ``name`` (made by its first token; a second
        token for the same name is a rotation, with its own codes and scopes). Returns the
        token, to be shown once, and what is stored of it. A token with a scope that reads
        named data waits for a second administrator (`approve`) while four eyes are on."""
        if not NAME.fullmatch(name):
            raise AccountError(
                f"service name {name!r}: 2-40 characters, lower-case letters, digits, . _ -"
            )
        codes = _codes(divisions)
        self._check_divisions("data_scientist", codes, True)
        wanted = tuple(dict.fromkeys(x.strip() for x in scopes if x.strip()))
        unknown = [x for x in wanted if x not in SCOPES]
        if unknown or not wanted:
            raise AccountError(
                f"scopes {','.join(unknown) or '(none)'}: give one or more of {', '.join(SCOPES)}"
            )
        if not 1 <= expires_days <= MAX_TOKEN_DAYS:
            raise AccountError(f"expires_days {expires_days}: 1 to {MAX_TOKEN_DAYS} days")
        token_id = secrets.token_hex(4)
        token = f"{TOKEN_PREFIX}{token_id}_{secrets.token_urlsafe(32)}"  # 256 random bits
        now = self.now()
        expires = now + dt.timedelta(days=expires_days)
        with self._tx() as db:
            if db.execute("SELECT 1 FROM users WHERE username = ?", (name,)).fetchall():
                raise AccountError(f"{name!r} is a staff account; give the service another name")
            wait = self.policy.four_eyes and bool(NAMED_SCOPES & set(wanted))
            request_id = None
            if wait:
                asked = User(name, "data_scientist", codes, True)
                request_id = self._request(db, "token", asked, by, _iso(now))
                db.execute("UPDATE requests SET role = 'service' WHERE id = ?", (request_id,))
            db.execute(
                "INSERT INTO api_tokens (id, token_sha256, name, divisions, scopes, created, "
                "created_by, expires, revoked, pending, request_id) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL, ?, ?)",
                (
                    token_id,
                    _sha(token),
                    name,
                    ",".join(codes),
                    ",".join(wanted),
                    _iso(now),
                    by,
                    _iso(expires),
                    int(wait),
                    request_id,
                ),
            )
        info = TokenInfo(token_id, name, codes, wanted, now, by, expires, None, wait, request_id)
        return token, info

    def tokens(self, name: str | None = None) -> list[TokenInfo]:
        """Every token (or a service account's), newest first: never the token itself."""
        sql = "SELECT * FROM api_tokens"
        args: tuple[str, ...] = ()
        if name is not None:
            sql, args = sql + " WHERE name = ?", (name,)
        with self._db() as db:
            rows = db.execute(sql + " ORDER BY created DESC, id", args).fetchall()
        return [
            TokenInfo(
                id=r[0],
                name=r[2],
                divisions=_split(r[3]),
                scopes=_split(r[4]),
                created=_time(r[5]),
                created_by=r[6],
                expires=_time(r[7]),
                revoked=_time(r[8]) if r[8] else None,
                pending=bool(r[9]),
                request_id=r[10],
            )
            for r in rows
        ]

    def revoke_token(self, token_id: str) -> TokenInfo:
        """Revoke a token at once (its open request, if any, is closed)."""
        with self._tx() as db:
            rows = db.execute(
                "SELECT request_id FROM api_tokens WHERE id = ? AND revoked IS NULL", (token_id,)
            ).fetchall()
            if not rows:
                raise AccountError(f"no unrevoked token {token_id!r} (riskclass users tokens)")
            now = _iso(self.now())
            db.execute("UPDATE api_tokens SET revoked = ? WHERE id = ?", (now, token_id))
            if rows[0][0] is not None:
                db.execute(
                    "UPDATE requests SET status = 'rejected', decided_at = ? "
                    "WHERE id = ? AND status = 'pending'",
                    (now, rows[0][0]),
                )
        return next(t for t in self.tokens() if t.id == token_id)

    def service(self, token: str | None) -> Service | None:
        """The service account of a bearer token: None unless it is known, approved, not
        revoked and not expired."""
        if not token or not token.startswith(TOKEN_PREFIX) or len(token) > 200:
            return None
        reader = getattr(self._readers, "db", None)
        if reader is None:
            reader = self._readers.db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        rows = reader.execute(
            "SELECT id, name, divisions, scopes, expires FROM api_tokens "
            "WHERE token_sha256 = ? AND revoked IS NULL AND pending = 0",
            (_sha(token),),
        ).fetchall()
        if not rows or _time(rows[0][4]) <= self.now():
            return None
        r = rows[0]
        return Service(name=r[1], divisions=_split(r[2]), scopes=_split(r[3]), token_id=r[0])

    def logout(self, token: str | None) -> None:
        if token:
            with self._db() as db:
                db.execute("DELETE FROM sessions WHERE token_sha256 = ?", (_sha(token),))


def same(a: str | None, b: str | None) -> bool:
    """Constant-time comparison of two tokens (CSRF)."""
    return bool(a) and bool(b) and hmac.compare_digest(str(a), str(b))
