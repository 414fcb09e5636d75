"""PDF through the system's headless Chromium (never a downloaded one), kept off the network.

A report prints on A4 by its own ``@page`` rules (the banner on every printed page); Chromium
runs with a throw-away profile and the flags in `CHROMIUM_FLAGS`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from pipelines.report.config import ReportError


def chromium() -> str:
    """The Chromium binary (``RISKCLASS_CHROMIUM`` or the first on PATH)."""
    for name in (
        os.environ.get("RISKCLASS_CHROMIUM"),
        "chromium",
        "chromium-browser",
        "google-chrome",
        "google-chrome-stable",
    ):
        if name and shutil.which(name):
            return str(shutil.which(name))
    raise ReportError(
        "report: --format pdf needs Chromium (Debian: apt-get install chromium "
        "fonts-wqy-microhei; or set RISKCLASS_CHROMIUM); --format html needs nothing"
    )


#: Flags that keep headless Chromium off the network and out of the user's profile.
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--hide-scrollbars",
)


def to_pdf(html_path: Path, pdf_path: Path, timeout: float = 60) -> None:
    """Print an HTML report to A4 PDF with headless Chromium (the page's own @page rules)."""
    with tempfile.TemporaryDirectory() as profile:
        cmd = [
            chromium(),
            *CHROMIUM_FLAGS,
            f"--user-data-dir={profile}",
            "--no-pdf-header-footer",
            f"--print-to-pdf={pdf_path}",
            html_path.resolve().as_uri(),
        ]
        done = subprocess.run(cmd, capture_output=True, timeout=timeout, check=False)
    if done.returncode != 0 or not pdf_path.is_file():
        raise ReportError(
            f"report: Chromium could not print {html_path} to PDF (exit {done.returncode}): "
            f"{done.stderr.decode(errors='replace')[-300:]}"
        )
