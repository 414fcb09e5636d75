"""Accounts, roles, jurisdictions and sessions (SQLite, beside the outputs).

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
its own CSRF token. Failed logins are counted per user name and per client address; past
``max_failures`` within ``window`` further attempts are refused until the window passes.
The clock is passed in (``now``) so that expiry and limits can be tested.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import hmac
import re
import secrets
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

Role = Literal["county", "city", "province", "data_scientist", "admin"]
ROLES: tuple[Role, ...] = ("county", "city", "province", "data_scientist", "admin")
CODE_DIGITS = {"county": 6, "city": 4, "province": 2}
NAME = re.compile(r"^[a-z][a-z0-9._-]{1,39}$")
Clock = Callable[[], dt.datetime]
#: password checks at once (each argon2 check holds 64 MiB; a burst of logins queues here)
_HASHING = threading.BoundedSemaphore(2)

SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
  username TEXT PRIMARY KEY, password TEXT NOT NULL, role TEXT NOT NULL,
  divisions TEXT NOT NULL, named_lists INTEGER NOT NULL DEFAULT 0,
  active INTEGER NOT NULL DEFAULT 1, created TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS sessions (
  token_sha256 TEXT PRIMARY KEY, username TEXT NOT NULL, csrf TEXT NOT NULL,
  started TEXT NOT NULL, last_seen TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS failures (key TEXT NOT NULL, at TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS failures_key ON failures (key);
"""


class AccountError(ValueError):
    """A bad account request (unknown role, bad code, weak password, name taken ...)."""


class RateLimited(Exception):
    """Too many failed logins for this user name or address within the window."""


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
class Policy:
    idle: dt.timedelta = dt.timedelta(minutes=30)
    absolute: dt.timedelta = dt.timedelta(hours=8)
    max_failures: int = 5
    window: dt.timedelta = dt.timedelta(minutes=15)
    min_password: int = 12


def _iso(t: dt.datetime) -> str:
    return t.astimezone(dt.UTC).isoformat()


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


