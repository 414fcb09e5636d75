"""The page ``/plans/due``: who is due a visit under their class's yearly frequency (issue 20,
item 1; seeds/002 「合理确定、动态调整抽查比例和频次」), and how each sealed plan's visits are
made (check mode, departments).

`riskclass plan` writes ``due.csv`` next to each plan (`pipelines.plan`): the enterprises in
the campaign's scope with fewer inspections in the last 12 months than their class's
``visits_per_year`` pro rata, and whether the plan draws them. The page serves one sealed
plan's list (default: the first sealed plan that has one), only the rows of the user's
jurisdiction (``user.may_see(division)``), and for every sealed plan the visits by check mode
and by departments, within the jurisdiction. Internal, like the plans: for users who see
named enterprises (`service.pages.named`). Every view and export is audited;
``/plans/due/export.csv`` is formula-safe and marked like every export (the path keeps clear
of ``/plans/{campaign}.csv``).
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, Response

from service import audit, data, pages, web
from service.accounts import User

#: due.csv, beside each plan.csv
DUE_FILE = "due.csv"


def due_campaigns(state: data.State, month: str) -> list[str]:
    """The sealed plans of the month whose due list the seal covers."""
    files = state.sealed_files(month)
    return [c for c in data.sealed_plans(state, month) if f"plans/{c}/{DUE_FILE}" in files]


def due_list(state: data.State, month: str, campaign: str, user: User) -> pd.DataFrame:
    """The plan's due firms that ``user`` may see."""
    path = state.outputs.plan(month, campaign) / DUE_FILE
    due = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    return due[due["division_code"].map(user.may_see).astype(bool)].reset_index(drop=True)


def visit_modes(state: data.State, month: str, user: User) -> list[dict[str, Any]]:
    """Per sealed plan: the visits of the jurisdiction by check mode and by departments."""
    out = []
    for campaign in data.sealed_plans(state, month):
        plan = data.plan(state.outputs.plan_csv(month, campaign), user)
        if "check_mode" not in plan.columns:  # a plan drawn before check modes
            continue
        firms = plan.drop_duplicates("uscc")
        out.append(
            {
                "campaign": campaign,
                "draw_mode": ";".join(sorted(set(firms["draw_mode"]))),
                "visits": len(firms),
                "modes": firms["check_mode"].value_counts().sort_index().to_dict(),
                "departments": firms["departments"].value_counts().sort_index().to_dict(),
            }
        )
    return out


def _pick(state: data.State, month: str, campaign: str | None) -> str:
    found = due_campaigns(state, month)
    if campaign is None:
        if not found:
            raise web.Refused(404, "no sealed plan of this month has a due list")
        return found[0]
    if campaign not in found:  # only what the month's seal covers
        raise web.Refused(404, "no such plan")
    return campaign


def add_routes(app: FastAPI, state: data.State) -> None:
    """``GET /plans/due`` (page) and ``GET /plans/due/export.csv`` (export)."""
    log = state.settings.audit_log

    @app.get("/plans/due", response_class=HTMLResponse)
    def due_page(
        request: Request, month: str | None = None, campaign: str | None = None
    ) -> Response:
        sess = pages.session(state, request, page=True)
        pages.named(sess)
        m = data.month(state, month)
        found = due_campaigns(state, m)
        c = _pick(state, m, campaign) if found or campaign else None
        due = due_list(state, m, c, sess.user) if c else pd.DataFrame()
        audit.record(log, sess.user.username, "view_due", f"{m}/{c or '-'}")
        return pages.html(
            pages.page(
                state,
                request,
                sess,
                "campaign_due.html.j2",
                month=m,
                campaign=c,
                campaigns=found,
                rows=due.to_dict("records"),
                visits=visit_modes(state, m, sess.user),
            )
        )

    @app.get("/plans/due/export.csv")
    def due_csv(
        request: Request, month: str | None = None, campaign: str | None = None
    ) -> Response:
        sess = pages.session(state, request, page=False)
        pages.named(sess)
        m = data.month(state, month)
        c = _pick(state, m, campaign)
        due = due_list(state, m, c, sess.user)
        audit.record(log, sess.user.username, "export_due", f"{m}/{c}")
        return pages.csv(due, sess.user, f"due-{c}-{m}.csv")
