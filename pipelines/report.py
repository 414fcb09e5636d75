"""Stage `report`: per-enterprise reports a regulator can read (HTML, or PDF through Chromium).

For each enterprise of a classified month: its class and score and what the class means for
supervision; its main risk points as plain sentences about its own records (the catalog's
templates with its real values and dates); a waterfall of how the score is made up; the five
information groups; how it compares with its industry and division; what it can do (the
catalog's advice for actionable risk points only); its class over the last 12 months; the
model version and data month; and the banner 「内部参考，不作为对企业的信用评价，不得对外公开」.

The explanation is recomputed from the model version that classified the month (exact
TreeSHAP, `models.explain`) and checked against the risk points stored by `classify`: a report
never shows a reason the model did not give, and says so when no feature stands out.

Reports are internal to the bureau: written under ``outputs/<month>/reports/`` only, never
logged. A report is one self-contained HTML file (inline CSS and SVG, no script, no network)
that prints on A4.
"""

from __future__ import annotations

import math
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup
from pydantic import BaseModel, ConfigDict, Field

from features.catalog import Feature
from contract.tables import GROUPS, VOCABULARIES
from features.definitions import BY_NAME
from contract.months import months_between, parse_month, previous_month
from models import calibration, explain, gbm
from models.classes import ClassScheme, class_order
from models.config import ModelConfig
from pipelines import charts
from pipelines.classify import Bundle, load_bundle
from pipelines.report_text import TEXT, section_name

Lang = Literal["zh", "en"]
TEMPLATES = Path(__file__).parent / "templates"
PALETTE = ["#2e7d32", "#1565c0", "#ef8f00", "#c62828", "#6d4c41", "#455a64"]
NAMED_COLOURS = {"green": "#2e7d32", "blue": "#1565c0", "yellow": "#e0a800", "red": "#c62828",
                 "grey": "#757575", "gray": "#757575"}  # fmt: skip
#: Category features shown with the label of their contract vocabulary.
VOCABULARY_OF = {"entity_type": "entity_type", "legal_form": "legal_form",
                 "abn_reason": "abnormal_reason", "pen_last_cause": "penalty_cause",
                 "insp_last_category": "problem_category"}  # fmt: skip


#: Numbers that code a level, shown as the level (features/social.py: A=5 ... D=1).
LEVEL_OF = {"tax_rating_level": {5: "A", 4: "B", 3: "M", 2: "C", 1: "D"}}


class ReportError(ValueError):
    """A report cannot be made: no classes for the month, unknown enterprise, stale model."""


