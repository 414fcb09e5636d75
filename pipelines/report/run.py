"""The stage's entry point: the reports of a classified month, for a selection of enterprises."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Literal

from contract.months import Month
from models.classes import ClassScheme
from models.config import ModelConfig
from pipelines.render.names import Lang
from pipelines.report.config import ReportConfig, ReportError
from pipelines.report.context import ReportMonth
from pipelines.report.pages import ReportRun, write_reports


def run_report(
    as_of: Month | str,
    cfg: ModelConfig,
    rcfg: ReportConfig,
    scheme: ClassScheme,
    features: Path,
    interim: Path,
    outputs: Path,
    usccs: Sequence[str] = (),
    klass: str | None = None,
    division: str | None = None,
    industry: str | None = None,
    sample: int | None = None,
    seed: int = 0,
    limit: int | None = None,
    lang: Lang = "zh",
    fmt: Literal["html", "pdf"] = "html",
    out: Path | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> ReportRun:
    """Load the month (`ReportMonth.load`), select the enterprises (`ReportMonth.select`:
    the given USCCs, or by class, division, industry, a seeded sample, a limit) and write
    their reports (`write_reports`). An empty selection is a `ReportError`."""
    ctx = ReportMonth.load(as_of, cfg, rcfg, scheme, features, interim, outputs)
    chosen = ctx.select(usccs, klass, division, industry, sample, seed, limit)
    if not chosen:
        raise ReportError("report: no enterprise matches the selection")
    return write_reports(ctx, chosen, lang, fmt, out, on_progress=on_progress)
