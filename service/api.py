"""The machine interface for the double-random platform (``/api/v1``): a JSON API with its own
OpenAPI description (``/api/v1/openapi.json``).

「将企业信用风险分类结果全量推送到市级双随机平台，与抽查检查对象名录库对接」 (seeds 001, 002): the
platform reads a sealed month's classes for its 名录库 and posts inspection results back.

- **Who**: a service account's bearer token (``riskclass users add-service``; `service.accounts`),
  scoped (``classes:read``, ``results:write``, ``export:read``) and limited to a jurisdiction
  like a staff account (a city's code covers its counties).
- **Answers**: 401 without a token or with a bad, expired, revoked or unapproved one; 403 for a
  scope the token lacks; 404 for an enterprise, division or plan outside the jurisdiction, the
  same answer as one that does not exist; 404 for a month not sealed; 503 while a month does not
  match its seal or the chains do not verify (`service.data.month`, the guard).
- **Audit**: every call, answered or refused, is one entry (`service.audit`): the account, the
  action, the object (a month, a USCC, a plan), the outcome; never a class.
- **What is served**: `pipelines.export.PLATFORM_COLUMNS` per enterprise (USCC, name, division,
  industry, class, scheme, data month): the platform draws by class and needs nothing finer;
  the score, the risk points and the override rule stay inside the bureau.
- **Results**: ``POST /results`` goes through the same linking and intake as ``riskclass
  feedback`` (`pipelines.feedback.run_feedback`): the rows are written as a results file under
  the feedback folder (kept as the delivery received) and handed to it; rows for enterprises
  outside the jurisdiction are refused with the rule of an enterprise the plan did not draw.
  One posting at a time (a file lock), since each one merges into the inspections table.
- **Bulk**: ``GET /export`` is the month in the jurisdiction as gzip CSV (formula-safe: a person
  may open it), its SHA-256 in the ``X-Content-SHA256`` header and at ``/export.sha256``.

A month's classes are read through one function, `_classes`.
"""

from __future__ import annotations

import base64
import bisect
import contextlib
import datetime as dt
import fcntl
import gzip
import hashlib
import json
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
import pyarrow.parquet as pq
from fastapi import Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from contract.months import Month
from pipelines import paths
from pipelines.config import ConfigError, load_config
from pipelines.export import PLATFORM_COLUMNS, platform_frame
from pipelines.feedback import FeedbackError, run_feedback
from pipelines.intake.config import IngestConfig
from pipelines.intake.findings import REASONS
from pipelines.io import csv_text
from service import audit, data, web
from service.accounts import Service

__all__ = ["build_api"]

PAGE_DEFAULT, PAGE_MAX = 1000, 5000
MAX_RESULTS = 20_000  # rows per POST /results (the service's body limit applies first)

_bearer = HTTPBearer(auto_error=False, description="a service account's token (rct_...)")


class ApiRefused(Exception):
    def __init__(self, status: int, message: str) -> None:
        self.status, self.message = status, message


class ResultRow(BaseModel):
    """One inspection result, in the contract's names (as `riskclass feedback` reads them)."""

    model_config = ConfigDict(extra="forbid")
    uscc: str = Field(max_length=40)
    inspection_id: str = Field(max_length=100)
    inspection_date: str = Field("", max_length=40)
    result: str = Field("", max_length=100)
    problem_found: str = Field("", max_length=20)
    problem_category: str = Field("", max_length=200)
    received_date: str = Field("", max_length=40)
    items: str = Field("", max_length=500, description="';'-separated; default: the plan's")


class ResultsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    plan_id: str = Field(max_length=200)
    as_of: str | None = Field(
        None, description="delivery month YYYY-MM: results dated after its end are rejected"
    )
    results: list[ResultRow] = Field(max_length=MAX_RESULTS)


class Rejected(BaseModel):
    index: int = Field(description="0-based position in the posted results")
    uscc: str
    inspection_id: str
    rule: str
    reason_zh: str
    reason_en: str


