"""The service's HTTP plumbing, below the pages: the ASGI middlewares (`Contain`: the security
headers on every response and a bare 500 for an unexpected error; `BodyLimit`: a request body
over the limit refused before it is parsed), the request helpers (`client`: whose address to
believe behind trusted proxies; `local`: no open redirect; `lang`), `Refused` (a request
answered with an error status), and the process's malloc arenas (`limit_malloc_arenas`).
"""

from __future__ import annotations

import contextlib
import ctypes
import datetime as dt
import ipaddress
import logging
import time
from collections.abc import Callable
from typing import Any

from fastapi import Request
from fastapi.responses import Response

from service.config import ServiceConfig
from service.guard import Guard

log = logging.getLogger("service.app")  # the logger's name from before the split, kept


class Refused(Exception):
    def __init__(self, status: int, message: str) -> None:
        self.status, self.message = status, message


def new_token() -> str:
    import secrets

    return secrets.token_urlsafe(32)


def now_text() -> str:
    return (
        dt.datetime.now(dt.UTC)
        .astimezone(dt.timezone(dt.timedelta(hours=8)))
        .strftime("%Y-%m-%d %H:%M")
    )


def local(target: str) -> str:
    """Only paths of this site (no open redirect)."""
    ok = target.startswith("/") and not target.startswith("//")
    return target if ok and not any(c == "\\" or ord(c) < 32 for c in target) else "/"


def lang(request: Request) -> str:
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


def secure(resp: Response) -> Response:
    for k, v in SECURITY_HEADERS.items():
        resp.headers[k] = v
    return resp


class Contain:
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


class BodyLimit:
    """Refuse a request body over ``limit`` bytes before it is parsed: the forms are small,
    and a 500 KB user name must cost nothing but the refusal. A declared length over the
    limit answers 413 at once; a chunked body is cut off at the limit (the form parser then
    answers 400)."""

    def __init__(self, app: Any, limit: int, api_limit: int | None = None) -> None:
        self.app, self.limit = app, limit
        #: the platform's API (``/api/v1/``) posts inspection results in bulk: its own limit
        self.api_limit = limit if api_limit is None else api_limit

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.api_limit if str(scope.get("path", "")).startswith("/api/") else self.limit
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            await _too_large(send)
            return
        seen = 0

        async def limited() -> Any:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > limit:
                raise _TooLarge
            return message

        try:
            await self.app(scope, limited, send)
        except _TooLarge:
            await _too_large(send)


class _TooLarge(Exception):
    pass


async def _too_large(send: Any) -> None:
    resp = secure(Response("request too large", status_code=413, media_type="text/plain"))
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [(k.encode(), v.encode()) for k, v in resp.headers.items()],
        }
    )
    await send({"type": "http.response.body", "body": resp.body})


def client(request: Request, config: ServiceConfig) -> str:
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


def limit_malloc_arenas(n: int) -> None:
    """glibc's mallopt(M_ARENA_MAX, n) for the threads started from now on (no-op elsewhere)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").mallopt(-8, n)  # M_ARENA_MAX is -8 in glibc's malloc.h
