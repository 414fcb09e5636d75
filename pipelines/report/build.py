"""A report's content: the dict the template shows, for each enterprise of a batch.

The explanation is recomputed from the model version that classified the month (exact
TreeSHAP, `models.explain`) and checked against the risk points stored by `classify`: a report
never shows a reason the model did not give, and says so when no feature stands out. Then the
score's waterfall, the five information groups, the peers, the class history and what the
enterprise can do.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from markupsafe import Markup

from contract.months import months_between, previous_month
from contract.tables import GROUPS, VOCABULARIES
from features.whatif import BY_KEY
from models import calibration, explain, gbm
from models.classes import ClassScheme
from pipelines.bundle import Bundle
from pipelines.render import charts
from pipelines.render.html import class_colours
from pipelines.render.names import Lang
from pipelines.render.wording import TEXT
from pipelines.report.config import ReportError
from pipelines.report.context import ReportMonth
from pipelines.report.sentences import (
    WHATIF_TEXT,
    display,
    is_fact,
    sentence,
    whatif_sentences,
)


def build(ctx: ReportMonth, usccs: Sequence[str], lang: Lang) -> list[dict[str, Any]]:
    """The content of each enterprise's report (what the template shows)."""
    if not usccs:
        return []
    rows = ctx.feature_rows(usccs)
    bundle = ctx.bundle
    x = gbm.matrix_arrow(rows, bundle.design)
    flags = {f: rows.column(f).to_numpy(zero_copy_only=False) for _n, f, _b, _c in bundle.sectors}
    explainer = ctx.explainer()
    contrib = explainer(x, flags)
    idx, val = explain.top_risk_points(contrib, ctx.top_k)
    names = np.array([*bundle.design.features, None], dtype=object)
    records = rows.to_pylist()
    history = ctx.history(usccs)
    # each enterprise's stored classification and registry entry, taken for the chunk at once
    # (a row at a time costs a frame lookup per column)
    stored_rows = ctx.classes.loc[list(usccs)].to_dict("index")
    listed = [u for u in usccs if u in ctx.registry.index]
    registered = ctx.registry.loc[listed].to_dict("index") if listed else {}
    out = []
    for i, u in enumerate(usccs):
        stored = stored_rows[u]
        kept = [stored.get(f"risk_{k}_feature") for k in range(1, ctx.top_k + 1)]
        kept = [k if isinstance(k, str) else None for k in kept]
        if abs(float(stored["margin"]) - contrib[i].sum()) > 1e-6 or kept != list(names[idx[i]]):
            raise ReportError(
                f"report: the explanation of {u} differs from the one classify stored for "
                f"{ctx.month} (model version {bundle.version}): rerun classify for that month"
            )
        named = [
            int(j)
            for j, v in zip(idx[i], val[i], strict=True)
            if j >= 0 and v >= ctx.rcfg.min_contribution
        ]
        own_flags = {f: float(v[i]) for f, v in flags.items()}
        out.append(
            _report(
                ctx,
                u,
                records[i],
                contrib[i],
                named,
                own_flags,
                history[u],
                lang,
                explainer.exact,
                stored,
                registered.get(u),
            )
        )
    return out


