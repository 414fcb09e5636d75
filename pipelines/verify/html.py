"""The verification report as a page (``verification.html``): verdict, hit rates with their
intervals (chart), calibration, drift, the population, hot spots and early warning.

The page's text, colours, chart and template come from `pipelines.render`.
"""

from __future__ import annotations

from typing import Any

from markupsafe import Markup

from models.classes import ClassScheme
from pipelines.render import charts
from pipelines.render.html import class_colours, environment
from pipelines.render.wording import TEXT


def render_html(m: dict[str, Any], scheme: ClassScheme) -> str:
    """The verification report of the figures ``m`` (`VerificationMetrics.to_dict`)."""
    colours = class_colours(scheme)
    bars = [
        (c, r["hit_rate"], r["low"], r["high"], r["unweighted"], colours.get(c, "#555"))
        for c, r in m["class_final"]["hit_rates"].items()
        if r["inspections"]
    ]
    chart = charts.rate_bars(bars, "各类别问题发现率", ("加权发现率及95%区间", "未加权发现率"))
    html: str = (
        environment()
        .get_template("verification.html.j2")
        .render(m=m, t=TEXT["zh"], chart=Markup(chart))
    )
    return html
