"""`riskclass serve`: the bureau staff's web service (FastAPI, pages rendered on the server).

Every page needs a login; every page and export is limited to the user's role and
jurisdiction (`service.accounts`); every login, view, search, export and account change is
appended to the audit log (`service.audit`); a month is served only while its files match
its seal and the chains verify against their signed anchors (`service.guard`). Pages and
exports carry the internal-use banner (`pipelines.render.wording`) and the user's name; exports
are formula-safe. Error pages name no enterprise and no class; uvicorn's access log is off (the
audit log is the record, and holds no class). Settings: `configs/service.yaml`
(`service.config`). Files are found through `pipelines.paths`; enterprise reports are the
`report` stage's (`pipelines.report`), rendered on request. Start-up (`run`,
`from_environment`) turns library telemetry off (`pipelines.environment.no_telemetry`).

Status codes: a page without a session redirects to the login (302); a download without one
is 401; a role that may not use a page is 403; an enterprise outside the user's jurisdiction
is 404, the same answer as one that does not exist; a login held back is 429 with
Retry-After; a body over the limit 413; a month whose seal does not check, or any month while
the chains do not verify, is 503, with the reasons counted, not listed (file names would say
which enterprises have class-D reports). Every response carries the security headers.

The routes are here; the HTTP plumbing (middlewares, request helpers, `Refused`) is
`service.web`, the settings, state and data access `service.data`, page rendering and the
session checks `service.pages`.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import anyio.to_thread
import pandas as pd
from fastapi import FastAPI, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from models.classes import ClassScheme, class_order
from models.config import ModelConfig
from pipelines import chain
from pipelines.config import load_config
from pipelines.environment import no_telemetry
from pipelines.render.wording import BANNER_ZH as BANNER
from pipelines.results import ClassesSummary
from service import audit, campaigns, cases, data, outreach, pages, quality, updates, web
from service.accounts import ROLES, AccountError, Accounts, Grant, Session, same
from service.anchor import AnchorError
from service.api import build_api
from service.config import ServiceConfig
from service.data import Settings
from service.guard import Guard, read_anchors

__all__ = ["SETTINGS_ENV", "Settings", "create_app", "from_environment", "run"]

TEMPLATES = Path(__file__).parent / "templates"
LIST_LIMIT = 500
MAX_NAME = 64  # a user name is at most 40 characters; longer input is cut before any use


#: hands the settings to `run`'s worker processes (each builds its own app from them)
SETTINGS_ENV = "RISKCLASS_SERVICE_SETTINGS"


def run(settings: Settings, host: str, port: int) -> None:
    """Serve with uvicorn, in ``settings.config.workers`` processes (each with its own app,
    its own caches and its own guard; accounts, sessions and the audit log are shared files
    with their own locks). The access log is off (the audit log is the record) and proxy
    headers are not applied by uvicorn: the app decides whose X-Forwarded-For to believe."""
    import json
    import os

    import uvicorn

    no_telemetry()
    kw: dict[str, Any] = {
        "host": host,
        "port": port,
        "access_log": False,
        "log_level": "warning",
        "proxy_headers": False,
    }
    workers = settings.config.workers
    if workers <= 1:
        uvicorn.run(create_app(settings), **kw)
        return
    fields = {
        k: str(v) if isinstance(v, Path) else v
        for k, v in vars(settings).items()
        if k not in ("config", "accounts_obj")
    }
    fields["config"] = settings.config.model_dump_json()
    os.environ[SETTINGS_ENV] = json.dumps(fields)  # read by the workers, not at import
    uvicorn.run("service.app:from_environment", factory=True, workers=workers, **kw)


def from_environment() -> FastAPI:
    """The app of one of `run`'s worker processes, from the settings its parent handed over."""
    import json
    import os

    no_telemetry()
    f = json.loads(os.environ[SETTINGS_ENV])
    return create_app(
        Settings(
            config=ServiceConfig.model_validate_json(f["config"]),
            outputs=Path(f["outputs"]),
            interim=Path(f["interim"]),
            features=Path(f["features"]),
            model_config=Path(f["model_config"]),
            report_config=Path(f["report_config"]),
            accounts=Path(f["accounts"]),
            audit_log=Path(f["audit_log"]),
            secure_cookies=bool(f["secure_cookies"]),
            cache_feature_rows=int(f["cache_feature_rows"]),
        )
    )


