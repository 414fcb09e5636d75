"""Collection quality of a delivery, per table and delivering department (issue 20, item 8).

The policy documents ask that enterprise information be collected 「20个工作日内」 (seeds/004)
and that the data be judged for its 「全貌性、及时性、准确性」 (seeds/000). For each table of a
delivery and each department that delivers it, this module measures:

* timeliness (及时性): the delay from the event (`contract.tables.Table.event_date`) to the
  bureau's receipt (``received_date``) in **working days**, over the delivery's accepted
  rows: the share received within the limit (20 by default), the median and the 90th
  percentile. The day of the event is not counted (民法典 第二百零一条: 按照日计算期间的，
  开始的当日不计入): an event on a Friday received the next Monday took 1 working day, one
  received the same day 0. Working days are Monday to Friday less the official holidays,
  plus the make-up working days (调休上班), from the State Council's yearly notices
  (``contract/data/workdays_cn.csv``, 2019-2026, the notice named on every row). Dates
  outside the calendar's years count weekends only; how many rows that touched is reported
  (``outside_calendar``).
* completeness (全貌性): the share of cells filled among the required columns (not nullable
  in the contract) and among the optional ones, over the rows read that are neither blank
  nor filtered out on purpose, so that a required value a department left out counts even
  though its row was quarantined.
* errors (准确性): rows quarantined / rows read (blank and filtered rows left out of both),
  with the count per rule, from the run's own quarantine.

A row's department is the ``department`` of the source mapping that read it; else the
configured department of its table by a coded column (licences by licence kind); else the
table's department in ``departments`` of ``configs/ingest.yaml``; else 「未指明部门」.

Only aggregates leave this module: no enterprise, and nothing of classes or scores (the
ingest knows none). Vectorised: one SQL aggregate per table and ``numpy.busday_count`` over
the accepted rows' two date columns.

>>> cal = load_calendar()
>>> import numpy as np
>>> event = np.array(["2026-09-30", "2026-10-09"], dtype="datetime64[D]")
>>> received = np.array(["2026-10-08", "2026-10-12"], dtype="datetime64[D]")
>>> working_days(event, received, cal).tolist()  # 1-7 Oct off; 10 Oct (Sat) a working day
[1, 2]
"""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import duckdb
import numpy as np

from contract.tables import TABLES, Table

#: The limit of seeds/004: 「……20个工作日内……」.
WORKING_DAY_LIMIT = 20
UNASSIGNED = "未指明部门"
#: Rows a bureau leaves out on purpose or that carry nothing: not errors, not completeness.
NOT_ERRORS = ("filtered", "blank_row")
CALENDAR_FILE = "workdays_cn.csv"


@dataclass(frozen=True)
class WorkCalendar:
    """Official holidays and make-up working days (``datetime64[D]``, sorted) and the
    years they cover; `working_days` counts with it."""

    holidays: np.ndarray
    workdays: np.ndarray
    first_year: int
    last_year: int
    source: str

    def describe(self) -> dict[str, Any]:
        return {
            "years": [self.first_year, self.last_year],
            "holidays": int(self.holidays.size),
            "make_up_workdays": int(self.workdays.size),
            "source": self.source,
        }


def load_calendar(path: Path | None = None) -> WorkCalendar:
    """The calendar of ``path`` (columns date, kind = holiday | workday, holiday_zh,
    notice); by default the one shipped in ``contract/data``. A bad row is an error that
    names the file, the line and the rule."""
    if path is None:
        text = resources.files("contract").joinpath("data", CALENDAR_FILE).read_text("utf-8")
        where = f"contract/data/{CALENDAR_FILE}"
    else:
        text, where = Path(path).read_text("utf-8"), str(path)
    holidays: list[dt.date] = []
    workdays: list[dt.date] = []
    notices: set[str] = set()
    for line, row in enumerate(csv.DictReader(text.splitlines()), start=2):
        try:
            day = dt.date.fromisoformat(row["date"])
        except (TypeError, ValueError):
            raise ValueError(f"{where} line {line}: date must be YYYY-MM-DD") from None
        kind = row.get("kind")
        if kind == "holiday":
            holidays.append(day)
        elif kind == "workday":
            if day.weekday() < 5:
                raise ValueError(f"{where} line {line}: a make-up working day must be a weekend")
            workdays.append(day)
        else:
            raise ValueError(f"{where} line {line}: kind must be holiday or workday")
        notices.add((row.get("notice") or "").split("(")[0])
    days = holidays + workdays
    if not days or len(set(days)) != len(days):
        raise ValueError(f"{where}: empty, or a date listed twice")
    years = sorted({d.year for d in days})
    return WorkCalendar(
        np.array(sorted(holidays), dtype="datetime64[D]"),
        np.array(sorted(workdays), dtype="datetime64[D]"),
        years[0],
        years[-1],
        f"{where}: 国务院办公厅关于{years[0]}-{years[-1]}年部分节假日安排的通知",
    )