class ResultsOut(BaseModel):
    plan_id: str
    rows_read: int
    linked: int
    accepted: int
    quarantined: int
    quarantined_by_rule: dict[str, int]
    rejected: list[Rejected]
    without_result: int


class Enterprise(BaseModel):
    uscc: str
    name: str
    division_code: str
    industry_code: str
    class_: str = Field(alias="class")
    scheme: str
    data_month: str


class Page(BaseModel):
    month: str
    count: int
    items: list[dict[str, str]]
    next_cursor: str | None = Field(description="pass as cursor for the next page; null: done")


# ---------------------------------------------------------------------------------- data
def _classes(state: data.State, month: str) -> pd.DataFrame:
    """The month's classes in the platform's columns, sorted by USCC (one frame per month,
    cached in the state: dropped with the month's other caches when its seal changes)."""
    key = f"api:{month}"
    if key not in state.months:
        joined = data.joined(state, month)
        schemes = pq.read_table(state.outputs.classes(month), columns=["uscc", "scheme"])
        frame = joined[["uscc", "class_final"]].merge(schemes.to_pandas(), on="uscc", how="left")
        state.months[key] = platform_frame(frame, data.registry(state), month)
    result: pd.DataFrame = state.months[key]
    return result


def _scoped(state: data.State, svc: Service, month: str) -> pd.DataFrame:
    key = f"api-scope:{month}:{','.join(svc.divisions)}"
    if key not in state.months:
        frame = _classes(state, month)
        mask = pd.Series(False, index=frame.index)
        for d in svc.divisions:
            mask |= frame["division_code"].str.startswith(d)
        state.months[key] = frame[mask].reset_index(drop=True)
    result: pd.DataFrame = state.months[key]
    return result


def _listing(
    state: data.State, svc: Service, month: str, division: str
) -> tuple[list[str], list[list[str]]]:
    """The USCCs and the columns of the jurisdiction (narrowed to ``division``) as lists, kept
    per month and jurisdiction: a page is then a slice and a cursor a bisection."""
    if division:  # narrowed per request: a cache per query value would grow without bound
        frame = _scoped(state, svc, month)
        frame = frame[frame["division_code"].str.startswith(division)]
        cols = [frame[c].astype(str).tolist() for c in PLATFORM_COLUMNS]
        return cols[0], cols
    key = f"api-list:{month}:{','.join(svc.divisions)}"
    if key not in state.months:
        frame = _scoped(state, svc, month)
        columns = [frame[c].astype(str).tolist() for c in PLATFORM_COLUMNS]
        state.months[key] = (columns[0], columns)
    result: tuple[list[str], list[list[str]]] = state.months[key]
    return result


def _json(answer: Any) -> Response:
    body = json.dumps(answer, ensure_ascii=False, separators=(",", ":"))
    return Response(body.encode("utf-8"), media_type="application/json")


