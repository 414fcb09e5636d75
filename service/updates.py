"""Within-month updates in the staff service (issue 20, item 5): the month's updates in the
user's jurisdiction (``/updates``, and its export ``/updates.csv``), each with why the class
served now differs from the month-end one (`pipelines.update.describe`). Lists, search and
the enterprise view serve the current class through `service.data.classes`; this page says
what changed and why. Named data: bureau staff (and data scientists granted named lists)
only; every view and export is audited.
"""

from __future__ import annotations

import pandas as pd
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, Response

from pipelines.update import describe
from service import audit, data, pages
from service.accounts import User

#: The columns of the page and the export, in order.
COLUMNS = (
    "delivered",
    "uscc",
    "name",
    "division_code",
    "class_before",
    "class_after",
    "rule",
    "effect",
    "record_table",
    "record_key",
    "why",
)


def scoped_updates(state: data.State, user: User, month: str, lang: str) -> pd.DataFrame:
    """The month's updates of enterprises in ``user``'s jurisdiction, latest first, with the
    rule's name and the explanation in ``lang``."""
    frame = data.updates(state, month)
    reg = data.registry(state)
    frame = frame[frame["uscc"].isin(reg.index)]
    if frame.empty:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in COLUMNS})
    division = frame["uscc"].map(reg["division_code"]).astype(str)
    frame = frame[division.map(user.may_see).astype(bool).to_numpy() & user.sees_named]
    if frame.empty:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in COLUMNS})
    names = {r.name: (r.en if lang == "en" else r.zh) for r in state.scheme.overrides}
    rule = frame["override_rule"].where(frame["override_rule"] != "", frame["rule_before"])
    out = frame.assign(
        name=frame["uscc"].map(reg["name"]),
        division_code=frame["uscc"].map(reg["division_code"]).astype(str),
        rule=rule.map(lambda r: names.get(r, r)),
        why=[describe(row, state.scheme, lang) for _i, row in frame.iterrows()],
    )
    return out.iloc[::-1][list(COLUMNS)].reset_index(drop=True)


def add_routes(app: FastAPI, state: data.State) -> None:
    """``GET /updates`` and ``GET /updates.csv`` (``?month=``; default the latest sealed)."""
    s = state.settings

    @app.get("/updates", response_class=HTMLResponse)
    def updates_page(request: Request, month: str | None = None, lang: str = "zh") -> Response:
        sess = pages.session(state, request, page=True)
        pages.named(sess)
        m = data.month(state, month)
        rows = scoped_updates(state, sess.user, m, "en" if lang == "en" else "zh")
        audit.record(s.audit_log, sess.user.username, "view_updates", m)
        return pages.html(
            pages.page(
                state, request, sess, "updates.html.j2", month=m, rows=rows.to_dict("records")
            )
        )

    @app.get("/updates.csv")
    def updates_csv(request: Request, month: str | None = None, lang: str = "zh") -> Response:
        sess = pages.session(state, request, page=False)
        pages.named(sess)
        m = data.month(state, month)
        rows = scoped_updates(state, sess.user, m, "en" if lang == "en" else "zh")
        audit.record(s.audit_log, sess.user.username, "export_updates", m)
        return pages.csv(rows, sess.user, f"updates-{m}.csv")
