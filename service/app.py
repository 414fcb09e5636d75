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
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import datetime as dt
import ipaddress
import logging
import threading
import time
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio.to_thread
import pandas as pd
import pyarrow.parquet as pq
from fastapi import FastAPI, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from models.classes import ClassScheme, class_order
from models.config import ModelConfig
from pipelines import chain, paths
from pipelines.config import load_config
from pipelines.environment import no_telemetry
from pipelines.io import csv_text
from pipelines.results import ClassesSummary, VerificationMetrics
from pipelines.render.wording import BANNER_ZH as BANNER
from service import audit
from service.accounts import ROLES, AccountError, Accounts, Grant, Session, User, same
from service.anchor import AnchorError
from service.config import ServiceConfig
from service.guard import Guard, read_anchors

log = logging.getLogger(__name__)
TEMPLATES = Path(__file__).parent / "templates"
COOKIE, LOGIN_COOKIE = "rc_session", "rc_login"
LIST_LIMIT = 500
MAX_NAME = 64  # a user name is at most 40 characters; longer input is cut before any use


@dataclass
class Settings:
    """Where the service reads and writes (defaults: the layout of `pipelines.paths`)."""

    config: ServiceConfig = field(default_factory=ServiceConfig)  # configs/service.yaml
    outputs: Path = paths.OUTPUTS.root
    interim: Path = paths.DATA.interim
    features: Path = paths.DATA.features
    model_config: Path = paths.MODEL_CONFIG
    report_config: Path = paths.REPORT_CONFIG
    accounts: Path = paths.OUTPUTS.accounts
    audit_log: Path = paths.OUTPUTS.audit_log
    secure_cookies: bool = False  # true behind HTTPS
    cache_feature_rows: int = 2_000_000  # a month's features kept in memory up to this size
    accounts_obj: Accounts | None = None  # tests pass one with their own clock


class Refused(Exception):
    def __init__(self, status: int, message: str) -> None:
        self.status, self.message = status, message


@dataclass
class _State:
    settings: Settings
    accounts: Accounts
    cfg: ModelConfig
    scheme: ClassScheme
    env: Environment
    guard: Guard
    months: dict[str, Any] = field(default_factory=dict)  # report contexts, per month
    registry: pd.DataFrame | None = None
    loading: threading.Lock = field(default_factory=threading.Lock)
    cached_seal: dict[str, str | None] = field(default_factory=dict)

    def sealed_months(self) -> list[str]:
        return sorted(self.guard.seals())

    def seal_ids(self) -> dict[str, str]:
        return {m: e["sha256"] for m, e in self.guard.seals().items()}

    def sealed_files(self, month: str) -> set[str]:
        return set(self.guard.seals().get(month, {}).get("files", {}))

    @property
    def outputs(self) -> paths.Outputs:
        return paths.Outputs(self.settings.outputs)


