"""Rendering and writing: a report's page, one file per enterprise, and a batch's index.

Pages are self-contained HTML (inline CSS and SVG, no script, no network) from the shared
templates (`pipelines.render.html`); every write is atomic (`pipelines.io`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from jinja2 import Environment

from pipelines import paths
from pipelines.io import atomic_write
from pipelines.render.html import environment
from pipelines.render.lacking import report_line
from pipelines.render.names import Lang
from pipelines.render.wording import TEXT
from pipelines.report.build import build
from pipelines.report.context import ReportMonth
from pipelines.report.pdf import to_pdf


def render(
    ctx: ReportMonth, report: dict[str, Any], lang: Lang, env: Environment | None = None
) -> str:
    """One enterprise's report page (``report`` from `pipelines.report.build`); when the
    month's feature file lacked contract tables, a line under the header names the
    information groups (nothing otherwise)."""
    env = env or environment()
    t = TEXT[lang]
    return env.get_template("report.html.j2").render(
        r=report,
        t=t,
        month=ctx.month,
        model=ctx.bundle.name,
        version=ctx.bundle.version,
        scheme=ctx.scheme.zh if lang == "zh" else ctx.scheme.en,
        score_note=t["score_note"].format(scale=ctx.bundle.scale),
        lacking=report_line(ctx.absent_tables(), lang),
        footer=t["footer"].format(
            month=ctx.month, model=ctx.bundle.name, version=ctx.bundle.version
        ),
    )


@dataclass
class ReportRun:
    """What `write_reports` wrote: one file per enterprise, and the index of a batch."""

    paths: list[Path]
    index: Path | None


def write_reports(
    ctx: ReportMonth,
    usccs: Sequence[str],
    lang: Lang = "zh",
    fmt: Literal["html", "pdf"] = "html",
    out_dir: Path | None = None,
    chunk: int = 500,
    on_progress: Callable[[int], None] | None = None,
) -> ReportRun:
    """Write one file per enterprise (``<USCC>.html``, ``<USCC>.en.html``, or ``.pdf``) and,
    for more than one, an ``index.html`` listing them. Writes are atomic."""
    folder = Path(out_dir) if out_dir else paths.Outputs(ctx.outputs).reports(ctx.month)
    folder.mkdir(parents=True, exist_ok=True)
    env = environment()
    suffix = "" if lang == "zh" else ".en"
    written: list[Path] = []
    listed: list[dict[str, Any]] = []
    for start in range(0, len(usccs), chunk):
        for report in build(ctx, usccs[start : start + chunk], lang):
            page = folder / f"{report['uscc']}{suffix}.html"
            _write_text(page, render(ctx, report, lang, env))
            if fmt == "pdf":
                pdf = page.with_suffix(".pdf")
                to_pdf(page, pdf)
                page.unlink()
                page = pdf
            written.append(page)
            listed.append(
                {
                    "uscc": report["uscc"],
                    "name": report["name"],
                    "class_label": report["class_label"],
                    "colour": report["class_colour"],
                    "score": report["score"],
                    "division": report["division"],
                    "industry": report["industry"],
                    "file": page.name,
                }
            )
            if on_progress is not None:
                on_progress(1)
    index = None
    if len(written) > 1:
        index = folder / f"index{suffix}.html"
        page_text = env.get_template("index.html.j2").render(
            t=TEXT[lang],
            month=ctx.month,
            rows=listed,
            model=ctx.bundle.name,
            version=ctx.bundle.version,
        )
        _write_text(index, page_text)
    return ReportRun(written, index)


def _write_text(path: Path, text: str) -> None:
    """``text`` to ``path`` as UTF-8, atomically."""
    atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))