class ReportConfig(BaseModel):
    """`configs/report.yaml`: reference names and the thresholds of what a report says."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: code,name_zh,name_en[,prefecture_code,prefecture_zh] (GB/T 2260); codes shown if absent
    divisions: str | None = None
    #: code,section,name_zh,name_en for the 2-digit GB/T 4754 divisions; sections if absent
    industries: str | None = None
    #: a risk point must raise the margin (log-odds) by at least this much to be named
    min_contribution: Annotated[float, Field(ge=0)] = 0.02
    favourable: Annotated[int, Field(ge=0, le=10)] = 3
    history_months: Annotated[int, Field(ge=1, le=36)] = 12
    min_peers: Annotated[int, Field(ge=2)] = 20


@dataclass
class Names:
    """Reference names for codes (what a regulator reads instead of a code)."""

    divisions: dict[str, tuple[str, str]] = field(default_factory=dict)
    prefectures: dict[str, tuple[str, str]] = field(default_factory=dict)
    industries: dict[str, tuple[str, str]] = field(default_factory=dict)

    @classmethod
    def load(cls, cfg: ReportConfig, root: Path = Path(".")) -> Names:
        out = cls()
        if cfg.divisions:
            d = pd.read_csv(root / cfg.divisions, dtype=str)
            for r in d.itertuples(index=False):
                out.divisions[r.code] = (r.name_zh, r.name_en)
                if "prefecture_code" in d.columns:
                    pz = getattr(r, "prefecture_zh", r.name_zh)
                    out.prefectures[str(r.prefecture_code)[:4]] = (pz, pz)
        if cfg.industries:
            i = pd.read_csv(root / cfg.industries, dtype=str)
            out.industries = {r.code: (r.name_zh, r.name_en) for r in i.itertuples(index=False)}
        return out

    def division(self, code: str, lang: Lang) -> str:
        name = self.divisions.get(code)
        return _with_code(name[0] if lang == "zh" else name[1], code, lang) if name else code

    def industry(self, code2: str, lang: Lang) -> str:
        name = self.industries.get(code2)
        label = (name[0] if lang == "zh" else name[1]) if name else section_name(code2, lang)
        return _with_code(label, code2, lang) if label else code2


def _with_code(name: str, code: str, lang: Lang) -> str:
    return f"{name}（{code}）" if lang == "zh" else f"{name} ({code})"


def class_colours(scheme: ClassScheme) -> dict[str, str]:
    order = [c.code for c in scheme.classes]
    return {c: NAMED_COLOURS.get(c.lower(), PALETTE[min(i, len(PALETTE) - 1)])
            for i, c in enumerate(order)}  # fmt: skip


def _num(v: Any) -> float | None:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return None
    return float(v) if isinstance(v, int | float | np.floating | np.integer) else None


def display(f: Feature, value: Any, names: Names, lang: Lang) -> str | None:
    """A feature value as a regulator reads it (None when missing)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    t = TEXT[lang]
    if f.kind == "date":
        return value.isoformat() if isinstance(value, date) else str(value)
    if f.kind == "category":
        code = str(value)
        if f.name in VOCABULARY_OF:
            labels = VOCABULARIES[VOCABULARY_OF[f.name]].get(code)
            return (labels[0] if lang == "zh" else labels[1]) if labels else code
        if f.name == "industry_division":
            return names.industry(code, lang)
        if f.name == "city":
            p = names.prefectures.get(code)
            return _with_code(p[0] if lang == "zh" else p[1], code, lang) if p else code
        return code
    if f.kind == "flag":
        return t["yes"] if float(value) == 1 else t["no"]
    v = float(value)
    if f.name in LEVEL_OF:  # a level coded as a number (its catalog description says how)
        return LEVEL_OF[f.name].get(round(v), number(v))
    if f.unit == "share":
        return f"{v:.0%}"
    return number(v)


def number(v: float) -> str:
    """A number as people write it: thousands separated, at most two decimals (three below
    one), never in scientific notation."""
    if v == round(v):
        return f"{v:,.0f}"
    text = f"{v:,.2f}" if abs(v) >= 1 else f"{v:.3f}"
    return text.rstrip("0").rstrip(".")


def is_fact(f: Feature, value: Any) -> bool:
    """Whether the value states something that happened or holds (a flag that is 1, a count
    above 0, any other recorded value): only then is the catalog's sentence told as a fact
    and its advice given."""
    v = _num(value)
    if f.kind in ("date", "category"):
        return value is not None and not (isinstance(value, float) and math.isnan(value))
    if v is None:
        return False
    if f.kind == "flag":
        return v == 1
    return not (f.unit == "count" and v == 0)


class _Value:
    """A template value: with a format spec the number, without it the readable text."""

    def __init__(self, number: float, text: str) -> None:
        self.number, self.text = number, text

    def __format__(self, spec: str) -> str:
        return format(self.number, spec) if spec else self.text


