"""Reports in a real browser: headless Chromium (the system's, never downloaded) renders a
report with its Chinese text, and prints it to PDF."""

from __future__ import annotations

import re
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pipelines.render.wording import BANNER_ZH
from pipelines.report import CHROMIUM_FLAGS, chromium, write_reports

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("report")]


def _browser() -> str:
    try:
        return chromium()
    except ValueError as exc:  # a missing browser fails the suite: `make test` installs it
        pytest.fail(f"{exc} (make browser-deps)")


def _run(*args: str) -> subprocess.CompletedProcess[bytes]:
    with tempfile.TemporaryDirectory() as profile:
        cmd = [_browser(), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args]
        return subprocess.run(cmd, capture_output=True, timeout=120, check=True)


def _screenshot(page: Path, png: Path, size: str = "1000,2600") -> np.ndarray:
    _run(f"--window-size={size}", f"--screenshot={png}", page.resolve().as_uri())
    return np.asarray(Image.open(png).convert("L"), dtype=float)


def test_a_report_renders_with_its_chinese_text(report_month, tmp_path) -> None:  # type: ignore[no-untyped-def]
    ctx = report_month
    run = write_reports(ctx, ctx.select(klass="D", limit=1), out_dir=tmp_path)
    page = run.paths[0]
    pixels = _screenshot(page, tmp_path / "report.png")
    ink = (pixels < 200).mean()
    assert ink > 0.02 and pixels.std() > 20  # not blank: text, charts, the class badge
    dom = _run("--dump-dom", page.resolve().as_uri()).stdout.decode()
    name = str(ctx.registry.at[page.stem, "name"])
    assert BANNER_ZH in dom and name in dom and "主要风险点" in dom


def test_chinese_glyphs_are_drawn_not_boxes(tmp_path) -> None:
    """Two different Chinese strings must look different: with no Chinese font every
    character is drawn as the same empty box."""
    shots = []
    for i, words in enumerate(("内部参考", "风险分类")):
        page = tmp_path / f"g{i}.html"
        page.write_text(
            f'<html><meta charset="utf-8"><body style="margin:0;font-size:64px">'
            f"{words}</body></html>",
            encoding="utf-8",
        )
        shots.append(_screenshot(page, tmp_path / f"g{i}.png", "400,120"))
    assert (shots[0] < 200).mean() > 0.01  # something is drawn
    assert np.abs(shots[0] - shots[1]).mean() > 2


def test_pdf_on_a4(report_month, tmp_path) -> None:  # type: ignore[no-untyped-def]
    ctx = report_month
    run = write_reports(ctx, ctx.select(klass="D", limit=1), fmt="pdf", out_dir=tmp_path)
    pdf = run.paths[0]
    data = pdf.read_bytes()
    assert pdf.suffix == ".pdf" and data.startswith(b"%PDF") and len(data) > 20_000
    # A4 portrait in points (595 x 842), as @page asks
    boxes = re.findall(rb"/MediaBox \[0 0 ([0-9.]+) ([0-9.]+)\]", data)
    assert boxes and all(abs(float(w) - 595.3) < 1 and abs(float(h) - 841.9) < 1 for w, h in boxes)
