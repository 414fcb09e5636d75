"""Staff pages of the follow-up of problems (issue 20): cases to their disposal.

``GET /cases``: the cases of the user's jurisdiction, overdue first (``state`` filters);
``GET /cases.csv``: the same list, formula-safe, marked as internal; ``GET /cases/{case_id}``:
a case and its history; ``POST /cases/{case_id}/refer`` and ``/close``: a form (CSRF checked)
that refers a case to a department or closes it with a disposal and its date. Every view,
export and change is audited. A case outside the user's jurisdiction is answered 404, as an
unknown one is (a county cannot probe another's). Cases carry no class, score or risk point.

Overdue is counted to ``as_of`` (a query parameter); when none is given, to today's date in
China (the page shows the present; no stored figure depends on it).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
from fastapi import FastAPI, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from models.cases import STATE_ZH, STATES, CaseError
from pipelines.cases import CASES_CONFIG, CaseStore, load_cases_config, store_path
from service import audit, pages, web
from service.accounts import Session
from service.data import State

#: at most this many cases on a page (the export has them all)
LIMIT = 500
_COLUMNS = ["case_id", "uscc", "division_code", "item", "inspection_date", "state",
            "state_since", "due_date", "days_overdue", "department", "disposal",
            "disposal_date"]  # fmt: skip


def _today() -> dt.date:
    # the service shows the present: today in China (UTC+8); no stored figure uses it
    return (dt.datetime.now(dt.UTC) + dt.timedelta(hours=8)).date()


def add_routes(
    app: FastAPI, state: State, *, store: Path | None = None, config: Path = CASES_CONFIG
) -> None:
    """Add the case pages to ``app`` (the store: ``<outputs>/cases/cases.sqlite`` unless
    ``store`` is given)."""
    cfg = load_cases_config(config)
    s = state.settings
    where = store or store_path(s.outputs)

    def _store() -> CaseStore | None:
        return CaseStore(where) if where.is_file() else None

    def _as_of(text: str | None) -> dt.date:
        if not text:
            return _today()
        try:
            return dt.date.fromisoformat(text)
        except ValueError:
            raise web.Refused(400, "as_of: give a date YYYY-MM-DD") from None

    def _mine(sess: Session, as_of: dt.date, case_state: str | None) -> pd.DataFrame:
        cs = _store()
        if cs is None:
            return pd.DataFrame(columns=_COLUMNS)
        if case_state is not None and case_state not in STATES:
            raise web.Refused(400, f"state: one of {', '.join(STATES)}")
        frame = cs.cases(state=case_state)
        frame = frame.loc[frame["division_code"].map(sess.user.may_see).astype(bool)]
        frame = frame.loc[frame["opened_date"] <= as_of]  # as the store stood on that day
        late = cs.overdue(cfg, as_of).set_index("case_id")
        frame = frame.assign(
            due_date=frame["case_id"].map(late["due_date"]),
            days_overdue=frame["case_id"].map(late["days_overdue"]).astype("Int64"),
        )
        frame = frame.sort_values(
            ["days_overdue", "case_id"], ascending=[False, True], na_position="last"
        )
        return frame[_COLUMNS].reset_index(drop=True)

    def _case(sess: Session, case_id: str, action: str) -> CaseStore:
        """The store, if the case exists and is the user's; else 404 (on record)."""
        cs = _store()
        case = cs.case(case_id) if cs is not None else None
        if cs is None or case is None or not sess.user.may_see(str(case["division_code"] or "")):
            audit.record(
                s.audit_log, sess.user.username, action, case_id,
                outcome="refused" if case is not None else "not_found",
            )  # fmt: skip
            raise web.Refused(404, "no such case in your jurisdiction")
        return cs

    @app.get("/cases", response_class=HTMLResponse)
    def cases_page(request: Request, as_of: str | None = None) -> Response:
        sess = pages.session(state, request, page=True)
        pages.named(sess)
        day = _as_of(as_of)
        wanted = request.query_params.get("state") or None  # "state" names the service's here
        rows = _mine(sess, day, wanted)
        audit.record(s.audit_log, sess.user.username, "view_cases", wanted or "all",
                     as_of=day.isoformat())  # fmt: skip
        return pages.html(
            pages.page(
                state, request, sess, "cases.html.j2",
                rows=rows.head(LIMIT).to_dict("records"), total=len(rows),
                overdue=int(rows["days_overdue"].notna().sum()), as_of=day.isoformat(),
                state_filter=wanted or "", states=STATES, state_zh=STATE_ZH,
            )
        )  # fmt: skip

    @app.get("/cases.csv")
    def cases_csv(request: Request, as_of: str | None = None) -> Response:
        sess = pages.session(state, request, page=False)
        pages.named(sess)
        day = _as_of(as_of)
        wanted = request.query_params.get("state")
        rows = _mine(sess, day, wanted)
        audit.record(s.audit_log, sess.user.username, "export_cases", wanted or "all",
                     as_of=day.isoformat(), rows=str(len(rows)))  # fmt: skip
        return pages.csv(rows, sess.user, f"cases-{day.isoformat()}.csv")

    @app.get("/cases/{case_id}", response_class=HTMLResponse)
    def case_page(request: Request, case_id: str, as_of: str | None = None) -> Response:
        sess = pages.session(state, request, page=True)
        pages.named(sess)
        cs = _case(sess, case_id, "view_case")
        day = _as_of(as_of)
        late = cs.overdue(cfg, day)
        late = late.loc[late["case_id"] == case_id]
        audit.record(s.audit_log, sess.user.username, "view_case", case_id)
        history = cs.events(case_id).drop(columns=["seq", "case_id"])
        return pages.html(
            pages.page(
                state, request, sess, "cases_case.html.j2",
                case=cs.case(case_id), history=history.to_dict("records"),
                days_overdue=None if late.empty else int(late["days_overdue"].iloc[0]),
                as_of=day.isoformat(), state_zh=STATE_ZH,
                departments=cfg.departments, disposals=cfg.disposals,
                error=request.query_params.get("error", ""),
            )
        )  # fmt: skip

    def _change(
        request: Request, case_id: str, csrf: str, action: str, date: str,
        department: str | None = None, disposal: str | None = None,
    ) -> Response:  # fmt: skip
        sess = pages.session(state, request, page=True)
        pages.named(sess)
        pages.csrf(sess, csrf)
        cs = _case(sess, case_id, f"case_{action}")
        try:
            new = cs.act(cfg, case_id, action, date, sess.user.username,
                         department=department, disposal=disposal, source="service")  # fmt: skip
        except CaseError as exc:
            audit.record(s.audit_log, sess.user.username, f"case_{action}", case_id,
                         outcome="rejected", reason=str(exc))  # fmt: skip
            raise web.Refused(400, str(exc)) from None
        audit.record(s.audit_log, sess.user.username, f"case_{action}", case_id, date=date,
                     state=new, department=department or "", disposal=disposal or "")  # fmt: skip
        return RedirectResponse(f"/cases/{case_id}", status_code=303)

    @app.post("/cases/{case_id}/refer")
    def refer(
        request: Request, case_id: str, csrf: str = Form(""), department: str = Form(""),
        date: str = Form(""),
    ) -> Response:  # fmt: skip
        return _change(request, case_id, csrf, "refer", date, department=department)

    @app.post("/cases/{case_id}/acknowledge")
    def acknowledge(
        request: Request, case_id: str, csrf: str = Form(""), date: str = Form("")
    ) -> Response:
        return _change(request, case_id, csrf, "acknowledge", date)

    @app.post("/cases/{case_id}/close")
    def close(
        request: Request, case_id: str, csrf: str = Form(""), disposal: str = Form(""),
        date: str = Form(""),
    ) -> Response:  # fmt: skip
        return _change(request, case_id, csrf, "close", date, disposal=disposal)
