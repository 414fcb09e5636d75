"""Inline SVG charts for the enterprise and verification reports: no script, no network, no
font files.

Text is drawn with the page's font stack, so Chinese labels render in any browser that has a
Chinese font (every Chinese-language system does); every string is XML-escaped here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

RAISE = "#c0392b"  # raises the risk
LOWER = "#2e7d32"  # lowers the risk
NEUTRAL = "#5b6b7b"
FONT = "font-family=\"'Noto Sans CJK SC','Microsoft YaHei','PingFang SC','WenQuanYi Micro Hei',sans-serif\""


@dataclass(frozen=True)
class Step:
    label: str
    delta: float  # in score points


@dataclass(frozen=True)
class Band:
    code: str
    lower: float
    color: str


def _fmt(v: float) -> str:
    return f"{v:+.0f}" if abs(v) >= 0.5 else ("+0" if v >= 0 else "−0")


def waterfall(
    start: tuple[str, float],
    steps: Sequence[Step],
    end: tuple[str, float],
    top: float,
    bands: Sequence[Band] = (),
    title: str = "",
) -> str:
    """Horizontal waterfall on the 0..``top`` score axis: the start bar, one bar per step from
    the running total, the end bar; class bands shaded behind (their lower bounds)."""
    label_w, bar_w, row_h, pad = 250, 400, 26, 34
    rows = 2 + len(steps)
    height = pad + rows * row_h + 26
    x0 = label_w + 10

    def sx(v: float) -> float:
        return x0 + max(0.0, min(v, top)) / top * bar_w

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" '
        f'viewBox="0 0 {x0 + bar_w + 60} {height}" width="100%" {FONT} font-size="12">'
    ]
    if title:
        out.append(f"<title>{escape(title)}</title>")
    for i, band in enumerate(bands):  # class bands behind the bars
        upper = bands[i + 1].lower if i + 1 < len(bands) else top
        out.append(
            f'<rect x="{sx(band.lower):.1f}" y="{pad - 18}" width="{sx(upper) - sx(band.lower):.1f}" '
            f'height="{rows * row_h + 18}" fill="{band.color}" fill-opacity="0.10"/>'
            f'<text x="{(sx(band.lower) + sx(upper)) / 2:.1f}" y="{pad - 6}" text-anchor="middle" '
            f'fill="{band.color}" font-weight="bold">{escape(band.code)}</text>'
        )
    total = start[1]
    entries: list[tuple[str, float, float, str, str]] = [
        (start[0], 0.0, start[1], NEUTRAL, f"{start[1]:.0f}")
    ]
    for s in steps:
        lo, hi = sorted((total, total + s.delta))
        entries.append((s.label, lo, hi, RAISE if s.delta >= 0 else LOWER, _fmt(s.delta)))
        total += s.delta
    entries.append((end[0], 0.0, end[1], "#1f3a5f", f"{end[1]:.0f}"))
    for r, (label, lo, hi, color, text) in enumerate(entries):
        y = pad + r * row_h
        out.append(
            f'<text x="{label_w}" y="{y + 17}" text-anchor="end">{escape(label)}</text>'
            f'<rect x="{sx(lo):.1f}" y="{y + 5}" width="{max(sx(hi) - sx(lo), 1.5):.1f}" '
            f'height="{row_h - 10}" fill="{color}"/>'
            f'<text x="{sx(hi) + 4:.1f}" y="{y + 17}" fill="{color}">{escape(text)}</text>'
        )
        if 0 < r < len(entries) - 1:  # connector from the previous total
            out.append(
                f'<line x1="{sx(lo if color == RAISE else hi):.1f}" x2="{sx(lo if color == RAISE else hi):.1f}" '
                f'y1="{y - row_h + 21}" y2="{y + 5}" stroke="#999" stroke-dasharray="2,2"/>'
            )
    axis_y = pad + rows * row_h + 4
    out.append(f'<line x1="{x0}" x2="{x0 + bar_w}" y1="{axis_y}" y2="{axis_y}" stroke="#666"/>')
    for v in range(0, int(top) + 1, int(top) // 5 or 1):
        out.append(
            f'<text x="{sx(v):.1f}" y="{axis_y + 14}" text-anchor="middle" fill="#666" '
            f'font-size="10">{v}</text>'
        )
    out.append("</svg>")
    return "".join(out)


def diverging(items: Sequence[tuple[str, float, str]], title: str = "") -> str:
    """One bar per item (label, value, note) around zero: right raises, left lowers."""
    label_w, half, row_h = 190, 180, 26
    height = len(items) * row_h + 12
    mid = label_w + 10 + half
    biggest = max((abs(v) for _l, v, _n in items), default=0.0) or 1.0
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" '
        f'viewBox="0 0 {mid + half + 120} {height}" width="100%" {FONT} font-size="12">'
    ]
    if title:
        out.append(f"<title>{escape(title)}</title>")
    out.append(f'<line x1="{mid}" x2="{mid}" y1="0" y2="{height}" stroke="#666"/>')
    for r, (label, value, note) in enumerate(items):
        y = r * row_h + 6
        w = abs(value) / biggest * half
        x = mid if value >= 0 else mid - w
        color = RAISE if value > 0 else LOWER
        out.append(
            f'<text x="{label_w}" y="{y + 13}" text-anchor="end">{escape(label)}</text>'
            f'<rect x="{x:.1f}" y="{y + 2}" width="{max(w, 1.0):.1f}" height="{row_h - 10}" fill="{color}"/>'
            f'<text x="{mid + half + 6}" y="{y + 13}" fill="{color}">{escape(note)}</text>'
        )
    out.append("</svg>")
    return "".join(out)


def history(cells: Sequence[tuple[str, str | None, str]], title: str = "") -> str:
    """A strip of months, each cell the class code in its colour ('—' when not classified)."""
    w, h = 52, 44
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" '
        f'viewBox="0 0 {w * len(cells) + 2} {h + 18}" width="100%" {FONT} font-size="11">'
    ]
    if title:
        out.append(f"<title>{escape(title)}</title>")
    for i, (month, code, color) in enumerate(cells):
        x = i * w + 1
        out.append(
            f'<rect x="{x}" y="1" width="{w - 4}" height="{h - 8}" rx="4" fill="{color}" '
            f'fill-opacity="{0.85 if code else 0.15}"/>'
            f'<text x="{x + (w - 4) / 2}" y="{h / 2 + 2}" text-anchor="middle" font-size="14" '
            f'font-weight="bold" fill="{"#fff" if code else "#666"}">{escape(code or "—")}</text>'
            f'<text x="{x + (w - 4) / 2}" y="{h + 12}" text-anchor="middle" fill="#444">'
            f"{escape(month)}</text>"
        )
    out.append("</svg>")
    return "".join(out)


def rate_bars(
    items: Sequence[tuple[str, float, float, float, float, str]],
    title: str = "",
    legend: tuple[str, str] = ("", ""),
) -> str:
    """Vertical bars of shares (0-1) with their interval as a whisker and a second value as a
    dot: (label, value, low, high, dot, colour) per bar; legend: (bar, dot) captions."""
    bar_w, gap, height, base = 56, 34, 220, 250
    width = len(items) * (bar_w + gap) + gap + 40
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" '
        f'viewBox="0 0 {width} {base + 60}" width="100%" {FONT} font-size="12">'
    ]
    if title:
        out.append(f"<title>{escape(title)}</title>")

    def sy(v: float) -> float:
        return base - max(0.0, min(v, 1.0)) * height

    for t in (0.0, 0.25, 0.5, 0.75, 1.0):
        out.append(
            f'<line x1="36" x2="{width}" y1="{sy(t):.1f}" y2="{sy(t):.1f}" stroke="#e3e7ec"/>'
            f'<text x="32" y="{sy(t) + 4:.1f}" text-anchor="end" fill="#666" font-size="10">'
            f"{t:.0%}</text>"
        )
    for i, (label, value, low, high, dot, colour) in enumerate(items):
        x = 40 + gap + i * (bar_w + gap)
        cx = x + bar_w / 2
        out.append(
            f'<rect x="{x}" y="{sy(value):.1f}" width="{bar_w}" height="{base - sy(value):.1f}" '
            f'fill="{colour}" fill-opacity="0.85"/>'
            f'<line x1="{cx}" x2="{cx}" y1="{sy(high):.1f}" y2="{sy(low):.1f}" stroke="#222"/>'
            f'<line x1="{cx - 8}" x2="{cx + 8}" y1="{sy(high):.1f}" y2="{sy(high):.1f}" stroke="#222"/>'
            f'<line x1="{cx - 8}" x2="{cx + 8}" y1="{sy(low):.1f}" y2="{sy(low):.1f}" stroke="#222"/>'
            f'<circle cx="{cx + 14}" cy="{sy(dot):.1f}" r="4" fill="#fff" stroke="#222"/>'
            f'<text x="{cx}" y="{sy(high) - 6:.1f}" text-anchor="middle">{value:.1%}</text>'
            f'<text x="{cx}" y="{base + 16}" text-anchor="middle" font-weight="bold">{escape(label)}</text>'
        )
    if legend[0]:
        out.append(
            f'<rect x="44" y="{base + 30}" width="12" height="10" fill="#777"/>'
            f'<text x="60" y="{base + 39}">{escape(legend[0])}</text>'
            f'<circle cx="{width / 2 + 6}" cy="{base + 35}" r="4" fill="#fff" stroke="#222"/>'
            f'<text x="{width / 2 + 14}" y="{base + 39}">{escape(legend[1])}</text>'
        )
    out.append("</svg>")
    return "".join(out)