def _report(
    ctx: ReportMonth,
    u: str,
    row: dict[str, Any],
    c: np.ndarray[Any, Any],
    named: list[int],
    flags: dict[str, float],
    history: dict[str, str],
    lang: Lang,
    exact: bool,
    cls: Mapping[str, Any],
    reg: Mapping[str, Any] | None,
) -> dict[str, Any]:
    """One enterprise's report content; ``cls`` its stored classification, ``reg`` its
    registry entry (None when the registry lacks it)."""
    t = TEXT[lang]
    features = ctx.bundle.design.features
    body = c[:-1]
    order = np.argsort(body, kind="stable")  # the most negative first
    path = _score_path(ctx, c, named, flags, lang, None if exact else float(cls["score"]))
    points, advice = [], []
    for j, delta in zip(named, path.deltas, strict=False):
        f = ctx.bundle.features[features[j]]
        points.append(
            {
                "sentence": sentence(f, row, ctx.names, lang),
                "group": GROUPS[f.group][0 if lang == "zh" else 1],
                "points": t["raises"].format(points=f"{max(delta, 0):.0f}"),
            }
        )
        tip = f.advice_zh if lang == "zh" else f.advice_en
        if f.actionable and tip and tip not in advice and is_fact(f, row.get(f.name)):
            advice.append(tip)
    whatif = whatif_sentences(ctx.whatif.get(u, []), ctx.scheme, lang)
    if whatif:  # computed: the advice the what-ifs already answer is not repeated
        done = {f for r in ctx.whatif.get(u, []) for k in str(r["remedies"]).split(";")
                if k in BY_KEY for f in BY_KEY[k].features}  # fmt: skip
        answered = {
            (ctx.bundle.features[n].advice_zh if lang == "zh" else ctx.bundle.features[n].advice_en)
            for n in done
            if n in ctx.bundle.features
        }
        advice = [a for a in advice if a not in answered]
    favourable = [
        sentence(ctx.bundle.features[features[j]], row, ctx.names, lang)
        for j in order[: ctx.rcfg.favourable]
        if body[j] <= -ctx.rcfg.min_contribution
    ]
    # a registry of ids only (ingest's registry: ids_only) names neither: no peer group
    industry2 = _code(reg, "industry_code")[:2]
    division = _code(reg, "division_code")
    final = str(cls["class_final"])
    cdef = {d.code: d for d in ctx.scheme.classes}.get(final)
    colours = class_colours(ctx.scheme)
    return {
        "uscc": u,
        "name": str(reg["name"]) if reg is not None else u,
        "division": ctx.names.division(division, lang) if division else "",
        "industry": ctx.names.industry(industry2, lang) if industry2 else "",
        "industry_code": str(reg["industry_code"]) if reg is not None else "",
        "entity_type": _vocab("entity_type", reg["entity_type"], lang) if reg is not None else "",
        "established": str(reg["established_date"])[:10] if reg is not None else "",
        "status": _vocab("status", reg["status"], lang) if reg is not None else "",
        "class_code": final,
        "class_label": class_label(ctx.scheme, final, lang),
        "class_colour": colours.get(final, "#555"),
        "measures": list((cdef.measures_zh if lang == "zh" else cdef.measures_en) if cdef else ()),
        "override": _override(ctx, cls, lang),
        "score": f"{float(cls['score']):.0f}",
        "probability": f"{float(cls['probability']):.1%}",
        "points": points,
        "advice": advice,
        "whatif": whatif,
        "whatif_text": WHATIF_TEXT[lang],
        "favourable": favourable,
        "waterfall": Markup(path.svg),
        "bands": path.bands,
        "score_path": (path.start, path.all_deltas, path.end),
        "none": None if named else t["none_low" if path.end <= path.start + 0.5 else "none_spread"],
        "groups": Markup(_groups_chart(ctx, cls, lang)),
        "approx": not exact,
        **_peer_sections(ctx, u, row, named, industry2, division, lang),
        "history": Markup(_history_chart(ctx, history, colours, lang)),
    }


def _scorer(bundle: Bundle, flags: dict[str, float]) -> Callable[[float], float]:
    """Margin -> score for one enterprise (its sector's calibrator under boost/replace)."""
    cal = bundle.calibrator
    for _n, flag, _b, c in bundle.sectors:
        if bundle.sector_rule != "average" and flags.get(flag) == 1:
            cal = c
    return lambda m: float(calibration.to_score(cal(gbm.sigmoid(np.array([m]))), bundle.scale)[0])


@dataclass(frozen=True)
class _Path:
    start: float
    deltas: list[float]  # one per named risk point
    all_deltas: list[float]  # the named points, then the other factors up, then down
    end: float
    svg: str
    bands: bool  # class bands drawn behind


def _score_path(
    ctx: ReportMonth,
    c: np.ndarray[Any, Any],
    named: list[int],
    flags: dict[str, float],
    lang: Lang,
    approximate_to: float | None = None,
) -> _Path:
    """The waterfall in score points: from the expected margin, each named risk point, then
    the other factors that raise the risk, then those that lower it, each moving the running
    margin; a step is the change of the score it causes. The end is the enterprise's score.
    ``approximate_to``: the score when the contributions only approximate it (the
    ``average`` sector rule): a last step, said to be the approximation, closes the gap."""
    t = TEXT[lang]
    features = ctx.bundle.design.features
    score_of = _scorer(ctx.bundle, flags)
    body = c[:-1]
    margin = float(c[-1])
    start = prev = score_of(margin)
    steps: list[charts.Step] = []
    chosen = set(named)
    up = [j for j in range(len(body)) if j not in chosen and body[j] > 0]
    down = [j for j in range(len(body)) if j not in chosen and body[j] < 0]
    moves = [
        (f.zh if lang == "zh" else f.en, float(body[j]))
        for j in named
        for f in [ctx.bundle.features[features[j]]]
    ]
    moves += [
        (t[key].format(n=len(js)), float(body[js].sum()))
        for js, key in ((up, "other_up"), (down, "other_down"))
        if js
    ]
    for label, move in moves:
        margin += move
        now = score_of(margin)
        steps.append(charts.Step(label, now - prev))
        prev = now
    if approximate_to is not None:
        steps.append(charts.Step(t["approx_step"], approximate_to - prev))
        prev = approximate_to
    bands = []
    colours = class_colours(ctx.scheme)
    if ctx.scheme.method == "score_bands" and ctx.scheme.score_bands:
        for code, lower in sorted(ctx.scheme.score_bands.items(), key=lambda kv: kv[1]):
            bands.append(charts.Band(code, float(lower), colours.get(code, "#999")))
    top = max(float(ctx.bundle.scale), prev)
    svg = charts.waterfall((t["start"], start), steps, (t["end"], prev), top, bands, t["waterfall"])
    deltas = [s.delta for s in steps]
    return _Path(start, deltas[: len(named)], deltas, prev, svg, bool(bands))


