"""Stage `cases`: the follow-up of problems found, from opening to disposal (issue 20).

The store is one SQLite file (`store_path`: ``outputs/cases/cases.sqlite``) with two tables:

* ``cases``: one row per problem found (`models.cases.problems`), its current state, the date
  it entered it, the department it was referred to and its disposal;
* ``events``: append-only (triggers refuse UPDATE and DELETE): who did what to which case, the
  date they gave, and ``recorded_at``, the real time it was written (an audit stamp, the one
  place the clock is read; no computation uses it).

`CaseStore.open_cases` opens a case for each problem found in the interim inspections received
by a month end; it is idempotent (a case that exists is left alone). `CaseStore.act` applies one
action (refer, acknowledge, close) under the rules of `models.cases`; `import_actions` applies a
case system's export row by row, keeping each rejected row with its reason
(rows = accepted + already recorded + rejected). `CaseStore.overdue` lists the cases past their
state's deadline on a date passed in.

Case files hold no class, score or risk point: only the inspection, the item, the enterprise and
what was done.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from contract.months import Month
from models.cases import (
    CaseError,
    CasesConfig,
    next_state,
    overdue,
    parse_action,
    problems,
)
from pipelines.config import load_config
from pipelines.paths import CONFIGS, OUTPUTS, Outputs

CASES_CONFIG = CONFIGS / "cases.yaml"

__all__ = [
    "CASES_CONFIG",
    "CaseError",
    "CaseStore",
    "CasesError",
    "ImportResult",
    "OpenResult",
    "import_actions",
    "load_cases_config",
    "read_actions",
    "store_path",
]

SCHEMA = """
CREATE TABLE IF NOT EXISTS cases (
    case_id TEXT PRIMARY KEY,
    inspection_id TEXT NOT NULL,
    item TEXT NOT NULL,
    uscc TEXT NOT NULL,
    division_code TEXT,
    inspection_date TEXT NOT NULL,
    opened_date TEXT NOT NULL,
    state TEXT NOT NULL,
    state_since TEXT NOT NULL,
    department TEXT,
    disposal TEXT,
    disposal_date TEXT
);
CREATE INDEX IF NOT EXISTS cases_division ON cases (division_code);
CREATE INDEX IF NOT EXISTS cases_inspection ON cases (inspection_id);
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    case_id TEXT NOT NULL REFERENCES cases (case_id),
    action TEXT NOT NULL,
    by TEXT NOT NULL,
    date TEXT NOT NULL,
    department TEXT,
    disposal TEXT,
    source TEXT,
    recorded_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_case ON events (case_id);