def sentence(f: Feature, row: dict[str, Any], names: Names, lang: Lang) -> str:
    """The catalog's sentence for ``f`` with the enterprise's own values, or a plain
    "indicator: value" when a value it refers to is missing (never a made-up fact) or the
    value is not a fact (`is_fact`: a flag of 0, a count of 0)."""
    template = f.template_zh if lang == "zh" else f.template_en
    value = row.get(f.name)
    label = f.zh if lang == "zh" else f.en
    shown = display(f, value, names, lang)
    plain = f"{label}：{shown or TEXT[lang]['missing']}" if lang == "zh" else (
        f"{label}: {shown or TEXT[lang]['missing']}")  # fmt: skip
    if not template or not is_fact(f, value):
        return plain
    values: dict[str, Any] = {}
    for name in f.placeholders():
        other = BY_NAME[name]
        v = row.get(name)
        text = display(other, v, names, lang)
        if text is None:
            return plain
        amount = _num(v)
        filled: str | _Value = text if amount is None else _Value(amount, text)
        values[name] = filled
        if name == f.name:
            values["value"] = filled
    try:
        return template.format(**values)
    except (ValueError, KeyError, TypeError):  # a format spec that does not fit the value
        return plain


@dataclass
class Month:
    """Everything the reports of one classified month share."""

    month: str
    classes: pd.DataFrame  # indexed by uscc
    registry: pd.DataFrame  # indexed by uscc: name, codes, dates
    features_path: Path
    scheme: ClassScheme
    bundle: Bundle
    names: Names
    rcfg: ReportConfig
    top_k: int
    engine: str
    outputs: Path
    _peer_done: set[str] = field(default_factory=set)  # features whose typical values are known
    _peer_industry: pd.Series | None = None
    _history: dict[str, pd.Series] = field(default_factory=dict)  # month -> class, by uscc
    _peer_groups: dict[tuple[str, str], Any] = field(default_factory=dict)
    _peer_medians: dict[tuple[str, str], float | None] = field(default_factory=dict)
    _explainer: explain.Explainer | None = None
    #: keep the month's feature table in memory (a service answering one report at a time);
    #: batches read only the rows they need
    cache_features: bool = False
    _table: pa.Table | None = None
    _row_of: dict[str, int] = field(default_factory=dict)

    def warm(self) -> None:
        """Build what every report of the month shares (the feature table when it is cached,
        the explainer, the industry and county peer groups) now, once: a service then does
        not build them under its first requests, and holds them from its start."""
        self.feature_rows([])
        self.explainer()
        for key in ("industry_code", "division_code"):
            _peers(self, key, "")

    def explainer(self) -> explain.Explainer:
        """The explainer of the model version that classified the month (built once)."""
        if self._explainer is None:
            self._explainer = self.bundle.explainer(self.engine)
        return self._explainer

    @classmethod
    def load(
        cls,
        month: str,
        cfg: ModelConfig,
        rcfg: ReportConfig,
        scheme: ClassScheme,
        features_dir: Path,
        interim: Path,
        outputs: Path,
        root: Path = Path("."),
    ) -> Month:
        parse_month(month)
        path = Path(outputs) / month / "classes.parquet"
        if not path.is_file():
            raise ReportError(
                f"report: no classes for {month} ({path}); run `riskclass classify --as-of {month}`"
            )
        classes = pq.read_table(path).to_pandas().set_index("uscc")
        if "margin" not in classes.columns:
            raise ReportError(
                f"report: {path} was written without explanations (classify --no-explain); "
                f"run `riskclass classify --as-of {month}` again"
            )
        used = set(classes["scheme"].unique())
        if used != {scheme.name}:
            raise ReportError(
                f"report: {path} was classified with scheme {', '.join(sorted(used))}, not "
                f"{scheme.name}: pass that scheme's file with --scheme"
            )
        versions = classes["model_version"].unique()
        if len(versions) != 1:
            raise ReportError(f"report: {path} mixes model versions {sorted(versions)}")
        reg_path = Path(interim) / "enterprises.parquet"
        if not reg_path.is_file():
            raise ReportError(f"report: table enterprises not found at {reg_path}; run ingest")
        cols = ["uscc", "name", "entity_type", "industry_code", "division_code",
                "established_date", "status"]  # fmt: skip
        registry = pq.read_table(reg_path, columns=cols).to_pandas().set_index("uscc")
        bundle = load_bundle(cfg, version=str(versions[0]))
        return cls(
            month, classes, registry, Path(features_dir) / f"{month}.parquet", scheme, bundle,
            Names.load(rcfg, root), rcfg, cfg.explain.top_k, cfg.explain.engine, Path(outputs),
        )  # fmt: skip

    # --- selection ---------------------------------------------------------------------------
    def select(
        self,
        usccs: Sequence[str] = (),
        klass: str | None = None,
        division: str | None = None,
        industry: str | None = None,
        sample: int | None = None,
        seed: int = 0,
        limit: int | None = None,
    ) -> list[str]:
        """Enterprises to report on: the given USCCs, or those matching class / division
        prefix / industry prefix, optionally a seeded random sample, in USCC order."""
        if usccs:
            unknown = [u for u in usccs if u not in self.classes.index]
            if unknown:
                raise ReportError(
                    f"report: {len(unknown)} enterprise(s) have no classification for "
                    f"{self.month}: {', '.join(unknown[:5])}"
                )
            chosen = pd.Index(sorted(set(usccs)))
        else:
            mask = pd.Series(True, index=self.classes.index)
            if klass is not None:
                if klass not in class_order(self.scheme) and klass not in {
                    c.code for c in self.scheme.classes
                }:
                    raise ReportError(
                        f"report: class {klass!r} is not in scheme {self.scheme.name} "
                        f"({', '.join(c.code for c in self.scheme.classes)})"
                    )
                mask &= self.classes["class_final"] == klass
            reg = self.registry.reindex(self.classes.index)
            if division:
                mask &= reg["division_code"].fillna("").str.startswith(division).to_numpy()
            if industry:
                mask &= reg["industry_code"].fillna("").str.startswith(industry).to_numpy()
            chosen = self.classes.index[mask.to_numpy()].sort_values()
            if sample is not None and sample < len(chosen):
                rng = np.random.default_rng(seed)
                chosen = chosen[np.sort(rng.choice(len(chosen), size=sample, replace=False))]
        if limit is not None:
            chosen = chosen[:limit]
        return list(chosen)

    # --- data ----------------------------------------------------------------------------------
    def feature_rows(self, usccs: Sequence[str]) -> pa.Table:
        if not self.features_path.is_file():
            raise ReportError(f"report: no feature file {self.features_path}")
        if self.cache_features:
            if self._table is None:  # built whole before it is published (threads)
                table = pq.read_table(self.features_path)
                self._row_of = {u: i for i, u in enumerate(table.column("uscc").to_pylist())}
                self._table = table
            return self._table.take(pa.array([self._row_of[u] for u in usccs], pa.int64()))
        t = pq.read_table(self.features_path, filters=[("uscc", "in", list(usccs))])
        order = pc.index_in(pa.array(list(usccs)), t.column("uscc"))
        return t.take(order)

    def typical(self, f: Feature, industry2: str) -> float | None:
        """The industry's typical value of a feature among the enterprises classified this
        month: the share of 1s for a flag, else the median; None when no member has a value.
        Computed for every industry division at once, the first time a feature is asked for
        (one column read, one group-by), and kept as one number per industry: a service
        answering reports for hours holds a few numbers per feature, not the column."""
        if f.name not in self._peer_done:
            t = pq.read_table(self.features_path, columns=["uscc", f.name])
            column = pd.Series(t.column(f.name).to_numpy(zero_copy_only=False),
                               index=t.column("uscc").to_pandas())  # fmt: skip
            if self._peer_industry is None:  # the classified enterprises' industry divisions
                scored = self.classes.index[self.classes["score"].notna().to_numpy()]
                code = self.registry["industry_code"].reindex(scored).str[:2]
                self._peer_industry = code[code.notna().to_numpy()]  # not in the registry: out
            industry = self._peer_industry
            vals = pd.to_numeric(column.reindex(industry.index), errors="coerce")
            has = vals.notna().to_numpy()
            vals, industry = vals[has], industry[has]
            by = (vals == 1).groupby(industry.to_numpy()).mean() if f.kind == "flag" \
                else vals.groupby(industry.to_numpy()).median()  # fmt: skip
            for code, value in by.items():
                self._peer_medians[(f.name, str(code))] = float(value)
            self._peer_done.add(f.name)
        return self._peer_medians.get((f.name, industry2))

    def history(self, usccs: Sequence[str]) -> dict[str, dict[str, str]]:
        """uscc -> {month: class} over the last ``history_months`` months present."""
        months = [self.month]
        while len(months) < self.rcfg.history_months:
            months.append(previous_month(months[-1]))
        out: dict[str, dict[str, str]] = {u: {} for u in usccs}
        for m in months:
            p = self.outputs / m / "classes.parquet"
            if not p.is_file():
                continue
            if self.cache_features:  # a service: each month's classes read once, then looked up
                if m not in self._history:
                    t = pq.read_table(p, columns=["uscc", "class_final"])
                    self._history[m] = pd.Series(
                        t.column("class_final").to_pandas().astype("category").to_numpy(),
                        index=pd.Index(t.column("uscc").to_pylist(), dtype=object),
                    )
                known = self._history[m]
                for u in usccs:
                    if u in known.index:
                        c = known[u]
                        out[u][m] = None if pd.isna(c) else str(c)  # type: ignore[assignment]
                continue
            t = pq.read_table(
                p, columns=["uscc", "class_final"], filters=[("uscc", "in", list(usccs))]
            )
            for u, c in zip(
                t.column("uscc").to_pylist(), t.column("class_final").to_pylist(), strict=True
            ):
                out[u][m] = c
        return out


