"""Stage `report`: per-enterprise reports a regulator can read (HTML, or PDF through Chromium).

For each enterprise of a classified month: its class and score and what the class means for
supervision; its main risk points as plain sentences about its own records (the catalog's
templates with its real values and dates); a waterfall of how the score is made up; the five
information groups; how it compares with its industry and division; what it can do: one
sentence per remedy classify computed for it (`pipelines.whatif`: «补报2025年度年报，风险分预计
由912降至540（C类）», all together, an override that still holds the class and the remedy
that lifts it), only what-ifs computed exactly for the classes shown, and otherwise, labelled
as advice, the catalog's advice for actionable risk points only; its class over the last 12 months; the
model version and data month; when the month's feature file lacked contract tables (a
bureau could not deliver them), the information groups the data lacked, under the header
(`pipelines.render.lacking`; nothing otherwise); and the internal-use banner
(`pipelines.render.wording`).

The explanation is recomputed from the model version that classified the month (exact
TreeSHAP, `models.explain`) and checked against the risk points stored by `classify`: a report
never shows a reason the model did not give, and says so when no feature stands out.

Reports are internal to the bureau: written under ``outputs/<month>/reports/`` only, never
logged. A report is one self-contained HTML file (inline CSS and SVG, no script, no network)
that prints on A4.

The package, by concern:

- `config`: `ReportConfig` (``configs/report.yaml``) and `ReportError`;
- `context`: `ReportMonth`, the month's classes, registry, model version,
  history and peers, and the selection of enterprises;
- `sentences`: values and sentences as a regulator reads them, the what-if sentences among them;
- `build`: a report's content;
- `pages`: rendering, writing the files and the index (`write_reports`);
- `pdf`: printing through headless Chromium.
"""

from __future__ import annotations

from pipelines.render.html import class_colours, environment
from pipelines.render.names import Names
from pipelines.report.build import build, class_label
from pipelines.report.config import ReportConfig, ReportError
from pipelines.report.context import Peers, ReportMonth
from pipelines.report.pages import ReportRun, render, write_reports
from pipelines.report.pdf import CHROMIUM_FLAGS, chromium, to_pdf
from pipelines.report.sentences import display, is_fact, number, sentence

__all__ = [
    "CHROMIUM_FLAGS",
    "Names",
    "Peers",
    "ReportConfig",
    "ReportError",
    "ReportMonth",
    "ReportRun",
    "build",
    "chromium",
    "class_colours",
    "class_label",
    "display",
    "environment",
    "is_fact",
    "number",
    "render",
    "sentence",
    "to_pdf",
    "write_reports",
]