TEXT = {
    "zh": {
        "title": "企业信用风险分类 · 监管人员服务",
        "search": "查询企业",
        "lists": "分类名单",
        "warnings": "风险预警",
        "hotspots": "风险研判",
        "plans": "抽查计划",
        "models": "模型",
        "users": "用户管理",
        "audit": "审计日志",
        "logout": "退出",
        "login": "登录",
        "username": "用户名",
        "password": "密码",
        "month": "数据月份",
        "class": "类别",
        "division": "区划",
        "industry": "行业",
        "name": "企业名称",
        "go": "查询",
        "export": "导出CSV",
        "none": "无结果",
        "refused": "无权访问",
        "score": "风险分",
        "reasons": "预警原因",
        "your_scope": "您的辖区",
    },
    "en": {
        "title": "Enterprise credit-risk classes · staff service",
        "search": "Search",
        "lists": "Lists",
        "warnings": "Early warning",
        "hotspots": "Hot spots",
        "plans": "Inspection plans",
        "models": "Models",
        "users": "Users",
        "audit": "Audit log",
        "logout": "Log out",
        "login": "Log in",
        "username": "User name",
        "password": "Password",
        "month": "Data month",
        "class": "Class",
        "division": "Division",
        "industry": "Industry",
        "name": "Name",
        "go": "Search",
        "export": "Export CSV",
        "none": "Nothing found",
        "refused": "Not allowed",
        "score": "Score",
        "reasons": "Reasons",
        "your_scope": "Your jurisdiction",
    },
}


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
    state = _State(s, accounts, cfg, load_config(cfg.class_scheme, ClassScheme), env, guard)

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # Pages are rendered by a pool of threads that share one interpreter lock: more
        # threads than a few only add contention, and each brings its own malloc arena, whose
        # freed memory glibc keeps (the process stayed at its peak after a burst).
        anyio.to_thread.current_default_thread_limiter().total_tokens = sc.worker_threads
        _limit_malloc_arenas(2)
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
    app.add_middleware(_BodyLimit, limit=sc.max_body_kib * 1024)

    @app.exception_handler(Refused)
    async def _refused(request: Request, exc: Refused) -> Response:
        if exc.status == 302:
            return RedirectResponse(f"/login?next={request.url.path}", status_code=302)
        sess = state.accounts.session(request.cookies.get(COOKIE))
        if sess is not None:  # every refusal of a logged-in user is on record
            audit.record(
                s.audit_log,
                sess.user.username,
                "refused",
                request.url.path,
                outcome=str(exc.status),
            )
        page = state.env.get_template("error.html.j2").render(
            banner=BANNER, status=exc.status, message=exc.message, t=TEXT[_lang(request)]
        )
        return _secure(HTMLResponse(page, status_code=exc.status))

    def _error_page() -> bytes:
        return (
            state.env.get_template("error.html.j2")
            .render(banner=BANNER, status=500, message="internal error", t=TEXT["zh"])
            .encode("utf-8")
        )

    app.add_middleware(_Contain, guard=guard, error_page=_error_page)

    # ------------------------------------------------------------------ login
    @app.get("/login", response_class=HTMLResponse)
    def login_page(request: Request, next: str = "/") -> Response:
        token = request.cookies.get(LOGIN_COOKIE) or _new_token()
        page = _page(state, request, None, "login.html.j2", csrf=token, next=_local(next))
        resp = _secure(HTMLResponse(page))
        resp.set_cookie(
            LOGIN_COOKIE, token, httponly=True, samesite="strict", secure=s.secure_cookies
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
        if not same(csrf, request.cookies.get(LOGIN_COOKIE)):
            raise Refused(403, "CSRF token missing or wrong")
        client = _client(request, s.config)
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
            page = _page(
                state, request, None, "login.html.j2", csrf=csrf, next=_local(next), error=error
            )
            refusal = HTMLResponse(page, status_code=429 if throttled else 401)
            if throttled:
                refusal.headers["Retry-After"] = str(attempt.retry_after)
            return _secure(refusal)
        token = str(attempt.token)
        audit.record(s.audit_log, username, "login", client=client)
        resp = RedirectResponse(_local(next), status_code=303)
        resp.set_cookie(COOKIE, token, httponly=True, samesite="strict", secure=s.secure_cookies)
        resp.delete_cookie(LOGIN_COOKIE)
        return resp

    @app.post("/logout")
    def logout(request: Request, csrf: str = Form("")) -> Response:
        sess = _session(state, request, page=True)
        _csrf(sess, csrf)
        state.accounts.logout(request.cookies.get(COOKIE))
        audit.record(s.audit_log, sess.user.username, "logout")
        resp = RedirectResponse("/login", status_code=303)
        resp.delete_cookie(COOKIE)
        return resp

    # ------------------------------------------------------------------ pages
    @app.get("/", response_class=HTMLResponse)
    def home(request: Request) -> Response:
        sess = _session(state, request, page=True)
        months = state.sealed_months()
        return _html(_page(state, request, sess, "home.html.j2", months=months))

    @app.get("/search", response_class=HTMLResponse)
    def search(request: Request, q: str = "", month: str | None = None) -> Response:
        sess = _session(state, request, page=True)
        _named(sess)
        m = _month(state, month)
        rows = pd.DataFrame()
        if q.strip():
            frame = _scoped(state, sess.user, m)
            hit = (frame["uscc"] == q.strip().upper()) | frame["name"].str.contains(
                q.strip(), regex=False, na=False
            )
            rows = frame[hit].head(100)
        audit.record(s.audit_log, sess.user.username, "search", q.strip(), month=m)
        return _html(
            _page(
                state, request, sess, "search.html.j2", q=q, month=m, rows=rows.to_dict("records")
            )
        )

    @app.get("/enterprise/{uscc}", response_class=HTMLResponse)
    def enterprise(
        request: Request, uscc: str, month: str | None = None, lang: str = "zh"
    ) -> Response:
        sess = _session(state, request, page=True)
        _named(sess)
        m = _month(state, month)
        reg = _registry(state)
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
            raise Refused(404, "no such enterprise in your jurisdiction")
        # on record before rendering: a failed render is on record too
        audit.record(s.audit_log, sess.user.username, "view_report", uscc, month=m)
        html = _report_html(state, m, uscc, "en" if lang == "en" else "zh")
        mark = Markup(
            state.env.get_template("_watermark.html.j2").render(
                banner=BANNER, user=sess.user.username, when=_now_text()
            )
        )
        return _html(html.replace("</body>", f"{mark}</body>", 1))

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
        sess = _session(state, request, page=page)
        _named(sess)
        m = _month(state, month)
        frame = _filtered(state, sess.user, m, cls, division, industry)
        audit.record(
            s.audit_log, sess.user.username, action, _filters(cls, division, industry), month=m
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
        return _html(
            _page(
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
        return _csv(frame, sess.user, f"list-{m}.csv")

    @app.get("/warnings", response_class=HTMLResponse)
    def warnings_page(request: Request, month: str | None = None) -> Response:
        sess = _session(state, request, page=True)
        _named(sess)
        m = _month(state, month)
        path = state.outputs.warnings(m)
        rows = pd.read_parquet(path) if path.is_file() else pd.DataFrame(columns=["division_code"])
        rows = (
            rows[rows["division_code"].map(sess.user.may_see).astype(bool)] if len(rows) else rows
        )
        audit.record(s.audit_log, sess.user.username, "view_warnings", m)
        return _html(
            _page(
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
        sess = _session(state, request, page=True)
        if sess.user.role == "admin":
            raise Refused(403, "administrators see accounts and the audit log only")
        m = _month(state, month)
        metrics = _verification(state, m)
        hot = dict(metrics.hot_spots) if metrics else {}
        if hot and sess.user.role in ("county", "city"):  # cells of their own city only
            cities = {d[:4] for d in sess.user.divisions}
            hot["rows"] = [r for r in hot.get("rows", []) if str(r.get("division")) in cities]
        audit.record(s.audit_log, sess.user.username, "view_hotspots", m)
        return _html(
            _page(
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
        sess = _session(state, request, page=True)
        _named(sess)
        m = _month(state, month)
        found = []
        for campaign in _sealed_plans(state, m):
            plan = _plan(state.outputs.plan_csv(m, campaign), sess.user)
            found.append(
                {"campaign": campaign, "enterprises": plan["uscc"].nunique(), "rows": len(plan)}
            )
        audit.record(s.audit_log, sess.user.username, "view_plans", m)
        return _html(_page(state, request, sess, "plans.html.j2", month=m, plans=found))

    @app.get("/plans/{campaign}.csv")
    def plan_csv(request: Request, campaign: str, month: str | None = None) -> Response:
        sess = _session(state, request, page=False)
        _named(sess)
        m = _month(state, month)
        if campaign not in _sealed_plans(state, m):  # only what the month's seal covers
            raise Refused(404, "no such plan")
        plan = _plan(state.outputs.plan_csv(m, campaign), sess.user)
        audit.record(s.audit_log, sess.user.username, "export_plan", f"{m}/{campaign}")
        return _csv(plan, sess.user, f"plan-{campaign}-{m}.csv")

    @app.get("/models", response_class=HTMLResponse)
    def models_page(request: Request, month: str | None = None) -> Response:
        sess = _session(state, request, page=True)
        if sess.user.role not in ("data_scientist", "province"):
            raise Refused(403, "models and their figures are for data scientists and the province")
        m = _month(state, month)
        metrics = _verification(state, m)
        summary_path = state.outputs.classes_summary(m)
        summary = ClassesSummary.read(summary_path) if summary_path.is_file() else None
        audit.record(s.audit_log, sess.user.username, "view_models", m)
        return _html(
            _page(
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
        page = _page(
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
        return _secure(HTMLResponse(page, status_code=400 if error else 200))

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
        sess = _session(state, request, page=True)
        _admin(sess)
        _csrf(sess, csrf)
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
        sess = _session(state, request, page=True)
        _admin(sess)
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
        sess = _session(state, request, page=True)
        _admin(sess)
        problems = audit.verify(
            s.outputs,
            s.audit_log,
            state.outputs.promotions,
            state.guard.hashes,
            state.guard.anchored(),
        )
        entries = chain.read(s.audit_log)[-200:][::-1]
        audit.record(s.audit_log, sess.user.username, "view_audit")
        return _html(
            _page(
                state,
                request,
                sess,
                "audit.html.j2",
                problems=problems,
                entries=entries,
                unanchored="anchors" not in problems,
            )
        )

    return app


# ---------------------------------------------------------------------- helpers
def _new_token() -> str:
    import secrets

    return secrets.token_urlsafe(32)


def _now_text() -> str:
    return (
        dt.datetime.now(dt.UTC)
        .astimezone(dt.timezone(dt.timedelta(hours=8)))
        .strftime("%Y-%m-%d %H:%M")
    )


def _local(target: str) -> str:
    """Only paths of this site (no open redirect)."""
    ok = target.startswith("/") and not target.startswith("//")
    return target if ok and not any(c == "\\" or ord(c) < 32 for c in target) else "/"


def _lang(request: Request) -> str:
    lang = request.query_params.get("lang") or request.cookies.get("rc_lang") or "zh"
    return "en" if lang == "en" else "zh"


SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
    "form-action 'self'; frame-ancestors 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
_RAW_HEADERS = [(k.lower().encode(), v.encode()) for k, v in SECURITY_HEADERS.items()]


def _secure(resp: Response) -> Response:
    for k, v in SECURITY_HEADERS.items():
        resp.headers[k] = v
    return resp


class _Contain:
    """Every response carries the security headers: pages, refusals, unknown routes and the
    framework's own errors alike. An unexpected error answers a bare 500 page; only its type
    is logged (an error's text may name an enterprise), never the traceback. (A plain ASGI
    middleware: Starlette's ``@app.middleware`` costs a task and a stream per request.)"""

    def __init__(self, app: Any, guard: Guard, error_page: Callable[[], bytes]) -> None:
        self.app, self.guard, self.error_page = app, guard, error_page

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        self.guard.last_request = time.monotonic()  # the guard trims memory only when idle
        started = False

        async def secured(message: Any) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                own = {k for k, _ in _RAW_HEADERS}
                headers = [h for h in message.get("headers", []) if h[0].lower() not in own]
                message = {**message, "headers": headers + _RAW_HEADERS}
            await send(message)

        try:
            await self.app(scope, receive, secured)
        except Exception as exc:  # the last line of defence
            log.error("request failed: %s", type(exc).__name__)
            if started:  # the answer is under way: nothing else can be sent
                return
            await send(
                {
                    "type": "http.response.start",
                    "status": 500,
                    "headers": [(b"content-type", b"text/html; charset=utf-8"), *_RAW_HEADERS],
                }
            )
            await send({"type": "http.response.body", "body": self.error_page()})


def _html(page: str) -> Response:
    return _secure(HTMLResponse(page))


def _page(state: _State, request: Request, sess: Session | None, template: str, **kw: Any) -> str:
    lang = _lang(request)
    return state.env.get_template(template).render(
        banner=BANNER,
        t=TEXT[lang],
        lang=lang,
        user=sess.user if sess else None,
        csrf=kw.pop("csrf", sess.csrf if sess else ""),
        now=_now_text(),
        **kw,
    )


def _session(state: _State, request: Request, page: bool) -> Session:
    sess = state.accounts.session(request.cookies.get(COOKIE))
    if sess is None:
        raise Refused(302 if page else 401, "log in first")
    return sess


def _csrf(sess: Session, token: str) -> None:
    if not same(token, sess.csrf):
        raise Refused(403, "CSRF token missing or wrong")


def _named(sess: Session) -> None:
    if not sess.user.sees_named:
        raise Refused(403, "named lists are for bureau staff (and data scientists granted them)")


def _admin(sess: Session) -> None:
    if sess.user.role != "admin":
        raise Refused(403, "for administrators only")


def _month(state: _State, month: str | None) -> str:
    """The month asked for (default: the latest sealed), if it may be served: its files match
    its seal and the chains verify against their anchors (`service.guard`: one check at a
    time, at most every ``seal_check_seconds``)."""
    sealed = state.sealed_months()
    if not sealed:
        raise Refused(503, "no month has been sealed yet (riskclass seal --as-of MONTH)")
    m = month or sealed[-1]
    if m not in sealed:
        raise Refused(404, f"month {m} is not sealed")
    chains = state.guard.chains()
    problems = chains + state.guard.month(m)
    seal_id = state.seal_ids().get(m)
    if problems or state.cached_seal.get(m) != seal_id:  # cached data read under another seal
        for key in [k for k in list(state.months) if k.split(":")[1:2] == [m]]:
            state.months.pop(key, None)
        state.cached_seal[m] = None if problems else seal_id
    if chains:
        raise Refused(
            503,
            f"the audit trail does not verify ({len(chains)} problems); nothing "
            "is served until an administrator runs `riskclass audit verify` and "
            "resolves it",
        )
    if problems:
        kinds: dict[str, int] = {}
        for p in problems:
            kind = p.rsplit(": ", 1)[-1]
            kinds[kind] = kinds.get(kind, 0) + 1
        summary = "; ".join(f"{n} × {k}" for k, n in kinds.items())
        raise Refused(
            503,
            f"month {m} does not match its seal ({summary}); it is not served "
            "until an administrator runs `riskclass audit verify` and resolves it",
        )
    return m


def _registry(state: _State) -> pd.DataFrame:
    if state.registry is None:
        cols = ["uscc", "name", "division_code", "industry_code"]
        state.registry = (
            pq.read_table(paths.table(state.settings.interim, "enterprises"), columns=cols)
            .to_pandas()
            .set_index("uscc")
        )
    return state.registry


def _classes(state: _State, month: str) -> pd.DataFrame:
    key = f"classes:{month}"
    if key not in state.months:
        cols = ["uscc", "class_final", "score", "override_rule"]
        state.months[key] = pq.read_table(state.outputs.classes(month), columns=cols).to_pandas()
    return state.months[key]


def _scoped(state: _State, user: User, month: str) -> pd.DataFrame:
    """The month's classes joined to the registry, within the user's jurisdiction (kept per
    month and jurisdiction: the same for every user of one county)."""
    key = f"scoped:{month}:{','.join(user.divisions)}:{user.sees_named}"
    if key not in state.months:
        frame = _joined(state, month)
        mask = pd.Series(False, index=frame.index)
        for d in user.divisions:
            mask |= frame["division_code"].str.startswith(d)
        state.months[key] = frame[mask.to_numpy() & user.sees_named]
    return state.months[key]


def _joined(state: _State, month: str) -> pd.DataFrame:
    """The month's classes joined to the registry (built once per month)."""
    key = f"joined:{month}"
    if key not in state.months:
        joined = _classes(state, month).join(_registry(state), on="uscc")
        state.months[key] = joined.assign(division_code=joined["division_code"].astype(str))
    frame: pd.DataFrame = state.months[key]
    return frame


def _filtered(
    state: _State, user: User, month: str, cls: str, division: str, industry: str
) -> pd.DataFrame:
    frame = _scoped(state, user, month)
    if cls:
        frame = frame[frame["class_final"] == cls]
    if division:
        frame = frame[frame["division_code"].astype(str).str.startswith(division)]
    if industry:
        frame = frame[frame["industry_code"].astype(str).str.startswith(industry)]
    return frame.sort_values(["score", "uscc"], ascending=[False, True])


def _filters(cls: str, division: str, industry: str) -> str:
    return f"class={cls};division={division};industry={industry}"


def _sealed_plans(state: _State, month: str) -> list[str]:
    """The campaigns whose plan the month's seal covers (a seal names files relative to the
    month's folder)."""
    folder = state.outputs.month(month)
    found = []
    for rel in state.sealed_files(month):
        parts = rel.split("/")
        if len(parts) == 3 and folder / rel == state.outputs.plan_csv(month, parts[1]):
            found.append(parts[1])
    return sorted(found)


def _plan(path: Path, user: User) -> pd.DataFrame:
    plan = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    return plan[plan["division_code"].map(user.may_see).astype(bool)]


def _limit_malloc_arenas(n: int) -> None:
    """glibc's mallopt(M_ARENA_MAX, n) for the threads started from now on (no-op elsewhere)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").mallopt(-8, n)  # M_ARENA_MAX is -8 in glibc's malloc.h


def _client(request: Request, config: ServiceConfig) -> str:
    """The client's address: the TCP peer, unless the peer is a configured proxy; then the
    nearest address in X-Forwarded-For that is not itself a trusted proxy. A forged header
    from anyone else changes nothing (uvicorn must not rewrite the peer: `riskclass serve`
    starts it with proxy headers off)."""
    peer = request.client.host if request.client else "?"
    if not config.trusts(peer):
        return peer
    # every X-Forwarded-For line (a proxy may add its own line after the client's forged one)
    joined = ",".join(request.headers.getlist("x-forwarded-for"))
    hops = [h.strip() for h in joined.split(",") if h.strip()]
    for hop in reversed(hops):
        try:
            ipaddress.ip_address(hop)
        except ValueError:  # not an address: the chain cannot be trusted past it
            return peer
        if not config.trusts(hop):
            return hop
    return peer


class _BodyLimit:
    """Refuse a request body over ``limit`` bytes before it is parsed: the forms are small,
    and a 500 KB user name must cost nothing but the refusal. A declared length over the
    limit answers 413 at once; a chunked body is cut off at the limit (the form parser then
    answers 400)."""

    def __init__(self, app: Any, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.limit):
            await _too_large(send)
            return
        seen = 0

        async def limited() -> Any:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.limit:
                raise _TooLarge
            return message

        try:
            await self.app(scope, limited, send)
        except _TooLarge:
            await _too_large(send)


class _TooLarge(Exception):
    pass


async def _too_large(send: Any) -> None:
    resp = _secure(Response("request too large", status_code=413, media_type="text/plain"))
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [(k.encode(), v.encode()) for k, v in resp.headers.items()],
        }
    )
    await send({"type": "http.response.body", "body": resp.body})


def _csv(frame: pd.DataFrame, user: User, filename: str) -> Response:
    """Every export carries the internal-use mark and who exported it, when; cells that a
    spreadsheet would run as formulas are neutralised."""
    head = f"# {BANNER}\n# 导出人 exported by: {user.username}, {_now_text()} (UTC+8)\n"
    body = csv_text(frame)  # formula-safe: a name such as =HYPERLINK(...) stays text
    resp = Response(("\ufeff" + head + body).encode("utf-8"), media_type="text/csv; charset=utf-8")
    resp.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return _secure(resp)


def _verification(state: _State, month: str) -> VerificationMetrics | None:
    path = state.outputs.verification_metrics(month)
    return VerificationMetrics.read(path) if path.is_file() else None


def _report_html(state: _State, month: str, uscc: str, lang: str) -> str:
    from pipelines import report

    key = f"report:{month}"
    with state.loading:  # one load per month, however many requests arrive at once
        if key not in state.months:
            s = state.settings
            rcfg = load_config(s.report_config, report.ReportConfig)
            ctx = report.ReportMonth.load(
                month, state.cfg, rcfg, state.scheme, s.features, s.interim, s.outputs
            )
            rows = pq.ParquetFile(ctx.features_path).metadata.num_rows
            ctx.cache_features = rows <= s.cache_feature_rows  # in memory up to this size
            ctx.warm()  # built here, under the lock, not by the first requests at once
            state.months[key] = ctx
            _joined(state, month)  # and the month's named list, for lists and search
    ctx = state.months[key]
    if uscc not in ctx.classes.index:
        raise Refused(404, f"not classified in {month}")
    if "report_env" not in state.months:  # templates compiled once
        state.months["report_env"] = report.environment()
    built = report.build(ctx, [uscc], lang)  # type: ignore[arg-type]
    return report.render(ctx, built[0], lang, state.months["report_env"])  # type: ignore[arg-type]
