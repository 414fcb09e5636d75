"""What the service serves and where from: its `Settings`, its `State` (caches per month,
the guard, the accounts), and the data access that state owns: the month that may be served
(`month`: its seal checks and the chains verify), the registry and the month's classes joined
and scoped to a user's jurisdiction, lists filtered, sealed inspection plans, verification
figures and enterprise reports rendered on request.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq
from jinja2 import Environment
from markupsafe import escape

from models.classes import ClassScheme
from models.config import ModelConfig
from pipelines import paths, store
from pipelines.config import load_config
from pipelines.results import VerificationMetrics
from service import web
from service.accounts import Accounts, User
from service.config import ServiceConfig
from service.guard import Guard


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


@dataclass
class State:
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


def month(state: State, month: str | None) -> str:
    """The month asked for (default: the latest sealed), if it may be served: its files match
    its seal and the chains verify against their anchors (`service.guard`: one check at a
    time, at most every ``seal_check_seconds``)."""
    sealed = state.sealed_months()
    if not sealed:
        raise web.Refused(503, "no month has been sealed yet (riskclass seal --as-of MONTH)")
    m = month or sealed[-1]
    if m not in sealed:
        raise web.Refused(404, f"month {m} is not sealed")
    chains = state.guard.chains()
    problems = chains + state.guard.month(m)
    seal_id = state.seal_ids().get(m)
    if problems or state.cached_seal.get(m) != seal_id:  # cached data read under another seal
        for key in [k for k in list(state.months) if k.split(":")[1:2] == [m]]:
            state.months.pop(key, None)
        state.cached_seal[m] = None if problems else seal_id
    if chains:
        raise web.Refused(
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
        raise web.Refused(
            503,
            f"month {m} does not match its seal ({summary}); it is not served "
            "until an administrator runs `riskclass audit verify` and resolves it",
        )
    return m


def _registry_table(interim: Path) -> store.TableSnapshot:
    """The registry of the interim folder the service reads (its current state)."""
    snap = store.open_table(interim, "enterprises")
    if snap is None:
        raise FileNotFoundError(f"table enterprises not found in {interim}; run ingest")
    return snap


def registry(state: State) -> pd.DataFrame:
    if state.registry is None:
        cols = ["uscc", "name", "division_code", "industry_code"]
        state.registry = _registry_table(state.settings.interim).pandas(cols).set_index("uscc")
    return state.registry


def classes(state: State, month: str) -> pd.DataFrame:
    """The month's classes as served now: the month-end classes with the month's sealed
    within-month updates applied, the latest winning (`pipelines.updates.current`: adds
    ``class_month``, ``updated`` and ``update_effect``; the score stays the month end's)."""
    from pipelines.updates import current

    key = f"classes:{month}"
    if key not in state.months:
        cols = ["uscc", "class_final", "score", "override_rule"]
        month_end = pq.read_table(state.outputs.classes(month), columns=cols).to_pandas()
        state.months[key] = current(month_end, updates(state, month))
    return state.months[key]


def updates(state: State, month: str) -> pd.DataFrame:
    """The month's within-month updates (`pipelines.update`), in the order applied; the seal
    check of `month` covers them (they lie under the month's folder)."""
    from pipelines.updates import read_updates

    key = f"updates:{month}"
    if key not in state.months:
        state.months[key] = read_updates(state.settings.outputs, month)
    frame: pd.DataFrame = state.months[key]
    return frame


def update_notice(state: State, month: str, uscc: str, lang: str) -> str:
    """Why the class served for ``uscc`` differs from the month-end one (empty when it has no
    update this month): the latest update, in words (`pipelines.update.describe`)."""
    from pipelines.update import describe

    frame = updates(state, month)
    mine = frame[frame["uscc"] == uscc]
    if mine.empty:
        return ""
    return describe(mine.iloc[-1], state.scheme, "en" if lang == "en" else "zh")


def scoped(state: State, user: User, month: str) -> pd.DataFrame:
    """The month's classes joined to the registry, within the user's jurisdiction (kept per
    month and jurisdiction: the same for every user of one county)."""
    key = f"scoped:{month}:{','.join(user.divisions)}:{user.sees_named}"
    if key not in state.months:
        frame = joined(state, month)
        mask = pd.Series(False, index=frame.index)
        for d in user.divisions:
            mask |= frame["division_code"].str.startswith(d)
        state.months[key] = frame[mask.to_numpy() & user.sees_named]
    return state.months[key]


def joined(state: State, month: str) -> pd.DataFrame:
    """The month's classes joined to the registry (built once per month)."""
    key = f"joined:{month}"
    if key not in state.months:
        joined = classes(state, month).join(registry(state), on="uscc")
        state.months[key] = joined.assign(division_code=joined["division_code"].astype(str))
    frame: pd.DataFrame = state.months[key]
    return frame


def filtered(
    state: State, user: User, month: str, cls: str, division: str, industry: str
) -> pd.DataFrame:
    frame = scoped(state, user, month)
    if cls:
        frame = frame[frame["class_final"] == cls]
    if division:
        frame = frame[frame["division_code"].astype(str).str.startswith(division)]
    if industry:
        frame = frame[frame["industry_code"].astype(str).str.startswith(industry)]
    return frame.sort_values(["score", "uscc"], ascending=[False, True])


def filters(cls: str, division: str, industry: str) -> str:
    return f"class={cls};division={division};industry={industry}"


def sealed_plans(state: State, month: str) -> list[str]:
    """The campaigns whose plan the month's seal covers (a seal names files relative to the
    month's folder)."""
    folder = state.outputs.month(month)
    found = []
    for rel in state.sealed_files(month):
        parts = rel.split("/")
        if len(parts) == 3 and folder / rel == state.outputs.plan_csv(month, parts[1]):
            found.append(parts[1])
    return sorted(found)


def plan(path: Path, user: User) -> pd.DataFrame:
    plan = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    return plan[plan["division_code"].map(user.may_see).astype(bool)]


def verification(state: State, month: str) -> VerificationMetrics | None:
    path = state.outputs.verification_metrics(month)
    return VerificationMetrics.read(path) if path.is_file() else None


def report_html(state: State, month: str, uscc: str, lang: str) -> str:
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
            joined(state, month)  # and the month's named list, for lists and search
    ctx = state.months[key]
    if uscc not in ctx.classes.index:
        raise web.Refused(404, f"not classified in {month}")
    if "report_env" not in state.months:  # templates compiled once
        state.months["report_env"] = report.environment()
    built = report.build(ctx, [uscc], lang)  # type: ignore[arg-type]
    html = report.render(ctx, built[0], lang, state.months["report_env"])  # type: ignore[arg-type]
    return with_notice(html, update_notice(state, month, uscc, lang), lang)


def with_notice(html: str, notice: str, lang: str) -> str:
    """The report with the within-month update's notice at the top of its body (the report
    itself stays the month-end one: its class, score and risk points)."""
    if not notice:
        return html
    title = "本月内更新" if lang != "en" else "Updated within the month"
    box = (
        '<div class="update-notice" role="note" style="border:2px solid #b00;padding:.5em 1em;'
        f'margin:.5em 0"><strong>{escape(title)}</strong>: {escape(notice)}</div>'
    )
    found = re.search(r"<body[^>]*>", html)
    if found is None:
        return box + html
    return html[: found.end()] + box + html[found.end() :]
