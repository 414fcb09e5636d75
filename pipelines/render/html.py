"""HTML pages: the Jinja environment of the report and verification templates, class colours.

The templates (``pipelines/render/templates/``) are the enterprise report, the index of a
batch of reports, the verification report and their shared print style; every page shows the
internal-use banner (`pipelines.render.wording`).
"""

from __future__ import annotations

from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape

from models.classes import ClassScheme

TEMPLATES = Path(__file__).parent / "templates"
#: Colours of classes in scheme order, for classes that do not name a colour.
PALETTE = ["#2e7d32", "#1565c0", "#ef8f00", "#c62828", "#6d4c41", "#455a64"]
#: Classes whose code is a colour name are drawn in that colour.
NAMED_COLOURS = {
    "green": "#2e7d32",
    "blue": "#1565c0",
    "yellow": "#e0a800",
    "red": "#c62828",
    "grey": "#757575",
    "gray": "#757575",
}


def class_colours(scheme: ClassScheme) -> dict[str, str]:
    """Class code -> colour: a colour name's own colour, else the palette in scheme order."""
    order = [c.code for c in scheme.classes]
    return {
        c: NAMED_COLOURS.get(c.lower(), PALETTE[min(i, len(PALETTE) - 1)])
        for i, c in enumerate(order)
    }


def environment() -> Environment:
    """The Jinja environment of the templates (HTML autoescaped)."""
    return Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html", "j2"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