CREATE TRIGGER IF NOT EXISTS events_no_update BEFORE UPDATE ON events
BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
CREATE TRIGGER IF NOT EXISTS events_no_delete BEFORE DELETE ON events
BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
"""

CASE_COLUMNS = [
    "case_id",
    "inspection_id",
    "item",
    "uscc",
    "division_code",
    "inspection_date",
    "opened_date",
    "state",
    "state_since",
    "department",
    "disposal",
    "disposal_date",
]
_DATES = ["inspection_date", "opened_date", "state_since", "disposal_date"]


class CasesError(ValueError):
    """A case store or an action file that cannot be used; names the file and the rule."""


def store_path(outputs: Path = OUTPUTS.root) -> Path:
    """The case store: ``<outputs>/cases/cases.sqlite``."""
    return Outputs(Path(outputs)).cases


def load_cases_config(path: Path = CASES_CONFIG) -> CasesConfig:
    """``configs/cases.yaml``, validated (`pipelines.config.ConfigError` naming the key)."""
    return load_config(path, CasesConfig)


def _now() -> str:
    # an audit stamp (when the event was written), never used in a computation
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def _day(value: object, what: str) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        stamp = pd.Timestamp(str(value).strip())
    except (ValueError, TypeError):
        stamp = pd.NaT
    if pd.isna(stamp):
        raise CaseError(f"{what}: {value!r} is not a date (rule: YYYY-MM-DD)")
    return stamp.date()  # type: ignore[no-any-return]


@dataclass(frozen=True)
class OpenResult:
    problems: int  # problems found in the inspections received by the month end
    opened: int  # cases opened now
    already: int  # cases that existed (opened by an earlier run)


@dataclass(frozen=True)
class ImportResult:
    rows: int
    accepted: int
    already: int  # the same action on the same case and date was recorded before
    rejected: pd.DataFrame  # the rejected rows, as read, with a ``reason`` column

    @property
    def reconciles(self) -> bool:
        return self.rows == self.accepted + self.already + len(self.rejected)


class CaseStore:
    """The case store (SQLite, ``path``): created on first use."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._db() as db:
            db.executescript(SCHEMA)

    @contextlib.contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        try:
            yield db
        finally:
            db.close()

    @contextlib.contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._db() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    # ------------------------------------------------------------------------ opening
    def open_cases(
        self, inspections: pd.DataFrame, divisions: pd.Series, by: str = "cases open"
    ) -> OpenResult:
        """A case per problem found in ``inspections`` (contract columns), dated its
        inspection date; ``divisions``: division_code indexed by uscc. Idempotent."""
        found = problems(inspections)
        division = found["uscc"].map(divisions)
        with self._tx() as db:
            known = {r[0] for r in db.execute("SELECT case_id FROM cases")}
            new = found.loc[~found["case_id"].isin(known)]
            stamp = _now()
            rows = [
                (
                    r.case_id,
                    r.inspection_id,
                    r.item,
                    r.uscc,
                    None if pd.isna(division.at[i]) else str(division.at[i]),
                    r.inspection_date.isoformat(),
                    r.inspection_date.isoformat(),
                    "open",
                    r.inspection_date.isoformat(),
                )
                for i, r in zip(new.index, new.itertuples(index=False), strict=True)
            ]
            db.executemany(
                "INSERT INTO cases (case_id, inspection_id, item, uscc, division_code, "
                "inspection_date, opened_date, state, state_since) VALUES (?,?,?,?,?,?,?,?,?)",
                rows,
            )
            db.executemany(
                "INSERT INTO events (case_id, action, by, date, source, recorded_at) "
                "VALUES (?, 'open', ?, ?, 'inspections', ?)",
                [(r[0], by, r[6], stamp) for r in rows],
            )
        return OpenResult(len(found), len(rows), len(found) - len(rows))

    def open_from_interim(self, interim: Path, as_of: Month, by: str = "cases open") -> OpenResult:
        """Open the cases of the problems found in the interim inspections table received
        by the end of ``as_of``."""
        from pipelines import store as interim_store

        found = interim_store.open_tables(Path(interim))
        for name in ("inspections", "enterprises"):
            if name not in found:
                raise CasesError(
                    f"{interim}: table {name} not found (rule: run `riskclass ingest` first)"
                )
        cols = [
            "inspection_id",
            "uscc",
            "inspection_date",
            "problem_found",
            "problem_category",
            "received_date",
        ]
        insp = found["inspections"].pandas(cols)
        received = pd.to_datetime(insp["received_date"]).dt.date
        insp = insp.loc[(received <= as_of.end).to_numpy()]
        ents = found["enterprises"].pandas(["uscc", "division_code"])
        divisions = ents.drop_duplicates("uscc").set_index("uscc")["division_code"]
        return self.open_cases(insp, divisions, by)

    # ------------------------------------------------------------------------ reading
    def cases(
        self, division: str | None = None, state: str | None = None, ids: list[str] | None = None
    ) -> pd.DataFrame:
        """The cases (``division``: a code prefix; ``state``: one state), by case_id."""
        sql = f"SELECT {', '.join(CASE_COLUMNS)} FROM cases WHERE 1=1"
        args: list[object] = []
        if division:  # a code prefix, as everywhere (4401: a city, 440103: a county)
            sql += " AND substr(division_code, 1, ?) = ?"
            args += [len(division), division]
        if state:
            sql += " AND state = ?"
            args.append(state)
        if ids is not None:
            sql += f" AND case_id IN ({', '.join('?' * len(ids))})"
            args.extend(ids)
        with self._db() as db:
            frame = pd.read_sql_query(sql + " ORDER BY case_id", db, params=args)
        for c in _DATES:
            frame[c] = pd.to_datetime(frame[c]).dt.date
        return frame

    def case(self, case_id: str) -> dict[str, object] | None:
        frame = self.cases(ids=[case_id])
        return None if frame.empty else frame.iloc[0].to_dict()

    def events(self, case_id: str | None = None) -> pd.DataFrame:
        """The events (of one case), in the order written."""
        sql = "SELECT seq, case_id, action, by, date, department, disposal, source, recorded_at"
        sql += " FROM events"
        args: list[str] = []
        if case_id is not None:
            sql += " WHERE case_id = ?"
            args.append(case_id)
        with self._db() as db:
            return pd.read_sql_query(sql + " ORDER BY seq", db, params=args)

    def overdue(
        self, cfg: CasesConfig, as_of: dt.date, division: str | None = None
    ) -> pd.DataFrame:
        """The cases past their state's deadline on ``as_of``, most overdue first."""
        frame = self.cases(division)
        frame = frame.loc[frame["opened_date"] <= as_of]
        return overdue(frame.loc[frame["state"] != "closed"], cfg.deadlines, as_of)

    # ------------------------------------------------------------------------ acting
    def act(
        self,
        cfg: CasesConfig,
        case_id: str,
        action: str,
        date: dt.date | str,
        by: str,
        *,
        department: str | None = None,
        disposal: str | None = None,
        source: str = "manual",
    ) -> str:
        """Apply one action; returns the new state. `CaseError` (naming the case and the rule)
        when the case is unknown or the action is not allowed."""
        with self._tx() as db:
            return self._act(db, cfg, case_id, action, date, by, department, disposal, source)

    def _act(
        self,
        db: sqlite3.Connection,
        cfg: CasesConfig,
        case_id: str,
        action: str,
        date: dt.date | str,
        by: str,
        department: str | None,
        disposal: str | None,
        source: str,
    ) -> str:
        if not by or not str(by).strip():
            raise CaseError(f"case {case_id}: who acted is missing (rule: --by USER)")
        row = db.execute(
            "SELECT state, state_since, opened_date FROM cases WHERE case_id = ?", (case_id,)
        ).fetchone()
        if row is None:
            raise CaseError(f"case {case_id}: no such case (rule: open it first, `cases open`)")
        state, since = row[0], dt.date.fromisoformat(row[1])
        act = parse_action(action)
        day = _day(date, f"case {case_id}: date")
        new = next_state(case_id, state, act)
        if day < since:
            raise CaseError(
                f"case {case_id}: {act} dated {day} is before the case became {state} on {since} "
                "(rule: actions are dated in order)"
            )
        dept = disp = None
        if act == "refer":
            if not department:
                raise CaseError(f"case {case_id}: refer needs a department (rule: --to DEPT)")
            dept = cfg.department(case_id, department).code
        if act == "close":
            if not disposal:
                raise CaseError(f"case {case_id}: close needs a disposal (rule: --disposal X)")
            disp = cfg.disposal(case_id, disposal, state).code
        iso = day.isoformat()
        if act == "refer":
            db.execute(
                "UPDATE cases SET state=?, state_since=?, department=? WHERE case_id=?",
                (new, iso, dept, case_id),
            )
        elif act == "close":
            db.execute(
                "UPDATE cases SET state=?, state_since=?, disposal=?, disposal_date=? "
                "WHERE case_id=?",
                (new, iso, disp, iso, case_id),
            )
        else:
            db.execute(
                "UPDATE cases SET state=?, state_since=? WHERE case_id=?", (new, iso, case_id)
            )
        db.execute(
            "INSERT INTO events (case_id, action, by, date, department, disposal, source, "
            "recorded_at) VALUES (?,?,?,?,?,?,?,?)",
            (case_id, act, str(by).strip(), iso, dept, disp, source, _now()),
        )
        return new

    def _recorded(self, db: sqlite3.Connection, case_id: str, action: str, iso: str) -> bool:
        return (
            db.execute(
                "SELECT 1 FROM events WHERE case_id=? AND action=? AND date=?",
                (case_id, action, iso),
            ).fetchone()
            is not None
        )

    def _resolve(self, db: sqlite3.Connection, row: pd.Series) -> str:
        """The case a row of an action file names: case_id, or inspection_id (+ item)."""
        cid = _text(row.get("case_id"))
        if cid:
            return cid
        insp = _text(row.get("inspection_id"))
        if not insp:
            raise CaseError("row names no case (rule: case_id or inspection_id is required)")
        item = _text(row.get("item"))
        if item:
            return f"{insp}:{item}"
        found = [
            r[0] for r in db.execute("SELECT case_id FROM cases WHERE inspection_id=?", (insp,))
        ]
        if len(found) != 1:
            what = "no case" if not found else f"{len(found)} cases"
            raise CaseError(
                f"inspection {insp}: {what} (rule: an inspection_id without item names one case)"
            )
        return str(found[0])