def working_days(event: np.ndarray, received: np.ndarray, cal: WorkCalendar) -> np.ndarray:
    """Working days after ``event`` up to and including ``received`` (``datetime64[D]``
    arrays of one length, no NaT); negative when received before the event."""
    event = event.astype("datetime64[D]")
    received = received.astype("datetime64[D]")
    one = np.timedelta64(1, "D")
    lo, hi = np.minimum(event, received), np.maximum(event, received)
    # (lo, hi] = [lo + 1, hi + 1): weekdays that are no holiday, plus make-up working days
    count = np.busday_count(lo + one, hi + one, holidays=cal.holidays)
    count += np.searchsorted(cal.workdays, hi, side="right") - np.searchsorted(
        cal.workdays, lo, side="right"
    )
    signed: np.ndarray = np.where(received < event, -count, count).astype(np.int64)
    return signed


def outside_calendar(event: np.ndarray, received: np.ndarray, cal: WorkCalendar) -> int:
    """Rows whose event or receipt falls in a year the calendar does not cover."""
    first = np.datetime64(f"{cal.first_year}-01-01", "D")
    last = np.datetime64(f"{cal.last_year}-12-31", "D")
    out = (event < first) | (event > last) | (received < first) | (received > last)
    return int(out.sum())


def delay_figures(delays: np.ndarray, limit: int = WORKING_DAY_LIMIT) -> dict[str, Any]:
    """Timeliness of some delays in working days: how many, the share within ``limit``,
    the median and the 90th percentile (None without rows).

    >>> delay_figures(np.array([0, 5, 20, 21, 40]), 20)["within_limit_share"]
    0.6
    """
    n = int(delays.size)
    if not n:
        return {"records": 0, "within_limit": 0, "within_limit_share": None,
                "median_days": None, "p90_days": None}  # fmt: skip
    within = int((delays <= limit).sum())
    return {
        "records": n,
        "within_limit": within,
        "within_limit_share": within / n,
        "median_days": float(np.median(delays)),
        "p90_days": float(np.percentile(delays, 90)),
    }


# ---------------------------------------------------------------------- departments


def department_sql(
    spec: Table,
    table_departments: Mapping[str, str],
    by_column: Mapping[str, tuple[str, Mapping[str, str]]],
    source_departments: Mapping[str, str],
) -> str:
    """A SQL expression giving each staged or accepted row of ``spec`` its department (see
    the module doc); it reads ``_source_name`` and the coded column of ``by_column``."""

    def lit(text: str) -> str:
        return "'" + text.replace("'", "''") + "'"

    cases = [f"WHEN _source_name = {lit(s)} THEN {lit(d)}" for s, d in source_departments.items()]
    if spec.name in by_column:
        column, values = by_column[spec.name]
        col = '"' + column.replace('"', '""') + '"'
        cases += [f"WHEN {col} = {lit(code)} THEN {lit(d)}" for code, d in values.items()]
    default = lit(table_departments.get(spec.name, UNASSIGNED))
    return f"(CASE {' '.join(cases)} ELSE {default} END)" if cases else default


# ---------------------------------------------------------------------- measuring


@dataclass
class TableQuality:
    """One table and department of a delivery: the raw counts and the accepted rows'
    delays, before they are summarised (`summarise`)."""

    table: str
    department: str
    rows_read: int = 0
    not_counted: int = 0  # blank or filtered rows
    quarantined: int = 0
    by_rule: dict[str, int] = field(default_factory=dict)
    required_filled: int = 0
    required_cells: int = 0
    optional_filled: int = 0
    optional_cells: int = 0
    delays: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    outside_calendar: int = 0


