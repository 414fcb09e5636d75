"""How pages and exports are answered: the page texts (`TEXT`), a page rendered with the banner,
the user and the CSRF token (`page`, `html`), the session cookie and the checks a route makes
on it (`session`, `csrf`, `named`, `admin`), and CSV exports (`csv`: marked, formula-safe).
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from fastapi import Request
from fastapi.responses import HTMLResponse, Response

from pipelines.io import csv_text
from pipelines.render.wording import BANNER_ZH as BANNER
from service import web
from service.accounts import Session, User, same
from service.data import State

COOKIE, LOGIN_COOKIE = "rc_session", "rc_login"


TEXT = {
    "zh": {
        "title": "企业信用风险分类 · 监管人员服务",
        "search": "查询企业",
        "lists": "分类名单",
        "warnings": "风险预警",
        "hotspots": "风险研判",
        "plans": "抽查计划",
        "due": "应检企业",
        "cases": "问题处置",
        "updates": "月内更新",
        "outreach": "公示与提醒",
        "quality": "归集质量",
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
        "due": "Due for a visit",
        "cases": "Follow-up",
        "updates": "Within-month updates",
        "outreach": "Publication and reminders",
        "quality": "Collection quality",
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


def html(page: str) -> Response:
    return web.secure(HTMLResponse(page))


def page(state: State, request: Request, sess: Session | None, template: str, **kw: Any) -> str:
    lang = web.lang(request)
    return state.env.get_template(template).render(
        banner=BANNER,
        t=TEXT[lang],
        lang=lang,
        user=sess.user if sess else None,
        csrf=kw.pop("csrf", sess.csrf if sess else ""),
        now=web.now_text(),
        **kw,
    )


def session(state: State, request: Request, page: bool) -> Session:
    sess = state.accounts.session(request.cookies.get(COOKIE))
    if sess is None:
        raise web.Refused(302 if page else 401, "log in first")
    return sess


def csrf(sess: Session, token: str) -> None:
    if not same(token, sess.csrf):
        raise web.Refused(403, "CSRF token missing or wrong")


def named(sess: Session) -> None:
    if not sess.user.sees_named:
        raise web.Refused(
            403, "named lists are for bureau staff (and data scientists granted them)"
        )


def admin(sess: Session) -> None:
    if sess.user.role != "admin":
        raise web.Refused(403, "for administrators only")


def csv(frame: pd.DataFrame, user: User, filename: str) -> Response:
    """Every export carries the internal-use mark and who exported it, when; cells that a
    spreadsheet would run as formulas are neutralised."""
    head = f"# {BANNER}\n# 导出人 exported by: {user.username}, {web.now_text()} (UTC+8)\n"
    body = csv_text(frame)  # formula-safe: a name such as =HYPERLINK(...) stays text
    resp = Response(("\ufeff" + head + body).encode("utf-8"), media_type="text/csv; charset=utf-8")
    resp.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return web.secure(resp)
