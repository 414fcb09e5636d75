"""Rendering and writing: a report's page, one file per enterprise, and a batch's index.

Pages are self-contained HTML (inline CSS and SVG, no script, no network) from the shared
templates (`pipelines.render.html`); every write is atomic (`pipelines.io`).
"""

from __future__ import annotations

import contextlib
import multiprocessing
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
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
    workers: int = 1,
) -> ReportRun:
    """Write one file per enterprise (``<USCC>.html``, ``<USCC>.en.html``, or ``.pdf``) and,
    for more than one, an ``index.html`` listing them. Writes are atomic.

    A batch of more than one chunk first reads what its reports look up in one pass
    (`ReportMonth.preload`); with ``workers`` > 1 its chunks are then built and written by that
    many forked processes sharing the month's context (copy-on-write), each chunk's pages the
    same as one process writes them, and the index in the order of ``usccs``."""
    folder = Path(out_dir) if out_dir else paths.Outputs(ctx.outputs).reports(ctx.month)
    folder.mkdir(parents=True, exist_ok=True)
    chunks = [usccs[start : start + chunk] for start in range(0, len(usccs), chunk)]
    if len(chunks) > 1:
        ctx.preload(usccs)
    try:
        return _write_batch(ctx, chunks, lang, fmt, folder, on_progress, workers)
    finally:
        ctx.release()  # the batch's rows and history are not kept after it


def _write_batch(
    ctx: ReportMonth,
    chunks: list[Sequence[str]],
    lang: Lang,
    fmt: Literal["html", "pdf"],
    folder: Path,
    on_progress: Callable[[int], None] | None,
    workers: int,
) -> ReportRun:
    job = _Batch(ctx, lang, fmt, folder)
    written: list[Path] = []
    listed: list[dict[str, Any]] = []
    if workers > 1 and len(chunks) > 1 and not _numba_threads_started():
        parts = _forked(job, chunks, workers)
    else:
        parts = (job.write(c) for c in chunks)
    for part in parts:
        for entry in part:
            written.append(folder / entry["file"])
            listed.append(entry)
        if on_progress is not None:
            on_progress(len(part))
    index = None
    if len(written) > 1:
        index = folder / f"index{job.suffix}.html"
        page_text = (
            environment()
            .get_template("index.html.j2")
            .render(
                t=TEXT[lang],
                month=ctx.month,
                rows=listed,
                model=ctx.bundle.name,
                version=ctx.bundle.version,
            )
        )
        _write_text(index, page_text)
    return ReportRun(written, index)


@dataclass
class _Batch:
    """One batch's settings: ``write`` builds, renders and writes one chunk of it."""

    ctx: ReportMonth
    lang: Lang
    fmt: Literal["html", "pdf"]
    folder: Path

    @property
    def suffix(self) -> str:
        return "" if self.lang == "zh" else ".en"

    def write(self, usccs: Sequence[str]) -> list[dict[str, Any]]:
        """Write the reports of ``usccs``; their index entries, in that order."""
        env = environment()
        listed = []
        for report in build(self.ctx, usccs, self.lang):
            page = self.folder / f"{report['uscc']}{self.suffix}.html"
            _write_text(page, render(self.ctx, report, self.lang, env))
            if self.fmt == "pdf":
                pdf = page.with_suffix(".pdf")
                to_pdf(page, pdf)
                page.unlink()
                page = pdf
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
        return listed


_JOB: _Batch | None = None  # the batch a forked worker writes (set before the fork)


def _forked(
    job: _Batch, chunks: list[Sequence[str]], workers: int
) -> Iterator[list[dict[str, Any]]]:
    """Each chunk's index entries, in order, written by ``workers`` forked processes. Fork,
    not spawn: the workers share the month's context the parent has read (classes, registry,
    the batch's rows) instead of each reading it again. Each worker computes with one thread
    (`_worker_start`). A worker that dies (killed for memory, say) fails the batch with
    `BrokenProcessPool` instead of leaving it waiting."""
    global _JOB
    _JOB = job
    try:
        with ProcessPoolExecutor(
            max_workers=min(workers, len(chunks)),
            mp_context=multiprocessing.get_context("fork"),
            initializer=_worker_start,
        ) as pool:
            yield from pool.map(_worker_write, chunks)
    finally:
        _JOB = None


def _numba_threads_started() -> bool:
    """Whether this process has started numba's thread pool (a parallel kernel ran, e.g. an
    explainer in this process). Its OpenMP layer then kills a forked child that runs one
    ("fork() called from a process already using GNU OpenMP"), so such a process writes its
    batch itself. Unknown (another numba): assumed started."""
    from numba.np.ufunc import parallel

    return bool(getattr(parallel, "_is_initialized", True))


def _worker_start() -> None:
    """One thread per forked worker, for every OpenMP user: the parent's OpenMP thread pool
    (started when LightGBM loaded the model) does not survive the fork, and a parallel region
    of more than one thread in the child waits for it forever. numba's parallel kernels,
    LightGBM's predictions and OpenMP's default are all held to one thread; the processes
    are the parallelism."""
    import ctypes

    import numba

    from models import gbm

    with contextlib.suppress(OSError, AttributeError):  # no libgomp: nothing to cap
        ctypes.CDLL("libgomp.so.1").omp_set_num_threads(1)
    numba.set_num_threads(1)
    gbm.cap_threads(1)


def _worker_write(usccs: Sequence[str]) -> list[dict[str, Any]]:
    assert _JOB is not None, "a report worker runs only in a fork of write_reports"
    return _JOB.write(usccs)


def _write_text(path: Path, text: str) -> None:
    """``text`` to ``path`` as UTF-8, atomically."""
    atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))