def measure(
    con: duckdb.DuckDBPyConnection, spec: Table, department: str, cal: WorkCalendar
) -> list[TableQuality]:
    """The quality of ``spec`` in the ingest's session ``con`` right after the table was
    quarantined and merged: its tables ``stage`` (rows read), ``fails`` (the rules each
    refused row broke) and ``accepted``. ``department``: `department_sql`."""
    base = TABLES[spec.name]
    required = [c.name for c in base.columns if not c.nullable]
    optional = [c.name for c in base.columns if c.nullable]

    counted = "NOT coalesce(_blank, FALSE) AND _filtered IS NULL"

    def filled(cols: list[str]) -> str:
        each = [f'count("{c}") FILTER (WHERE {counted})' for c in cols]
        return " + ".join(each) if each else "0"

    rows = con.execute(
        f"SELECT {department} AS d, count(*), count(*) FILTER (WHERE NOT ({counted})), "
        f"{filled(required)}, {filled(optional)} FROM stage GROUP BY 1"
    ).fetchall()
    out: dict[str, TableQuality] = {}
    for dep, n, skipped, req, opt in rows:
        counted_rows = int(n) - int(skipped)
        out[dep] = TableQuality(
            spec.name,
            dep,
            rows_read=int(n),
            not_counted=int(skipped),
            required_filled=int(req or 0),
            required_cells=counted_rows * len(required),
            optional_filled=int(opt or 0),
            optional_cells=counted_rows * len(optional),
        )
    for dep, rule, n in con.execute(
        f"SELECT {department}, _fails[1].rule, count(*) FROM stage JOIN fails USING (_row) "
        "GROUP BY ALL ORDER BY 2"
    ).fetchall():
        q = out[dep]
        q.by_rule[rule] = int(n)
        if rule not in NOT_ERRORS:
            q.quarantined += int(n)
    if base.event_date and base.received_date:
        ev, rc = f'"{base.event_date}"', f'"{base.received_date}"'
        frame = con.execute(
            f"SELECT {department} AS d, {ev} AS e, {rc} AS r FROM accepted "
            f"WHERE {ev} IS NOT NULL AND {rc} IS NOT NULL"
        ).fetchnumpy()
        deps = np.asarray(frame["d"]).astype(str)
        event = np.asarray(frame["e"]).astype("datetime64[D]")
        received = np.asarray(frame["r"]).astype("datetime64[D]")
        delays = working_days(event, received, cal)
        for dep in np.unique(deps):
            mask = deps == dep
            q = out.setdefault(str(dep), TableQuality(spec.name, str(dep)))
            q.delays = delays[mask]
            q.outside_calendar = outside_calendar(event[mask], received[mask], cal)
    return [out[d] for d in sorted(out)]


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _figures(parts: Sequence[TableQuality], limit: int) -> dict[str, Any]:
    read = sum(p.rows_read for p in parts)
    counted = read - sum(p.not_counted for p in parts)
    quarantined = sum(p.quarantined for p in parts)
    by_rule: dict[str, int] = {}
    for p in parts:
        for rule, n in p.by_rule.items():
            by_rule[rule] = by_rule.get(rule, 0) + n
    delays = np.concatenate([p.delays for p in parts]) if parts else np.zeros(0, np.int64)
    return {
        "rows_read": read,
        "rows_counted": counted,
        "quarantined": quarantined,
        "error_rate": _share(quarantined, counted),
        "quarantined_by_rule": dict(sorted(by_rule.items())),
        "required_filled_share": _share(
            sum(p.required_filled for p in parts), sum(p.required_cells for p in parts)
        ),
        "optional_filled_share": _share(
            sum(p.optional_filled for p in parts), sum(p.optional_cells for p in parts)
        ),
        **delay_figures(delays, limit),
        "outside_calendar": sum(p.outside_calendar for p in parts),
    }


def summarise(
    measured: Sequence[TableQuality], cal: WorkCalendar, limit: int = WORKING_DAY_LIMIT
) -> dict[str, Any]:
    """The ``quality`` section of ``reconciliation.json``: per table and department
    (``tables``), per department over its tables (``departments``), and the calendar."""
    by_dep: dict[str, list[TableQuality]] = {}
    for q in measured:
        by_dep.setdefault(q.department, []).append(q)
    return {
        "working_day_limit": limit,
        "calendar": cal.describe(),
        "tables": [
            {"table": q.table, "department": q.department, **_figures([q], limit)} for q in measured
        ],
        "departments": [
            {"department": d, "tables": sorted({q.table for q in qs}), **_figures(qs, limit)}
            for d, qs in sorted(by_dep.items())
        ],
    }


def table_rows(quality: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The ``quality`` section as flat rows (department, table, figures), departments in
    order and each department's total last: what the CLI, the verification report and the
    service page show."""
    rows: list[dict[str, Any]] = []
    per_table = sorted(quality.get("tables", []), key=lambda r: (r["department"], r["table"]))
    totals = {r["department"]: r for r in quality.get("departments", [])}
    for dep in sorted({r["department"] for r in per_table}):
        mine = [r for r in per_table if r["department"] == dep]
        rows += mine
        if len(mine) > 1 and dep in totals:
            rows.append({**totals[dep], "table": "（合计）"})
    return rows