@contextlib.contextmanager
def _one_at_a_time(folder: Path) -> Iterator[None]:
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / ".api.lock").open("w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _caller(
    request: Request,
    creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Service:
    """The service account of the request's bearer token (else 401)."""
    state: data.State = request.app.state.rc
    svc = state.accounts.service(creds.credentials if creds else None)
    if svc is None:
        raise ApiRefused(401, "a valid bearer token is required")
    request.state.service = svc
    return svc


#: a route's caller (module level: the routes' annotations are resolved by name)
Caller = Annotated[Service, Depends(_caller)]


# ---------------------------------------------------------------------------------- the app
def build_api(
    state: data.State, feedback: Path | None = None, ingest_config: Path | None = None
) -> FastAPI:
    """The API as a sub-application, for ``app.mount("/api/v1", build_api(state))``.

    ``feedback``: where posted results are kept and linked (default: beside the interim
    tables, ``data/feedback``); ``ingest_config``: the ingestion settings (default
    ``configs/ingest.yaml``)."""
    s = state.settings
    feedback_dir = Path(feedback) if feedback else Path(s.interim).parent / "feedback"
    ingest_yaml = Path(ingest_config) if ingest_config else paths.INGEST_CONFIG
    api = FastAPI(
        title="riskclass platform API",
        version="1",
        description=(
            "Enterprise credit-risk classes for the double-random platform's 名录库, and "
            "inspection results back. Internal to the market-regulation bureaus: bearer "
            "tokens of service accounts only."
        ),
        docs_url=None,
        redoc_url=None,
        openapi_url="/openapi.json",
    )
    api.state.rc = state

    def _audit(request: Request, action: str, obj: str, outcome: str, **kw: Any) -> None:
        svc: Service | None = getattr(request.state, "service", None)
        who = f"service:{svc.name}" if svc else "-"
        extra = {"token_id": svc.token_id} if svc else {}
        audit.record(s.audit_log, who, action, obj, outcome=outcome, **extra, **kw)

    def _action(request: Request) -> str:
        endpoint = request.scope.get("endpoint")
        return f"api_{getattr(endpoint, '__name__', 'unknown')}"

    def _error(request: Request, status: int, message: str) -> Response:
        _audit(request, _action(request), request.url.path, str(status))
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
        return JSONResponse({"error": message}, status_code=status, headers=headers)

    @api.exception_handler(ApiRefused)
    async def _refused(request: Request, exc: ApiRefused) -> Response:
        return _error(request, exc.status, exc.message)

    @api.exception_handler(web.Refused)
    async def _web_refused(request: Request, exc: web.Refused) -> Response:
        return _error(request, exc.status, exc.message)

    @api.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        return _error(request, exc.status_code, str(exc.detail))

    @api.exception_handler(Exception)
    async def _crashed(request: Request, exc: Exception) -> Response:
        # every call is on record, a failure too; the answer names nothing of the server
        _audit(request, _action(request), request.url.path, "500")
        return JSONResponse({"error": "internal error"}, status_code=500)

    @api.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        # where and which rule, not the value sent back (the body may be large)
        problems = [
            {"loc": [str(x) for x in e.get("loc", ())], "rule": e.get("type"), "msg": e.get("msg")}
            for e in exc.errors()[:20]
        ]
        _audit(request, _action(request), request.url.path, "422")
        return JSONResponse({"error": "request does not validate", "problems": problems}, 422)

    def need(svc: Service, scope: str) -> None:
        if scope not in svc.scopes:
            raise ApiRefused(403, f"this token lacks the scope {scope}")

    def in_scope(svc: Service, division: str) -> None:
        if division and not any(
            division.startswith(d) or d.startswith(division) for d in svc.divisions
        ):
            raise ApiRefused(404, f"no division {division} here")

    # ------------------------------------------------------------------ routes
    @api.get("/months", summary="The sealed months that may be served")
    def months(request: Request, svc: Caller) -> dict[str, list[str]]:
        problems = state.guard.chains()
        if problems:
            raise ApiRefused(503, f"the audit trail does not verify ({len(problems)} problems)")
        out = state.sealed_months()
        _audit(request, "api_months", "", "ok")
        return {"months": out}

    @api.get(
        "/classes",
        summary="A month's classes in the jurisdiction, a page at a time (by USCC)",
        response_model=Page,
    )
    def classes(
        request: Request,
        svc: Caller,
        month: Annotated[str | None, Query(description="YYYY-MM; default the latest")] = None,
        division: Annotated[str, Query(max_length=12, pattern="^[0-9]*$")] = "",
        limit: Annotated[int, Query(ge=1, le=PAGE_MAX)] = PAGE_DEFAULT,
        cursor: Annotated[
            str, Query(max_length=40, description="next_cursor of the last page")
        ] = "",
    ) -> Response:
        need(svc, "classes:read")
        m = data.month(state, month)
        in_scope(svc, division)
        usccs, columns = _listing(state, svc, m, division)
        start = bisect.bisect_right(usccs, cursor) if cursor else 0
        end = min(start + limit, len(usccs))
        items = [
            dict(zip(PLATFORM_COLUMNS, row, strict=True))
            for row in zip(*(c[start:end] for c in columns), strict=True)
        ]
        _audit(request, "api_classes", m, "ok", division=division, cursor=cursor, rows=len(items))
        answer = {
            "month": m,
            "count": len(items),
            "items": items,
            "next_cursor": usccs[end - 1] if end < len(usccs) and items else None,
        }
        # built here, not by the framework's encoder (which walks each of a page's cells)
        return _json(answer)

    @api.get(
        "/classes/{uscc}", summary="One enterprise's class in a month", response_model=Enterprise
    )
    def one(
        request: Request,
        svc: Caller,
        uscc: str,
        month: Annotated[str | None, Query(description="YYYY-MM; default the latest")] = None,
    ) -> dict[str, str]:
        need(svc, "classes:read")
        m = data.month(state, month)
        usccs, columns = _listing(state, svc, m, "")
        key = uscc.strip().upper()[:40]
        i = bisect.bisect_left(usccs, key)
        if i >= len(usccs) or usccs[i] != key:
            raise ApiRefused(404, f"not classified in {m}")
        _audit(request, "api_class", key, "ok", month=m)
        return dict(zip(PLATFORM_COLUMNS, (c[i] for c in columns), strict=True))

    def _plan_folder(plan_id: str) -> tuple[str, Path]:
        for m in reversed(state.sealed_months()):
            for campaign in data.sealed_plans(state, m):
                folder = state.outputs.plan(m, campaign)
                info = state.outputs.plan_json(m, campaign)
                with contextlib.suppress(OSError, ValueError):
                    if json.loads(info.read_text(encoding="utf-8")).get("plan_id") == plan_id:
                        return m, folder
        raise ApiRefused(404, "no sealed plan with this plan_id here")

    @api.post(
        "/results",
        summary="Inspection results of a plan, linked and ingested as `riskclass feedback` does",
        response_model=ResultsOut,
    )
    def results(request: Request, svc: Caller, body: ResultsIn) -> dict[str, Any]:
        need(svc, "results:write")
        if body.as_of is not None:
            try:
                Month(body.as_of)
            except ValueError:
                raise ApiRefused(422, "as_of: a month YYYY-MM") from None
        m, folder = _plan_folder(body.plan_id)
        data.month(state, m)  # the plan's month is served only while it matches its seal
        plan = pd.read_csv(
            state.outputs.plan_csv(m, folder.name),
            dtype=str,
            keep_default_na=False,
            encoding="utf-8-sig",
            usecols=["uscc", "division_code"],
        )
        inside = plan["division_code"].map(svc.may_see).astype(bool)
        if not inside.any():
            raise ApiRefused(404, "no sealed plan with this plan_id here")
        rows = pd.DataFrame(
            [r.model_dump() for r in body.results],
            columns=list(ResultRow.model_fields),
            dtype=str,
        )
        rows["uscc"] = rows["uscc"].str.strip().str.upper()
        outside = rows["uscc"].isin(set(plan.loc[~inside, "uscc"]) - set(plan.loc[inside, "uscc"]))
        send = rows[~outside].assign(plan_id=body.plan_id)
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S")
        name = f"api-{svc.name}-{stamp}-{secrets.token_hex(3)}"
        received = feedback_dir / "_api" / body.plan_id / f"{name}.csv"
        received.parent.mkdir(parents=True, exist_ok=True)
        # as received, raw (it is read back as data, like the delivery feedback writes)
        send.to_csv(received, index=False, encoding="utf-8")
        index = send.index.to_numpy()
        try:
            with _one_at_a_time(feedback_dir):
                cfg = load_config(ingest_yaml, IngestConfig)
                run = run_feedback(folder, received, s.interim, feedback_dir, cfg, as_of=body.as_of)
        except ConfigError:  # the server's own configuration: not the platform's fault
            raise
        except (FeedbackError, ValueError) as exc:
            # the intake's own refusals (too little accepted, rows unaccounted for, a file it
            # cannot read) name the rule; the server's paths are not the platform's business
            message = str(exc)
            for path, label in (
                (received, "the posted results"),
                (folder, "<plan>"),
                (feedback_dir, "<feedback>"),
                (s.interim, "<interim>"),
            ):
                message = message.replace(str(path), label)
            raise ApiRefused(422, message) from None
        rejected = [
            Rejected(
                index=int(index[int(r["_source_row"]) - 2]),
                uscc=str(r["uscc"]),
                inspection_id=str(r["inspection_id"]),
                rule=str(r["rule"]),
                reason_zh=str(r["reason_zh"]),
                reason_en=str(r["reason_en"]),
            )
            for r in run.rejected.to_dict("records")
        ]
        zh, en = REASONS["not_drawn"]
        rejected += [
            Rejected(
                index=int(i),
                uscc=str(u),
                inspection_id=str(k),
                rule="not_drawn",
                reason_zh=zh,
                reason_en=en,
            )
            for i, u, k in zip(
                rows.index[outside],
                rows["uscc"][outside],
                rows["inspection_id"][outside],
                strict=True,
            )
        ]
        rejected.sort(key=lambda r: r.index)
        ing = run.summary["ingest"]
        _audit(
            request,
            "api_results",
            body.plan_id,
            "ok",
            rows=len(rows),
            linked=run.summary["linked"],
            rejected=len(rejected),
            accepted=ing.get("accepted") or 0,
        )
        return {
            "plan_id": body.plan_id,
            "rows_read": len(rows),
            "linked": int(run.summary["linked"]),
            "accepted": int(ing.get("accepted") or 0),
            "quarantined": int(ing.get("quarantined") or 0),
            "quarantined_by_rule": {
                str(k): int(v) for k, v in (ing.get("quarantined_by_rule") or {}).items()
            },
            "rejected": rejected,
            "without_result": int(run.summary["without_result"]),
        }

    def _bulk(svc: Service, month: str | None) -> tuple[str, bytes, str, str]:
        need(svc, "export:read")
        m = data.month(state, month)
        scope = "-".join(svc.divisions)
        key = f"api-export:{m}:{scope}"
        if key not in state.months:
            text = "\ufeff" + csv_text(_scoped(state, svc, m))  # formula-safe: a person may open it
            body = gzip.compress(text.encode("utf-8"), mtime=0)  # same month, same bytes
            state.months[key] = (body, hashlib.sha256(body).hexdigest())
        body, digest = state.months[key]
        return m, body, digest, f"riskclass-classes-{m}-{scope}.csv.gz"

    @api.get(
        "/export",
        summary="The whole month in the jurisdiction: gzip CSV, SHA-256 in X-Content-SHA256",
        response_class=Response,
        responses={200: {"content": {"application/gzip": {}}}},
    )
    def export(
        request: Request,
        svc: Caller,
        month: Annotated[str | None, Query(description="YYYY-MM; default the latest")] = None,
    ) -> Response:
        m, body, digest, filename = _bulk(svc, month)
        _audit(request, "api_export", m, "ok", sha256=digest)
        return Response(
            body,
            media_type="application/gzip",
            headers={
                "Content-Disposition": f'attachment; filename="{filename}"',
                "X-Content-SHA256": digest,
                "Repr-Digest": f"sha-256=:{base64.b64encode(bytes.fromhex(digest)).decode()}:",
            },
        )

    @api.get(
        "/export.sha256",
        summary="The export's checksum, as `sha256sum -c` reads it",
        response_class=PlainTextResponse,
    )
    def export_sha256(
        request: Request,
        svc: Caller,
        month: Annotated[str | None, Query(description="YYYY-MM; default the latest")] = None,
    ) -> PlainTextResponse:
        m, _, digest, filename = _bulk(svc, month)
        _audit(request, "api_export_sha256", m, "ok", sha256=digest)
        return PlainTextResponse(f"{digest}  {filename}\n")

    return api