def _scorer(bundle: Bundle, flags: dict[str, float]) -> Any:
    """Margin -> score for one enterprise (its sector's calibrator under boost/replace)."""
    cal = bundle.calibrator
    for _n, flag, _b, c in bundle.sectors:
        if bundle.sector_rule != "average" and flags.get(flag) == 1:
            cal = c
    return lambda m: float(calibration.to_score(cal(gbm.sigmoid(np.array([m]))), bundle.scale)[0])


@dataclass(frozen=True)
class _Peers:
    index: pd.Index  # the enterprises of the group that were classified
    scores: np.ndarray  # their scores, sorted
    shares: list[tuple[str, str]]  # class -> share of the group


def _peers(ctx: Month, key: str, value: str) -> _Peers:
    """Enterprises of the same industry division (2 digits) or county, classified this
    month. Every group of ``key`` is built at once, the first time one is asked for (one
    pass over the month), and cached."""
    cache = ctx._peer_groups
    if (key, "") not in cache:
        reg = ctx.registry
        code = reg[key].str[:2] if key == "industry_code" else reg[key]
        scored = ctx.classes[ctx.classes["score"].notna().to_numpy()]
        group = code.reindex(scored.index)  # not in the registry: no group
        frame = pd.DataFrame({"group": group.to_numpy(), "score": scored["score"].to_numpy(),
                              "cls": scored["class_final"].to_numpy()}, index=scored.index)  # fmt: skip
        frame = frame[frame["group"].notna().to_numpy()]
        for g, part in frame.groupby("group", sort=False):
            counts = part["cls"].value_counts()
            shares = [(c, f"{counts.get(c, 0) / len(part):.1%}") for c in class_order(ctx.scheme)]
            cache[(key, str(g))] = _Peers(part.index, np.sort(part["score"].to_numpy()), shares)
        cache[(key, "")] = _Peers(pd.Index([]), np.array([]),
                                  [(c, f"{0:.1%}") for c in class_order(ctx.scheme)])  # fmt: skip
    return cache.get((key, value), cache[(key, "")])


