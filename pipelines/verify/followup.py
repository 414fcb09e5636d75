"""Verification section 「预警处置准确性」 (seeds/000; issue 20): were warnings and problems
followed up, and how?

Two parts, aggregates only (no enterprise, no name, no class, no score):

* warnings: for each month m up to the verified month with ``outputs/<m>/warnings.parquet``,
  the share of its warned enterprises that were acted on (an inspection, or a case opened)
  within ``acted_window_days`` after m's month end, counted up to the verified month's end
  (``days_observed`` says how much of the window has passed), and the share of the inspected
  ones where a problem was found;
* cases (the store of `pipelines.cases`, read here directly: a stage does not import another):
  of the cases opened by the verified month's end, the share disposed of, by disposal, the
  share overdue, the median days from opening to disposal, and the same per division. Every
  figure is point in time: only events dated on or before the month end count.

Absent gracefully: ``{"computed": False, "why": ...}`` when there is no case store.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from contract.months import Month
from models.cases import CasesConfig, overdue
from pipelines.config import load_config
from pipelines.paths import CONFIGS, Outputs
from pipelines.store import open_table

CASES_CONFIG = CONFIGS / "cases.yaml"
_STATE_AFTER = {"open": "open", "refer": "referred", "acknowledge": "acknowledged",
                "close": "closed"}  # fmt: skip


def case_store(outputs: Path) -> Path:
    """Where `pipelines.cases.store_path` keeps the store (`pipelines.paths.Outputs.cases`)."""
    return Outputs(Path(outputs)).cases


def _share(num: int, den: int) -> float | None:
    return None if den == 0 else num / den


def _received(interim: Path | None) -> pd.Series:
    """The date each inspection was received (``inspection_id`` -> date; empty: unknown)."""
    snap = None if interim is None else open_table(Path(interim), "inspections")
    if snap is None:
        return pd.Series(dtype=object)
    insp = snap.pandas(["inspection_id", "received_date"])
    return pd.Series(
        pd.to_datetime(insp["received_date"]).dt.date.to_numpy(),
        index=insp["inspection_id"].astype(str),
    )


def case_states(store: Path, end: dt.date, interim: Path | None = None) -> pd.DataFrame:
    """Each case opened by ``end`` as it stood on ``end``: case_id, division_code,
    opened_date, state, state_since, disposal, disposal_date (from the events dated by then).
    Point in time: with ``interim``, a case counts only once its inspection was received by
    ``end`` (a case is dated by its inspection, but cannot exist before the result came in).
    Actions count by the date they were taken, as the case system records them: an action
    imported later but dated before ``end`` changes the figures of a verification run again."""
    with sqlite3.connect(f"file:{store}?mode=ro", uri=True) as db:
        cases = pd.read_sql_query(
            "SELECT case_id, inspection_id, division_code, opened_date FROM cases "
            "WHERE opened_date <= ?",
            db, params=[end.isoformat()],
        )  # fmt: skip
    received = _received(interim)
    if len(received):
        got = cases["inspection_id"].astype(str).map(received)
        cases = cases.loc[got.notna() & (got <= end)].reset_index(drop=True)
    cases = cases.drop(columns="inspection_id")
    with sqlite3.connect(f"file:{store}?mode=ro", uri=True) as db:
        events = pd.read_sql_query(
            "SELECT seq, case_id, action, date, disposal FROM events WHERE date <= ? "
            "ORDER BY seq",
            db, params=[end.isoformat()],
        )  # fmt: skip
    events = events.sort_values(["case_id", "date", "seq"], kind="stable")
    last = events.drop_duplicates("case_id", keep="last").set_index("case_id")
    out = cases.copy()
    out["opened_date"] = pd.to_datetime(out["opened_date"]).dt.date
    act = out["case_id"].map(last["action"]).fillna("open")
    out["state"] = act.map(_STATE_AFTER)
    since = out["case_id"].map(last["date"])
    out["state_since"] = pd.to_datetime(since.fillna(out["opened_date"].astype(str))).dt.date
    closed = out["state"] == "closed"
    out["disposal"] = out["case_id"].map(last["disposal"]).where(closed)
    out["disposal_date"] = out["state_since"].where(closed)
    return out


def _case_figures(states: pd.DataFrame, cfg: CasesConfig, end: dt.date) -> dict[str, Any]:
    n = len(states)
    closed = states.loc[states["state"] == "closed"]
    late = overdue(states.loc[states["state"] != "closed"], cfg.deadlines, end)
    days = pd.to_datetime(closed["disposal_date"]) - pd.to_datetime(closed["opened_date"])
    counts = closed["disposal"].value_counts()
    return {
        "opened": n,
        "disposed": len(closed),
        "disposed_share": _share(len(closed), n),
        "referred_pending": int(states["state"].isin(["referred", "acknowledged"]).sum()),
        "overdue": len(late),
        "overdue_share": _share(len(late), n),
        "median_days_to_disposal": None if closed.empty else float(np.median(days.dt.days)),
        "by_disposal": {
            d.code: {
                "zh": d.zh,
                "en": d.en,
                "cases": int(counts.get(d.code, 0)),
                "share": _share(int(counts.get(d.code, 0)), len(closed)),
            }
            for d in cfg.disposals
        },
    }


def _warning_figures(
    outputs: Path, interim: Path, month: Month, store_states: pd.DataFrame | None,
    store: Path | None, window: int,
) -> list[dict[str, Any]]:  # fmt: skip
    end = month.end
    snap = open_table(Path(interim), "inspections")
    cols = ["uscc", "inspection_date", "problem_found", "received_date"]
    insp = snap.pandas(cols) if snap is not None else pd.DataFrame(columns=cols)
    # point in time: what the bureau knew at the month end
    insp = insp.loc[pd.to_datetime(insp["received_date"]).dt.date <= end]
    insp_date = pd.to_datetime(insp["inspection_date"]).dt.date
    opened = pd.DataFrame(columns=["uscc", "opened_date"])
    if store is not None:
        with sqlite3.connect(f"file:{store}?mode=ro", uri=True) as db:
            opened = pd.read_sql_query("SELECT uscc, inspection_id, opened_date FROM cases", db)
        received = _received(interim)
        if len(received):  # a case exists once its inspection was received
            got = opened["inspection_id"].astype(str).map(received)
            opened = opened.loc[got.notna() & (got <= end)]
    opened_date = pd.to_datetime(opened["opened_date"]).dt.date
    rows = []
    out = Outputs(Path(outputs))
    for folder in sorted(Path(outputs).glob("????-??")):
        m = folder.name
        wpath = out.warnings(m)
        if m > month or not wpath.is_file():
            continue
        try:
            start = Month(m).end
        except ValueError:
            continue
        stop = min(start + dt.timedelta(days=window), end)
        warned = set(pd.read_parquet(wpath, columns=["uscc"])["uscc"].astype(str))
        in_window = ((insp_date > start) & (insp_date <= stop)).to_numpy(dtype=bool)
        seen = insp.loc[in_window & insp["uscc"].astype(str).isin(warned).to_numpy()]
        cased = opened.loc[((opened_date > start) & (opened_date <= stop)).to_numpy(dtype=bool)]
        acted = set(seen["uscc"].astype(str)) | (set(cased["uscc"].astype(str)) & warned)
        inspected = seen["uscc"].nunique()
        found = seen.loc[seen["problem_found"].fillna(False).astype(bool), "uscc"].nunique()
        rows.append({
            "month": m,
            "warnings": len(warned),
            "days_observed": max(0, (stop - start).days),
            "window_days": window,
            "acted": len(acted),
            "acted_share": _share(len(acted), len(warned)) if stop > start else None,
            "inspected": int(inspected),
            "problem_found": int(found),
            "problem_found_share": _share(int(found), int(inspected)),
        })  # fmt: skip
    return rows


def followup_section(
    outputs: Path, interim: Path, as_of: str, config: Path = CASES_CONFIG
) -> dict[str, Any]:
    """The 「预警处置准确性」 section of ``metrics.json`` for the month ``as_of``."""
    month = Month(as_of)
    store = case_store(outputs)
    if not store.is_file():
        return {"computed": False, "why": f"no case store ({store}); run riskclass cases open"}
    cfg = load_config(config, CasesConfig)
    end = month.end
    states = case_states(store, end, interim)
    divisions = []
    for code, part in states.groupby(states["division_code"].fillna("unknown"), sort=True):
        f = _case_figures(part, cfg, end)
        divisions.append({"division_code": str(code),
                          **{k: v for k, v in f.items() if k != "by_disposal"}})  # fmt: skip
    return {
        "computed": True,
        "as_of": end.isoformat(),
        "deadlines": cfg.deadlines.model_dump(),
        "cases": _case_figures(states, cfg, end),
        "divisions": divisions,
        "warnings": _warning_figures(outputs, interim, month, states, store, cfg.acted_window_days),
    }
