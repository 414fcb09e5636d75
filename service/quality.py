"""The page ``/quality``: collection quality per delivering department and table (issue 20,
item 8; 「20个工作日内」 seeds/004, 「全貌性、及时性、准确性」 seeds/000).

It shows the ``collection`` section of a sealed month's verification figures
(`pipelines.verify.collection`): per department and table, the share of records received
within the working-day limit, median and 90th-percentile delay, completeness and error
rate. Aggregates only: no enterprise, no class, nothing of a division, so a city sees the
province's figures like the province does. For the province, cities and data scientists;
counties and administrators are refused (403). Every view and export is audited;
``/quality.csv`` is formula-safe and marked like every export.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, Response

from pipelines.verify.collection import FIELDS
from service import audit, data, pages, web
from service.accounts import Session

#: Roles that may see collection quality (the issue names them).
ROLES = ("province", "city", "data_scientist")


def _allowed(sess: Session) -> None:
    if sess.user.role not in ROLES:
        raise web.Refused(403, "collection quality is for the province, cities and data scientists")


def collection(state: data.State, month: str) -> dict[str, Any]:
    """The month's collection-quality section ({} when its verification has none)."""
    metrics = data.verification(state, month)
    return dict(metrics.collection) if metrics is not None else {}


def add_routes(app: FastAPI, state: data.State) -> None:
    """``GET /quality`` (page) and ``GET /quality.csv`` (export)."""
    log = state.settings.audit_log

    @app.get("/quality", response_class=HTMLResponse)
    def quality_page(request: Request, month: str | None = None) -> Response:
        sess = pages.session(state, request, page=True)
        _allowed(sess)
        m = data.month(state, month)
        section = collection(state, m)
        audit.record(log, sess.user.username, "view_quality", m)
        return pages.html(pages.page(state, request, sess, "quality.html.j2", month=m, cq=section))

    @app.get("/quality.csv")
    def quality_csv(request: Request, month: str | None = None) -> Response:
        sess = pages.session(state, request, page=False)
        _allowed(sess)
        m = data.month(state, month)
        section = collection(state, m)
        if not section.get("computed"):
            raise web.Refused(404, "no collection quality for this month")
        audit.record(log, sess.user.username, "export_quality", m)
        return pages.csv(
            pd.DataFrame(section["rows"], columns=list(FIELDS)),
            sess.user,
            f"collection-quality-{m}.csv",
        )