def _peer_block(ctx: Month, u: str, key: str, value: str, lang: Lang, label: str) -> dict[str, Any]:
    t = TEXT[lang]
    peers = _peers(ctx, key, value)
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


def build(ctx: Month, usccs: Sequence[str], lang: Lang) -> list[dict[str, Any]]:
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
    out = []
    for i, u in enumerate(usccs):
        stored = ctx.classes.loc[u]
        kept = [stored.get(f"risk_{k}_feature") for k in range(1, ctx.top_k + 1)]
        kept = [k if isinstance(k, str) else None for k in kept]
        if abs(float(stored["margin"]) - contrib[i].sum()) > 1e-6 or kept != list(names[idx[i]]):
            raise ReportError(
                f"report: the explanation of {u} differs from the one classify stored for "
                f"{ctx.month} (model version {bundle.version}): rerun classify for that month"
            )
        named = [int(j) for j, v in zip(idx[i], val[i], strict=True)
                 if j >= 0 and v >= ctx.rcfg.min_contribution]  # fmt: skip
        own_flags = {f: float(v[i]) for f, v in flags.items()}
        out.append(_report(ctx, u, records[i], contrib[i], named, own_flags, history[u], lang,
                           explainer.exact))  # fmt: skip
    return out


def _report(
    ctx: Month,
    u: str,
    row: dict[str, Any],
    c: np.ndarray,
    named: list[int],
    flags: dict[str, float],
    history: dict[str, str],
    lang: Lang,
    exact: bool,
) -> dict[str, Any]:
    t = TEXT[lang]
    features = ctx.bundle.design.features
    body = c[:-1]
    order = np.argsort(body, kind="stable")  # the most negative first
    cls = ctx.classes.loc[u]
    path = _score_path(ctx, c, named, flags, lang, None if exact else float(cls["score"]))
    points, advice = [], []
    for j, delta in zip(named, path.deltas, strict=False):
        f = BY_NAME[features[j]]
        points.append({
            "sentence": sentence(f, row, ctx.names, lang),
            "group": GROUPS[f.group][0 if lang == "zh" else 1],
            "points": t["raises"].format(points=f"{max(delta, 0):.0f}"),
        })  # fmt: skip
        tip = f.advice_zh if lang == "zh" else f.advice_en
        if f.actionable and tip and tip not in advice and is_fact(f, row.get(f.name)):
            advice.append(tip)
    favourable = [
        sentence(BY_NAME[features[j]], row, ctx.names, lang)
        for j in order[: ctx.rcfg.favourable]
        if body[j] <= -ctx.rcfg.min_contribution
    ]
    reg = ctx.registry.loc[u] if u in ctx.registry.index else None
    industry2 = str(reg["industry_code"])[:2] if reg is not None else ""
    division = str(reg["division_code"]) if reg is not None else ""
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
        "class_label": _class_label(ctx.scheme, final, lang),
        "class_colour": colours.get(final, "#555"),
        "measures": list((cdef.measures_zh if lang == "zh" else cdef.measures_en) if cdef else ()),
        "override": _override(ctx, cls, lang),
        "score": f"{float(cls['score']):.0f}",
        "probability": f"{float(cls['probability']):.1%}",
        "points": points,
        "advice": advice,
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