def _text(value: object) -> str | None:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    text = str(value).strip()
    return text or None


#: Columns an action file may have (a bureau's case-system export); others are ignored.
ACTION_COLUMNS = (
    "case_id",
    "inspection_id",
    "item",
    "action",
    "department",
    "disposal",
    "date",
    "by",
)


def read_actions(path: Path) -> pd.DataFrame:
    """An action file (CSV, UTF-8 with or without BOM, or XLSX), every cell as text; a clear
    `CasesError` naming the file when it cannot be read or lacks a required column."""
    path = Path(path)
    if not path.is_file():
        raise CasesError(f"{path}: not found")
    try:
        if path.suffix.lower() in (".xlsx", ".xls"):
            frame = pd.read_excel(path, dtype=str)
        else:
            frame = pd.read_csv(path, dtype=str, encoding="utf-8-sig", keep_default_na=False)
    except Exception as exc:  # any reader failure is the file's
        raise CasesError(f"{path}: cannot be read as CSV/XLSX ({exc})") from None
    frame.columns = [str(c).strip().lstrip("'").lower() for c in frame.columns]
    for col in ("action", "date"):
        if col not in frame.columns:
            raise CasesError(f"{path}: column {col!r} is missing (rule: columns {ACTION_COLUMNS})")
    if "case_id" not in frame.columns and "inspection_id" not in frame.columns:
        raise CasesError(f"{path}: needs a case_id or an inspection_id column")
    # a value an export wrote formula-safe (leading apostrophe) is read back as it was
    return frame.map(lambda v: v[1:] if isinstance(v, str) and v.startswith("'") else v)