def _groups_chart(ctx: ReportMonth, cls: Mapping[str, Any], lang: Lang) -> str:
    """How much each of the five information groups pushes the risk (classify's sums)."""
    t = TEXT[lang]
    sums = {g: float(cls[f"shap_{g}"]) for g in GROUPS}
    flat = max(ctx.rcfg.min_contribution, 0.05 * (max(abs(v) for v in sums.values()) or 1.0))
    items = [(GROUPS[g][0 if lang == "zh" else 1], v, t[_effect(v, flat)]) for g, v in sums.items()]
    return charts.diverging(items, t["groups"])


def _peer_block(
    ctx: ReportMonth, u: str, key: str, value: str, lang: Lang, label: str
) -> dict[str, Any]:
    t = TEXT[lang]
    peers = ctx.peers(key, value)
    n = len(peers.scores)
    block: dict[str, Any] = {"label": label, "n": n}
    if n < ctx.rcfg.min_peers:
        block["text"] = t["peer_too_few"].format(n=ctx.rcfg.min_peers)
        return block
    own = float(ctx.classes.at[u, "score"])
    share = np.searchsorted(peers.scores, own, side="left") / n  # peers scoring lower
    block["text"] = t["peer_rank"].format(share=f"{share:.0%}", n=f"{n:,}")
    block["classes"] = peers.shares
    block["peers"] = peers.index
    return block


def _peer_sections(
    ctx: ReportMonth,
    u: str,
    row: dict[str, Any],
    named: list[int],
    industry2: str,
    division: str,
    lang: Lang,
) -> dict[str, Any]:
    """The enterprise against its industry division and its county: score rank, class shares,
    and the industry's typical value of each named risk point."""
    t = TEXT[lang]
    blocks = []
    members = None
    if industry2:
        label = t["peer_industry"].format(name=ctx.names.industry(industry2, lang))
        block = _peer_block(ctx, u, "industry_code", industry2, lang, label)
        members = block.pop("peers", None)
        blocks.append(block)
    if division:
        label = t["peer_division"].format(name=ctx.names.division(division, lang))
        block = _peer_block(ctx, u, "division_code", division, lang, label)
        block.pop("peers", None)
        blocks.append(block)
    table = []
    for j in named if members is not None else []:
        f = ctx.bundle.features[ctx.bundle.design.features[j]]
        if f.kind not in ("number", "flag"):
            continue
        typical = ctx.typical(f, industry2)
        if typical is None:
            continue
        if f.kind == "flag":
            shown = t["share_yes"].format(share=f"{typical:.0%}")
        else:
            shown = t["median"].format(v=display(f, typical, ctx.names, lang))
        own = display(f, row.get(f.name), ctx.names, lang) or t["missing"]
        table.append((f.zh if lang == "zh" else f.en, own, shown))
    return {"peers": blocks, "peer_features": table}


def _history_chart(
    ctx: ReportMonth, history: dict[str, str], colours: dict[str, str], lang: Lang
) -> str:
    first = ctx.month
    for _ in range(ctx.rcfg.history_months - 1):
        first = previous_month(first)
    cells = [
        (m[2:], history.get(m), colours.get(history.get(m) or "", "#9e9e9e"))
        for m in months_between(first, ctx.month)
    ]
    return charts.history(cells, TEXT[lang]["history"])


def _override(ctx: ReportMonth, cls: Mapping[str, Any], lang: Lang) -> str | None:
    """Why a rule, not the score, set the class (and what the score alone gives)."""
    rule = cls.get("override_rule")
    rules = {r.name: r for r in ctx.scheme.overrides}
    if not isinstance(rule, str) or rule not in rules:
        return None
    final, model = str(cls["class_final"]), str(cls["class_model"])
    r = rules[rule]
    return TEXT[lang]["override" if final != model else "override_same"].format(
        rule=r.zh if lang == "zh" else r.en,
        final=class_label(ctx.scheme, final, lang),
        model=class_label(ctx.scheme, model, lang),
    )


def _effect(v: float, flat: float) -> str:
    """How a group's push (log-odds) reads: within ``flat`` of zero it has little effect;
    half a unit of log-odds (a 1.65x change in the odds) or more is "clearly"."""
    if abs(v) < flat:
        return "flat"
    strong = abs(v) >= 0.5
    if v > 0:
        return "strong_up" if strong else "up"
    return "strong_down" if strong else "down"


def class_label(scheme: ClassScheme, code: str, lang: Lang) -> str:
    """A class as a report names it: its code and its name in the scheme."""
    d = {c.code: c for c in scheme.classes}.get(code)
    if d is None:
        return code
    return f"{code}类（{d.zh}）" if lang == "zh" else f"class {code} ({d.en})"


def _vocab(vocabulary: str, code: Any, lang: Lang) -> str:
    if code is None or (isinstance(code, float) and math.isnan(code)):
        return ""
    labels = VOCABULARIES[vocabulary].get(str(code))
    return (labels[0] if lang == "zh" else labels[1]) if labels else str(code)


def _code(reg: Any, column: str) -> str:
    """A registry code as text; "" when the registry row or the code is missing."""
    if reg is None:
        return ""
    value = reg[column]
    return "" if value is None or pd.isna(value) else str(value)