@dataclass(frozen=True)
class _Path:
    start: float
    deltas: list[float]  # one per named risk point
    all_deltas: list[float]  # the named points, then the other factors up, then down
    end: float
    svg: str
    bands: bool  # class bands drawn behind


def _score_path(
    ctx: Month,
    c: np.ndarray,
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
    moves = [(f.zh if lang == "zh" else f.en, float(body[j]))
             for j in named for f in [BY_NAME[features[j]]]]  # fmt: skip
    moves += [(t[key].format(n=len(js)), float(body[js].sum()))
              for js, key in ((up, "other_up"), (down, "other_down")) if js]  # fmt: skip
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


def _groups_chart(ctx: Month, cls: pd.Series, lang: Lang) -> str:
    """How much each of the five information groups pushes the risk (classify's sums)."""
    t = TEXT[lang]
    sums = {g: float(cls[f"shap_{g}"]) for g in GROUPS}
    flat = max(ctx.rcfg.min_contribution, 0.05 * (max(abs(v) for v in sums.values()) or 1.0))
    items = [(GROUPS[g][0 if lang == "zh" else 1], v, t[_effect(v, flat)]) for g, v in sums.items()]
    return charts.diverging(items, t["groups"])


def _peer_sections(
    ctx: Month, u: str, row: dict[str, Any], named: list[int], industry2: str, division: str,
    lang: Lang,
) -> dict[str, Any]:  # fmt: skip
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
        f = BY_NAME[ctx.bundle.design.features[j]]
        if f.kind not in ("number", "flag"):
            continue
        typical = ctx.typical(f, industry2)
        if typical is None:
            continue
        shown = (t["share_yes"].format(share=f"{typical:.0%}") if f.kind == "flag"
                 else t["median"].format(v=display(f, typical, ctx.names, lang)))  # fmt: skip
        own = display(f, row.get(f.name), ctx.names, lang) or t["missing"]
        table.append((f.zh if lang == "zh" else f.en, own, shown))
    return {"peers": blocks, "peer_features": table}


def _history_chart(ctx: Month, history: dict[str, str], colours: dict[str, str], lang: Lang) -> str:
    first = ctx.month
    for _ in range(ctx.rcfg.history_months - 1):
        first = previous_month(first)
    cells = [(m[2:], history.get(m), colours.get(history.get(m) or "", "#9e9e9e"))
             for m in months_between(first, ctx.month)]  # fmt: skip
    return charts.history(cells, TEXT[lang]["history"])


def _override(ctx: Month, cls: pd.Series, lang: Lang) -> str | None:
    """Why a rule, not the score, set the class (and what the score alone gives)."""
    rule = cls.get("override_rule")
    rules = {r.name: r for r in ctx.scheme.overrides}
    if not isinstance(rule, str) or rule not in rules:
        return None
    final, model = str(cls["class_final"]), str(cls["class_model"])
    r = rules[rule]
    return TEXT[lang]["override" if final != model else "override_same"].format(
        rule=r.zh if lang == "zh" else r.en,
        final=_class_label(ctx.scheme, final, lang), model=_class_label(ctx.scheme, model, lang),
    )  # fmt: skip


def _effect(v: float, flat: float) -> str:
    """How a group's push (log-odds) reads: within ``flat`` of zero it has little effect;
    half a unit of log-odds (a 1.65x change in the odds) or more is "clearly"."""
    if abs(v) < flat:
        return "flat"
    strong = abs(v) >= 0.5
    if v > 0:
        return "strong_up" if strong else "up"
    return "strong_down" if strong else "down"


def _class_label(scheme: ClassScheme, code: str, lang: Lang) -> str:
    d = {c.code: c for c in scheme.classes}.get(code)
    if d is None:
        return code
    return f"{code}类（{d.zh}）" if lang == "zh" else f"class {code} ({d.en})"


def _vocab(vocabulary: str, code: Any, lang: Lang) -> str:
    if code is None or (isinstance(code, float) and math.isnan(code)):
        return ""
    labels = VOCABULARIES[vocabulary].get(str(code))
    return (labels[0] if lang == "zh" else labels[1]) if labels else str(code)


def environment() -> Environment:
    return Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html", "j2"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render(ctx: Month, report: dict[str, Any], lang: Lang, env: Environment | None = None) -> str:
    env = env or environment()
    t = TEXT[lang]
    return env.get_template("report.html.j2").render(
        r=report, t=t, month=ctx.month, model=ctx.bundle.name, version=ctx.bundle.version,
        scheme=ctx.scheme.zh if lang == "zh" else ctx.scheme.en,
        score_note=t["score_note"].format(scale=ctx.bundle.scale),
        footer=t["footer"].format(month=ctx.month, model=ctx.bundle.name, version=ctx.bundle.version),
    )  # fmt: skip


def chromium() -> str:
    """The Chromium binary (``RISKCLASS_CHROMIUM`` or the first on PATH)."""
    for name in (os.environ.get("RISKCLASS_CHROMIUM"), "chromium", "chromium-browser",
                 "google-chrome", "google-chrome-stable"):  # fmt: skip
        if name and shutil.which(name):
            return str(shutil.which(name))
    raise ReportError(
        "report: --format pdf needs Chromium (Debian: apt-get install chromium "
        "fonts-wqy-microhei; or set RISKCLASS_CHROMIUM); --format html needs nothing"
    )


#: Flags that keep headless Chromium off the network and out of the user's profile.
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--disable-extensions", "--hide-scrollbars")  # fmt: skip


def to_pdf(html_path: Path, pdf_path: Path, timeout: float = 60) -> None:
    """Print an HTML report to A4 PDF with headless Chromium (the page's own @page rules)."""
    with tempfile.TemporaryDirectory() as profile:
        cmd = [chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={profile}",
               "--no-pdf-header-footer", f"--print-to-pdf={pdf_path}",
               html_path.resolve().as_uri()]  # fmt: skip
        done = subprocess.run(cmd, capture_output=True, timeout=timeout, check=False)
    if done.returncode != 0 or not pdf_path.is_file():
        raise ReportError(
            f"report: Chromium could not print {html_path} to PDF (exit {done.returncode}): "
            f"{done.stderr.decode(errors='replace')[-300:]}"
        )


@dataclass
class ReportRun:
    paths: list[Path]
    index: Path | None


def write_reports(
    ctx: Month,
    usccs: Sequence[str],
    lang: Lang = "zh",
    fmt: Literal["html", "pdf"] = "html",
    out_dir: Path | None = None,
    chunk: int = 500,
    on_progress: Callable[[int], None] | None = None,
) -> ReportRun:
    """Write one file per enterprise (``<USCC>.html``, ``<USCC>.en.html``, or ``.pdf``) and,
    for more than one, an ``index.html`` listing them. Writes are atomic."""
    folder = Path(out_dir) if out_dir else ctx.outputs / ctx.month / "reports"
    folder.mkdir(parents=True, exist_ok=True)
    env = environment()
    suffix = "" if lang == "zh" else ".en"
    paths: list[Path] = []
    listed: list[dict[str, Any]] = []
    for start in range(0, len(usccs), chunk):
        for report in build(ctx, usccs[start : start + chunk], lang):
            page = folder / f"{report['uscc']}{suffix}.html"
            _atomic_write(page, render(ctx, report, lang, env))
            if fmt == "pdf":
                pdf = page.with_suffix(".pdf")
                to_pdf(page, pdf)
                page.unlink()
                page = pdf
            paths.append(page)
            listed.append({"uscc": report["uscc"], "name": report["name"],
                           "class_label": report["class_label"], "colour": report["class_colour"],
                           "score": report["score"], "division": report["division"],
                           "industry": report["industry"], "file": page.name})  # fmt: skip
            if on_progress is not None:
                on_progress(1)
    index = None
    if len(paths) > 1:
        index = folder / f"index{suffix}.html"
        t = TEXT[lang]
        _atomic_write(index, env.get_template("index.html.j2").render(
            t=t, month=ctx.month, rows=listed, model=ctx.bundle.name, version=ctx.bundle.version))  # fmt: skip
    return ReportRun(paths, index)


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