def import_actions(
    store: CaseStore, frame: pd.DataFrame, cfg: CasesConfig, by: str, source: str
) -> ImportResult:
    """Apply the rows of an action file in date order (file order within a date). A row is
    accepted, already recorded (same case, action and date: a rerun changes nothing), or
    rejected with its reason; the counts reconcile."""
    work = frame.reset_index(drop=True).copy()
    work["_row"] = work.index + 2  # the line in the file (after the header)
    dates = pd.to_datetime(work["date"].astype(str).str.strip(), errors="coerce")
    order = work.assign(_d=dates).sort_values(["_d", "_row"], kind="stable", na_position="first")
    reasons: dict[int, str] = {}
    accepted = already = 0
    with store._tx() as db:
        for _, row in order.iterrows():
            try:
                cid = store._resolve(db, row)
                act = parse_action(str(row["action"]))
                iso = _day(row["date"], f"case {cid}: date").isoformat()
                if store._recorded(db, cid, act, iso):
                    already += 1
                    continue
                who = _text(row.get("by")) or by
                store._act(
                    db,
                    cfg,
                    cid,
                    act,
                    iso,
                    who,
                    _text(row.get("department")),
                    _text(row.get("disposal")),
                    source,
                )
                accepted += 1
            except CaseError as exc:
                reasons[int(row["_row"])] = str(exc)
    rejected = work.loc[work["_row"].isin(reasons)].copy()
    rejected["reason"] = rejected["_row"].map(reasons)
    rejected = rejected.rename(columns={"_row": "line"})
    return ImportResult(len(work), accepted, already, rejected.reset_index(drop=True))
