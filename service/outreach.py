"""Service pages for outreach: a county's reminder batches and its publication files.

Reminders (`pipelines.remind`) and publications (`pipelines.publish`) are files meant for
enterprises and the public, written under ``outputs/outreach/<month>/``, outside the sealed
month folder (a file added under ``outputs/<month>/`` after the seal makes the month refuse to
serve). They are served here for a sealed month only (`data.month`: the month's seal checks),
to staff who see named lists, within their jurisdiction:

* ``GET /outreach``: the reminder batches of the divisions the user may see, and the
  publications of the month;
* ``GET /outreach/reminders/{division}.zip``: a division's batch (notices, index, PDF);
* ``GET /outreach/reminders/{division}.pdf``: its combined, printable PDF;
* ``GET /outreach/publication/{name}.csv``: a publication's rows for enterprises the user
  may see (formula-safe, UTF-8 with BOM, no internal-use header: it is meant for publication).

Every view and download is audited (`service.audit.record`).
"""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path

import pandas as pd
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, Response

from pipelines.io import FIXED_TIME, csv_text
from pipelines.publish import publication_folder
from pipelines.remind import reminder_folder
from service import audit, data, pages, web

_DIVISION = re.compile(r"\d{2,6}")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,80}")


def reminder_batches(outputs: Path, month: str) -> list[str]:
    """Divisions with a reminder batch for ``month``."""
    root = reminder_folder(outputs, month, "x").parent
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if p.is_dir() and _DIVISION.fullmatch(p.name))


def publications(outputs: Path, month: str) -> list[str]:
    """Publications of ``month`` (plan ids and ``dormant``) with a CSV."""
    root = publication_folder(outputs, month, "x").parent
    if not root.is_dir():
        return []
    return sorted(
        p.name
        for p in root.iterdir()
        if p.is_dir() and _NAME.fullmatch(p.name) and any(p.glob("*.csv"))
    )


def _publication_csv(folder: Path) -> Path:
    for stem in ("inspections", "dormant"):
        if (folder / f"{stem}.csv").is_file():
            return folder / f"{stem}.csv"
    raise web.Refused(404, "no such publication")


def add_routes(app: FastAPI, state: data.State) -> None:
    """The outreach pages and downloads on ``app``."""
    s = state.settings

    def _batch(division: str, month: str | None, request: Request) -> tuple[str, str, Path]:
        sess = pages.session(state, request, page=False)
        pages.named(sess)
        m = data.month(state, month)
        # another county's batch answers as one that does not exist (the app's handler records
        # the refusal): a county cannot probe which of its neighbours have reminders
        if (
            not _DIVISION.fullmatch(division)
            or not sess.user.may_see(division)
            or division not in reminder_batches(s.outputs, m)
        ):
            raise web.Refused(404, "no reminder batch for this division")
        return sess.user.username, m, reminder_folder(s.outputs, m, division)

    @app.get("/outreach", response_class=HTMLResponse)
    def outreach(request: Request, month: str | None = None) -> Response:
        sess = pages.session(state, request, page=True)
        pages.named(sess)
        m = data.month(state, month)
        batches = [d for d in reminder_batches(s.outputs, m) if sess.user.may_see(d)]
        has_pdf = {
            d: (reminder_folder(s.outputs, m, d) / "reminders.pdf").is_file() for d in batches
        }
        audit.record(s.audit_log, sess.user.username, "view_outreach", m)
        return pages.html(
            pages.page(
                state,
                request,
                sess,
                "outreach.html.j2",
                month=m,
                batches=batches,
                has_pdf=has_pdf,
                publications=publications(s.outputs, m),
            )
        )

    @app.get("/outreach/reminders/{division}.zip")
    def reminders_zip(request: Request, division: str, month: str | None = None) -> Response:
        user, m, folder = _batch(division, month, request)
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
            for path in sorted(folder.iterdir()):
                if path.is_file() and not path.name.startswith("."):
                    z.writestr(zipfile.ZipInfo(path.name, date_time=FIXED_TIME), path.read_bytes())
        audit.record(s.audit_log, user, "export_reminders", f"{m}/{division}", format="zip")
        resp = Response(buf.getvalue(), media_type="application/zip")
        resp.headers["Content-Disposition"] = f'attachment; filename="reminders-{division}-{m}.zip"'
        return web.secure(resp)

    @app.get("/outreach/reminders/{division}.pdf")
    def reminders_pdf(request: Request, division: str, month: str | None = None) -> Response:
        user, m, folder = _batch(division, month, request)
        pdf = folder / "reminders.pdf"
        if not pdf.is_file():
            raise web.Refused(
                404, "this batch was made without a PDF (riskclass remind --format both)"
            )
        audit.record(s.audit_log, user, "export_reminders", f"{m}/{division}", format="pdf")
        resp = Response(pdf.read_bytes(), media_type="application/pdf")
        resp.headers["Content-Disposition"] = f'attachment; filename="reminders-{division}-{m}.pdf"'
        return web.secure(resp)

    @app.get("/outreach/publication/{name}.csv")
    def publication_csv(request: Request, name: str, month: str | None = None) -> Response:
        sess = pages.session(state, request, page=False)
        pages.named(sess)
        m = data.month(state, month)
        if not _NAME.fullmatch(name) or name not in publications(s.outputs, m):
            raise web.Refused(404, "no such publication")
        path = _publication_csv(publication_folder(s.outputs, m, name))
        rows = pd.read_csv(path, dtype=str, encoding="utf-8-sig", keep_default_na=False)
        reg = data.registry(state)
        uscc = rows["统一社会信用代码"].str.lstrip("'")
        division = uscc.map(reg["division_code"]).fillna("").astype(str)
        mine = rows.loc[division.map(sess.user.may_see).astype(bool)]
        audit.record(
            s.audit_log, sess.user.username, "export_publication", f"{m}/{name}", rows=len(mine)
        )
        body = "\ufeff" + csv_text(mine)
        resp = Response(body.encode("utf-8"), media_type="text/csv; charset=utf-8")
        resp.headers["Content-Disposition"] = f'attachment; filename="publication-{name}-{m}.csv"'
        return web.secure(resp)