def create_app(settings: Settings | None = None) -> FastAPI:
    s = settings or Settings()
    cfg = load_config(s.model_config, ModelConfig)
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["j2"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    sc = s.config
    anchored = None
    if sc.anchors is not None:  # configured: the key must be there (no silent fall-back)
        if not sc.anchors.public_key.is_file():
            raise AnchorError(
                f"anchors are configured but the public key "
                f"{sc.anchors.public_key} is missing (riskclass audit keygen)"
            )
        anchored = read_anchors(
            sc.anchors.file, sc.anchors.public_key, dt.timedelta(minutes=sc.anchors.max_age_minutes)
        )
    guard = Guard(
        s.outputs,
        s.audit_log,
        sc.seal_check_seconds,
        sc.rehash_mib_per_second * 2**20,
        anchored,
        sc.full_check_minutes * 60,
    )
    accounts = s.accounts_obj or Accounts(s.accounts, policy=sc.policy())
    state = data.State(s, accounts, cfg, load_config(cfg.class_scheme, ClassScheme), env, guard)

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # Pages are rendered by a pool of threads that share one interpreter lock: more
        # threads than a few only add contention, and each brings its own malloc arena, whose
        # freed memory glibc keeps (the process stayed at its peak after a burst).
        anyio.to_thread.current_default_thread_limiter().total_tokens = sc.worker_threads
        web.limit_malloc_arenas(2)
        guard.start()  # background re-hashing while the service runs
        try:
            yield
        finally:
            guard.stop()
            hashing.shutdown(wait=False)

    # as many as service.accounts lets hash at once (a pool, not an event loop's limiter:
    # the test client runs each request in a loop of its own)
    hashing = ThreadPoolExecutor(2, thread_name_prefix="login")
    app = FastAPI(
        title="riskclass", docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan
    )
    app.state.rc = state
    app.add_middleware(
        web.BodyLimit, limit=sc.max_body_kib * 1024, api_limit=sc.api_max_body_kib * 1024
    )

    @app.exception_handler(web.Refused)
    async def _refused(request: Request, exc: web.Refused) -> Response:
        if exc.status == 302:
            return RedirectResponse(f"/login?next={request.url.path}", status_code=302)
        sess = state.accounts.session(request.cookies.get(pages.COOKIE))
        if sess is not None:  # every refusal of a logged-in user is on record
            audit.record(
                s.audit_log,
                sess.user.username,
                "refused",
                request.url.path,
                outcome=str(exc.status),
            )
        page = state.env.get_template("error.html.j2").render(
            banner=BANNER, status=exc.status, message=exc.message, t=pages.TEXT[web.lang(request)]
        )
        return web.secure(HTMLResponse(page, status_code=exc.status))

    def _error_page() -> bytes:
        return (
            state.env.get_template("error.html.j2")
            .render(banner=BANNER, status=500, message="internal error", t=pages.TEXT["zh"])
            .encode("utf-8")
        )

    app.add_middleware(web.Contain, guard=guard, error_page=_error_page)

    # ------------------------------------------------------------------ login
    @app.get("/login", response_class=HTMLResponse)
    def login_page(request: Request, next: str = "/") -> Response:
        token = request.cookies.get(pages.LOGIN_COOKIE) or web.new_token()
        page = pages.page(state, request, None, "login.html.j2", csrf=token, next=web.local(next))
        resp = web.secure(HTMLResponse(page))
        resp.set_cookie(
            pages.LOGIN_COOKIE, token, httponly=True, samesite="strict", secure=s.secure_cookies
        )
        return resp

    @app.post("/login")
    async def login(
        request: Request,
        username: str = Form(""),
        password: str = Form(""),
        csrf: str = Form(""),
        next: str = Form("/"),
    ) -> Response:
        if not same(csrf, request.cookies.get(pages.LOGIN_COOKIE)):
            raise web.Refused(403, "CSRF token missing or wrong")
        client = web.client(request, s.config)
        username = username[:MAX_NAME]  # capped before anything is stored or logged
        # password checks (argon2, 64 MiB and tens of milliseconds each) in threads of their
        # own: a burst of logins does not hold up the pages of those already logged in
        attempt = await asyncio.wrap_future(
            hashing.submit(state.accounts.login, username, password, client)
        )
        if attempt.spraying:  # many names failing from one address: an alert, not a lock
            audit.record(s.audit_log, "-", "login_spraying", client, outcome="alert")
        if attempt.outcome != "ok":
            # a repeat within the window is counted by the throttle, not logged again
            if attempt.first_in_window:
                audit.record(s.audit_log, username, "login", outcome=attempt.outcome, client=client)
            throttled = attempt.outcome == "throttled"
            error = (
                "too many failed attempts from this address; wait and try again"
                if throttled
                else "wrong user name or password"
            )
            page = pages.page(
                state, request, None, "login.html.j2", csrf=csrf, next=web.local(next), error=error
            )
            refusal = HTMLResponse(page, status_code=429 if throttled else 401)
            if throttled:
                refusal.headers["Retry-After"] = str(attempt.retry_after)
            return web.secure(refusal)
        token = str(attempt.token)
        audit.record(s.audit_log, username, "login", client=client)
        resp = RedirectResponse(web.local(next), status_code=303)
        resp.set_cookie(
            pages.COOKIE, token, httponly=True, samesite="strict", secure=s.secure_cookies
        )
        resp.delete_cookie(pages.LOGIN_COOKIE)
        return resp

    @app.post("/logout")
    def logout(request: Request, csrf: str = Form("")) -> Response:
        sess = pages.session(state, request, page=True)
        pages.csrf(sess, csrf)
        state.accounts.logout(request.cookies.get(pages.COOKIE))
        audit.record(s.audit_log, sess.user.username, "logout")
        resp = RedirectResponse("/login", status_code=303)
        resp.delete_cookie(pages.COOKIE)
        return resp

    # ------------------------------------------------------------------ pages
    @app.get("/", response_class=HTMLResponse)
    def home(request: Request) -> Response:
        sess = pages.session(state, request, page=True)
        months = state.sealed_months()
        return pages.html(pages.page(state, request, sess, "home.html.j2", months=months))

    @app.get("/search", response_class=HTMLResponse)
    def search(request: Request, q: str = "", month: str | None = None) -> Response:
        sess = pages.session(state, request, page=True)
        pages.named(sess)
        m = data.month(state, month)
        rows = pd.DataFrame()
        if q.strip():
            frame = data.scoped(state, sess.user, m)
            hit = (frame["uscc"] == q.strip().upper()) | frame["name"].str.contains(
                q.strip(), regex=False, na=False
            )
            rows = frame[hit].head(100)
        audit.record(s.audit_log, sess.user.username, "search", q.strip(), month=m)
        return pages.html(
            pages.page(
                state, request, sess, "search.html.j2", q=q, month=m, rows=rows.to_dict("records")
            )
        )

    @app.get("/enterprise/{uscc}", response_class=HTMLResponse)
    def enterprise(
        request: Request, uscc: str, month: str | None = None, lang: str = "zh"
    ) -> Response:
        sess = pages.session(state, request, page=True)
        pages.named(sess)
        m = data.month(state, month)
        reg = data.registry(state)
        known = uscc in reg.index
        if not known or not sess.user.may_see(reg.at[uscc, "division_code"]):
            # one answer for "does not exist" and "not yours": a county cannot probe others'
            audit.record(
                s.audit_log,
                sess.user.username,
                "view_report",
                uscc,
                outcome="refused" if known else "not_found",
                month=m,
            )
            raise web.Refused(404, "no such enterprise in your jurisdiction")
        # on record before rendering: a failed render is on record too
        audit.record(s.audit_log, sess.user.username, "view_report", uscc, month=m)
        html = data.report_html(state, m, uscc, "en" if lang == "en" else "zh")
        mark = Markup(
            state.env.get_template("_watermark.html.j2").render(
                banner=BANNER, user=sess.user.username, when=web.now_text()
            )
        )
        return pages.html(html.replace("</body>", f"{mark}</body>", 1))

    def _list(
        request: Request,
        page: bool,
        action: str,
        month: str | None,
        cls: str,
        division: str,
        industry: str,
    ) -> tuple[Session, str, pd.DataFrame]:
        """A list or its export: the user's enterprises that match, the request audited
        (what was asked for, not how many it found: a count per class is a result)."""
        sess = pages.session(state, request, page=page)
        pages.named(sess)
        m = data.month(state, month)
        frame = data.filtered(state, sess.user, m, cls, division, industry)
        audit.record(
            s.audit_log, sess.user.username, action, data.filters(cls, division, industry), month=m
        )
        return sess, m, frame

    @app.get("/lists", response_class=HTMLResponse)
    def lists(
        request: Request,
        month: str | None = None,
        cls: str = "",
        division: str = "",
        industry: str = "",
    ) -> Response:
        sess, m, frame = _list(request, True, "view_list", month, cls, division, industry)
        return pages.html(
            pages.page(
                state,
                request,
                sess,
                "lists.html.j2",
                month=m,
                cls=cls,
                division=division,
                industry=industry,
                total=len(frame),
                rows=frame.head(LIST_LIMIT).to_dict("records"),
                classes=class_order(state.scheme),
            )
        )

    @app.get("/lists.csv")
    def lists_csv(
        request: Request,
        month: str | None = None,
        cls: str = "",
        division: str = "",
        industry: str = "",
    ) -> Response:
        sess, m, frame = _list(request, False, "export_list", month, cls, division, industry)
        return pages.csv(frame, sess.user, f"list-{m}.csv")

    @app.get("/warnings", response_class=HTMLResponse)
    def warnings_page(request: Request, month: str | None = None) -> Response:
        sess = pages.session(state, request, page=True)
        pages.named(sess)
        m = data.month(state, month)
        path = state.outputs.warnings(m)
        rows = pd.read_parquet(path) if path.is_file() else pd.DataFrame(columns=["division_code"])
        rows = (
            rows[rows["division_code"].map(sess.user.may_see).astype(bool)] if len(rows) else rows
        )
        audit.record(s.audit_log, sess.user.username, "view_warnings", m)
        return pages.html(
            pages.page(
                state,
                request,
                sess,
                "warnings.html.j2",
                month=m,
                total=len(rows),
                rows=rows.head(LIST_LIMIT).to_dict("records"),
            )
        )

    @app.get("/hotspots", response_class=HTMLResponse)
    def hotspots(request: Request, month: str | None = None) -> Response:
        sess = pages.session(state, request, page=True)
        if sess.user.role == "admin":
            raise web.Refused(403, "administrators see accounts and the audit log only")
        m = data.month(state, month)
        metrics = data.verification(state, m)
        hot = dict(metrics.hot_spots) if metrics else {}
        if hot and sess.user.role in ("county", "city"):  # cells of their own city only
            cities = {d[:4] for d in sess.user.divisions}
            hot["rows"] = [r for r in hot.get("rows", []) if str(r.get("division")) in cities]
        audit.record(s.audit_log, sess.user.username, "view_hotspots", m)
        return pages.html(
            pages.page(
                state,
                request,
                sess,
                "hotspots.html.j2",
                month=m,
                hot=hot,
                warning=metrics.early_warning if metrics else None,
            )
        )

    @app.get("/plans", response_class=HTMLResponse)
    def plans(request: Request, month: str | None = None) -> Response:
        sess = pages.session(state, request, page=True)
        pages.named(sess)
        m = data.month(state, month)
        found = []
        for campaign in data.sealed_plans(state, m):
            plan = data.plan(state.outputs.plan_csv(m, campaign), sess.user)
            found.append(
                {"campaign": campaign, "enterprises": plan["uscc"].nunique(), "rows": len(plan)}
            )
        audit.record(s.audit_log, sess.user.username, "view_plans", m)
        return pages.html(pages.page(state, request, sess, "plans.html.j2", month=m, plans=found))

    @app.get("/plans/{campaign}.csv")
    def plan_csv(request: Request, campaign: str, month: str | None = None) -> Response:
        sess = pages.session(state, request, page=False)
        pages.named(sess)
        m = data.month(state, month)
        if campaign not in data.sealed_plans(state, m):  # only what the month's seal covers
            raise web.Refused(404, "no such plan")
        plan = data.plan(state.outputs.plan_csv(m, campaign), sess.user)
        audit.record(s.audit_log, sess.user.username, "export_plan", f"{m}/{campaign}")
        return pages.csv(plan, sess.user, f"plan-{campaign}-{m}.csv")

    @app.get("/models", response_class=HTMLResponse)
    def models_page(request: Request, month: str | None = None) -> Response:
        sess = pages.session(state, request, page=True)
        if sess.user.role not in ("data_scientist", "province"):
            raise web.Refused(
                403, "models and their figures are for data scientists and the province"
            )
        m = data.month(state, month)
        metrics = data.verification(state, m)
        summary_path = state.outputs.classes_summary(m)
        summary = ClassesSummary.read(summary_path) if summary_path.is_file() else None
        audit.record(s.audit_log, sess.user.username, "view_models", m)
        return pages.html(
            pages.page(
                state,
                request,
                sess,
                "models.html.j2",
                month=m,
                v=metrics.to_dict() if metrics else None,  # the page shows the file's figures
                summary=summary,
                classes=class_order(state.scheme),
            )
        )

    # ------------------------------------------------------------------ accounts (admins)
    def _users(
        request: Request, sess: Session, error: str | None = None, notice: str | None = None
    ) -> Response:
        page = pages.page(
            state,
            request,
            sess,
            "users.html.j2",
            users=state.accounts.users(),
            roles=ROLES,
            pending=state.accounts.pending(),
            throttled=state.accounts.throttled(),
            error=error,
            notice=notice,
        )
        return web.secure(HTMLResponse(page, status_code=400 if error else 200))

    def _admin_action(
        request: Request,
        csrf: str,
        action: str,
        obj: str,
        do: Callable[[str], str | None],
        **detail: Any,
    ) -> Response:
        """An account change by an administrator: CSRF-checked, done as ``do(admin)`` (which
        returns a notice, "pending ..." when a second administrator must approve), audited
        whatever the outcome."""
        sess = pages.session(state, request, page=True)
        pages.admin(sess)
        pages.csrf(sess, csrf)
        error = notice = None
        try:
            notice = do(sess.user.username)
        except AccountError as exc:
            error = str(exc)
        outcome = (
            "refused" if error else "pending" if (notice or "").startswith("pending") else "ok"
        )
        audit.record(s.audit_log, sess.user.username, action, obj, outcome=outcome, **detail)
        return _users(request, sess, error, notice)

    @app.get("/admin/users", response_class=HTMLResponse)
    def users_page(request: Request) -> Response:
        sess = pages.session(state, request, page=True)
        pages.admin(sess)
        audit.record(s.audit_log, sess.user.username, "view_users")
        return _users(request, sess)

    def _codes(divisions: str) -> tuple[str, ...]:
        return tuple(divisions.replace("，", ",").split(","))

    def _granted(grant: Grant) -> str:
        if grant.request_id is None:
            return f"{grant.user.username}: in force"
        return (
            f"pending: {grant.user.username} needs a second administrator's approval "
            f"(request {grant.request_id})"
        )

    @app.post("/admin/users", response_class=HTMLResponse)
    def add_user(
        request: Request,
        csrf: str = Form(""),
        username: str = Form(""),
        password: str = Form(""),
        role: str = Form(""),
        divisions: str = Form(""),
        named_lists: str = Form(""),
    ) -> Response:
        return _admin_action(
            request,
            csrf,
            "add_user",
            username,
            lambda by: _granted(
                state.accounts.add(
                    username, password, role, _codes(divisions), named_lists == "on", by=by
                )
            ),
            role=role,
            divisions=divisions,
            named_lists=named_lists == "on",
        )

    @app.post("/admin/users/change", response_class=HTMLResponse)
    def change_user(
        request: Request,
        csrf: str = Form(""),
        username: str = Form(""),
        role: str = Form(""),
        divisions: str = Form(""),
        named_lists: str = Form(""),
    ) -> Response:
        return _admin_action(
            request,
            csrf,
            "change_user",
            username,
            lambda by: _granted(
                state.accounts.change(
                    username,
                    role=role or None,
                    divisions=_codes(divisions) if divisions else None,
                    named_lists={"on": True, "off": False}.get(named_lists),
                    by=by,
                )
            ),
            role=role,
            divisions=divisions,
            named_lists=named_lists,
        )

    @app.post("/admin/users/approve", response_class=HTMLResponse)
    def approve_user(request: Request, csrf: str = Form(""), request_id: int = Form(0)) -> Response:
        return _admin_action(
            request,
            csrf,
            "approve_user",
            str(request_id),
            lambda by: f"{state.accounts.approve(request_id, by=by).username}: approved, in force",
        )

    @app.post("/admin/users/reject", response_class=HTMLResponse)
    def reject_user(request: Request, csrf: str = Form(""), request_id: int = Form(0)) -> Response:
        def reject(by: str) -> str:
            state.accounts.reject(request_id, by=by)
            return f"request {request_id} rejected"

        return _admin_action(request, csrf, "reject_user", str(request_id), reject)

    @app.post("/admin/users/unlock", response_class=HTMLResponse)
    def unlock_user(
        request: Request, csrf: str = Form(""), username: str = Form(""), client: str = Form("")
    ) -> Response:
        return _admin_action(
            request,
            csrf,
            "unlock_user",
            username,
            lambda _by: (
                f"{username}: {state.accounts.unlock(username, client or None)} "
                "blocked address(es) cleared"
            ),
            client=client,
        )

    @app.post("/admin/users/deactivate", response_class=HTMLResponse)
    def deactivate_user(
        request: Request, csrf: str = Form(""), username: str = Form("")
    ) -> Response:
        def deactivate(by: str) -> str:
            if username == by:
                raise AccountError("an administrator cannot deactivate their own account")
            state.accounts.deactivate(username)
            return f"{username}: deactivated"

        return _admin_action(request, csrf, "deactivate_user", username, deactivate)

    @app.get("/audit", response_class=HTMLResponse)
    def audit_page(request: Request) -> Response:
        sess = pages.session(state, request, page=True)
        pages.admin(sess)
        problems = audit.verify(
            s.outputs,
            s.audit_log,
            state.outputs.promotions,
            state.guard.hashes,
            state.guard.anchored(),
        )
        entries = chain.read(s.audit_log)[-200:][::-1]
        audit.record(s.audit_log, sess.user.username, "view_audit")
        return pages.html(
            pages.page(
                state,
                request,
                sess,
                "audit.html.j2",
                problems=problems,
                entries=entries,
                unanchored="anchors" not in problems,
            )
        )

    # The supervision workflow's pages (issue 20), each in its own module, and the platform's
    # JSON API, a sub-application with its own OpenAPI document at /api/v1/openapi.json.
    for routes in (campaigns, cases, updates, outreach, quality):
        routes.add_routes(app, state)
    app.mount("/api/v1", build_api(state))
    return app