class Accounts:
    def __init__(self, path: Path, now: Clock | None = None, policy: Policy | None = None) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.now = now or (lambda: dt.datetime.now(dt.UTC))
        self.policy = policy or Policy()
        self.hasher = PasswordHasher()
        with self._db() as db:
            db.executescript(SCHEMA)

    def _db(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        return db

    # ------------------------------------------------------------------ accounts
    def add(self, username: str, password: str, role: str, divisions: tuple[str, ...] = (),
            named_lists: bool = False) -> User:  # fmt: skip
        if not NAME.match(username):
            raise AccountError(
                f"user name {username!r}: 2-40 characters, lower-case letters, digits, . _ -"
            )
        if role not in ROLES:
            raise AccountError(f"role {role!r} is not one of {', '.join(ROLES)}")
        divisions = tuple(d.strip() for d in divisions if d.strip())
        self._check_divisions(role, divisions, named_lists)
        if len(password) < self.policy.min_password:
            raise AccountError(f"password: at least {self.policy.min_password} characters")
        with self._db() as db:
            try:
                db.execute(
                    "INSERT INTO users VALUES (?, ?, ?, ?, ?, 1, ?)",
                    (username, self.hasher.hash(password), role, ",".join(divisions),
                     int(named_lists), _iso(self.now())),
                )  # fmt: skip
            except sqlite3.IntegrityError:
                raise AccountError(f"user {username!r} exists") from None
        return User(username, role, divisions, named_lists)

    @staticmethod
    def _check_divisions(role: str, divisions: tuple[str, ...], named: bool) -> None:
        digits = CODE_DIGITS.get(role)
        if digits is not None or (role == "data_scientist" and named):
            if not divisions:
                raise AccountError(f"role {role} needs division codes (its jurisdiction)")
            for d in divisions:
                ok = d.isdigit() and (len(d) == digits if digits else len(d) in (2, 4, 6))
                if not ok:
                    raise AccountError(
                        f"division code {d!r} for role {role}: "
                        f"{digits or '2, 4 or 6'} digits (GB/T 2260 prefix)"
                    )
        elif divisions:
            raise AccountError(f"role {role} has no jurisdiction; give no division codes")

    def users(self) -> list[tuple[User, bool]]:
        with self._db() as db:
            rows = db.execute(
                "SELECT username, role, divisions, named_lists, active FROM users ORDER BY username"
            ).fetchall()
        return [(self._user(r), bool(r[4])) for r in rows]

    def deactivate(self, username: str) -> None:
        with self._db() as db:
            if (
                db.execute("UPDATE users SET active = 0 WHERE username = ?", (username,)).rowcount
                == 0
            ):
                raise AccountError(f"no user {username!r}")
            db.execute("DELETE FROM sessions WHERE username = ?", (username,))

    def count(self) -> int:
        with self._db() as db:
            return int(db.execute("SELECT count(*) FROM users").fetchall()[0][0])

    @staticmethod
    def _user(row: tuple) -> User:
        divisions = tuple(d for d in str(row[2]).split(",") if d)
        return User(row[0], row[1], divisions, bool(row[3]))

    # ------------------------------------------------------------------ login and sessions
    def limited(self, *keys: str) -> bool:
        """Too many recent failures for any of these keys (user name, client address)?"""
        since = _iso(self.now() - self.policy.window)
        with self._db() as db:
            db.execute("DELETE FROM failures WHERE at < ?", (since,))
            return any(
                db.execute("SELECT count(*) FROM failures WHERE key = ? AND at >= ?",
                           (k, since)).fetchall()[0][0] >= self.policy.max_failures
                for k in keys
            )  # fmt: skip

    def login(self, username: str, password: str, client: str) -> tuple[str, Session] | None:
        """A new session (token, session) for the right password, else None (the failure
        counted). Raises `RateLimited` past the limit. Against the user name, the attempt is
        counted as a failure before the password is checked (in one transaction with the
        count), so a burst of parallel guesses cannot all pass the limit; a success takes it
        back. Against the address only real failures count, so colleagues behind one address
        logging in at once are not held up."""
        keys = (f"user:{username}", f"client:{client}")
        since, at = _iso(self.now() - self.policy.window), _iso(self.now())
        with self._db() as db:
            db.execute("BEGIN IMMEDIATE")
            counts = [db.execute("SELECT count(*) FROM failures WHERE key = ? AND at >= ?",
                                 (k, since)).fetchall()[0][0] for k in keys]  # fmt: skip
            if max(counts) >= self.policy.max_failures:
                db.execute("COMMIT")
                raise RateLimited(username)
            pending = db.execute("INSERT INTO failures VALUES (?, ?)", (keys[0], at)).lastrowid
            db.execute("COMMIT")
            row = db.execute(
                "SELECT username, role, divisions, named_lists, password FROM users "
                "WHERE username = ? AND active = 1", (username,),
            ).fetchall()  # fmt: skip
            ok = False
            with _HASHING:  # argon2 takes 64 MiB per check: a bounded number at a time
                if row:
                    try:
                        ok = self.hasher.verify(row[0][4], password)
                    except (VerificationError, InvalidHashError):
                        ok = False
                else:  # same work for an unknown name: no timing hint that it does not exist
                    with contextlib.suppress(VerificationError, InvalidHashError):
                        self.hasher.verify(self._dummy(), password)
            if not ok:  # the user name's failure stays counted; the address's is added
                db.execute("INSERT INTO failures VALUES (?, ?)", (keys[1], at))
                return None
            db.execute("DELETE FROM failures WHERE rowid = ?", (pending,))
            token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
            t = _iso(self.now())
            db.execute("INSERT INTO sessions VALUES (?, ?, ?, ?, ?)",
                       (_sha(token), username, csrf, t, t))  # fmt: skip
            db.execute("DELETE FROM failures WHERE key = ?", (f"user:{username}",))
        return token, Session(self._user(row[0][:4]), csrf)

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
        with self._db() as db:
            row = db.execute(
                "SELECT s.username, u.role, u.divisions, u.named_lists, s.csrf, s.started, s.last_seen "
                "FROM sessions s JOIN users u USING (username) WHERE s.token_sha256 = ? AND u.active = 1",
                (_sha(token),),
            ).fetchall()  # fmt: skip
            if not row:
                return None
            started, seen = (
                dt.datetime.fromisoformat(row[0][5]),
                dt.datetime.fromisoformat(row[0][6]),
            )
            if now - seen > self.policy.idle or now - started > self.policy.absolute:
                db.execute("DELETE FROM sessions WHERE token_sha256 = ?", (_sha(token),))
                return None
            db.execute("UPDATE sessions SET last_seen = ? WHERE token_sha256 = ?",
                       (_iso(now), _sha(token)))  # fmt: skip
        return Session(self._user(row[0][:4]), row[0][4])

    def logout(self, token: str | None) -> None:
        if token:
            with self._db() as db:
                db.execute("DELETE FROM sessions WHERE token_sha256 = ?", (_sha(token),))


def same(a: str | None, b: str | None) -> bool:
    """Constant-time comparison of two tokens (CSRF)."""
    return bool(a) and bool(b) and hmac.compare_digest(str(a), str(b))
