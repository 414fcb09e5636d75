"""Features derived from the bureau's own columns: its generic indicators and pass-through columns.

A bureau's data rarely fits the contract alone. What does not fit arrives in two forms
(issue 17, `docs/bring-your-own-data.md`):

* the generic long table ``indicators`` (enterprise, indicator code, numeric value and/or
  text value, date), for example tax paid by tax category, news sentiment, yearly counts of
  judgments, trademarks and patents;
* pass-through columns ``x_<name>`` that a source mapping keeps on a contract table (the
  website flag of an annual report, the employees of a tax record ...).

This module turns each of them into point-in-time features, with no domain knowledge and no
code change. `discover` looks at what was delivered and returns `Source` entries (the
*derived spec*: which indicator codes and columns, of what kind, with which frequent
categories); `derive` turns the spec into `Feature` entries of the catalog and the `Block`
SQL that computes them, for every enterprise at a month end:

* numbers: the latest value; over each configured window (months): record count, sum, mean,
  minimum, maximum; days since the latest record;
* flags (a boolean column, or a text value that is only yes/no words): the latest value, the
  record count and the share of records with the flag set, per window; days since the latest;
* categories (text with few distinct values): record count, distinct values, and the count of
  each frequent category per window; the latest value itself (a categorical feature);
* a pass-through column of the registry (no dates): its value.

Names follow the source: ``ind_<code>_<stat>_<window>`` for an indicator code,
``x_<table>_<column>_<stat>_<window>`` for a pass-through column; a code or category that is
not plain ASCII gets a short stable hash instead (its original text is the feature's Chinese
name, so the catalog and the reports still show it). Directions are left to the model
(``direction = 0``) unless ``derived.directions`` in ``configs/features.yaml`` names one.

Missing stays missing: counts are true zeros for an enterprise without any record (the table
was delivered), every other statistic is NULL; when the table was not delivered at all
every derived feature is NULL (`features.engine.feature_select`).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import duckdb

from contract.tables import GROUPS, TABLES, Group
from features.catalog import Feature
from features.config import DerivedConfig
from features.engine import Block, Window

SourceKind = Literal["number", "flag", "category"]

#: Text values read as a flag (yes = 1, no = 0); anything else makes the text a category.
YES = ("是", "有", "y", "yes", "true", "1", "t")
NO = ("否", "无", "n", "no", "false", "0", "f")

#: Registry identifiers the intake keeps as pass-through columns: keys, never features.
IDENTIFIER_COLUMNS = frozenset({"x_org_code", "x_taxpayer_no"})

_SLUG = re.compile(r"[^a-z0-9]+")


@dataclass(frozen=True)
class Source:
    """One delivered column beyond the contract, as features read it.

    ``table`` is ``indicators`` (then ``column`` is the indicator code) or the contract table
    holding the pass-through column ``column``; ``categories`` are the frequent text values
    that get their own counts; ``group`` is the information group its features belong to.
    """

    table: str
    column: str
    kind: SourceKind
    group: Group
    label: str
    categories: tuple[str, ...] = ()
    text: bool = False  # an indicator whose text values (value_text) are read, not its numbers
    direction: Literal[-1, 0, 1] = 0

    @property
    def key(self) -> str:
        """How configuration names it: ``indicators:<code>`` or ``<table>.<column>``."""
        return (
            f"indicators:{self.column}"
            if self.table == "indicators"
            else f"{self.table}.{self.column}"
        )

    @property
    def prefix(self) -> str:
        """The feature-name prefix: ``ind_<code>`` or ``x_<table>_<column>``."""
        if self.table == "indicators":
            return f"ind_{slug(self.column)}{'_text' if self.text else ''}"
        return f"x_{self.table}_{slug(self.column.removeprefix('x_'))}"


@dataclass(frozen=True)
class DerivedSpec:
    """The sources the derived features come from, and the windows; stored in every
    feature file's metadata (``riskclass.derived``) and in the model bundle."""

    sources: tuple[Source, ...] = ()
    windows: tuple[int, ...] = ()
    skipped: tuple[tuple[str, str], ...] = field(default=())  # (source key, why not used)

    def __bool__(self) -> bool:
        return bool(self.sources)

    def to_json(self) -> str:
        return json.dumps(
            {
                "sources": [asdict(s) for s in self.sources],
                "windows": list(self.windows),
                "skipped": [list(s) for s in self.skipped],
            },
            ensure_ascii=False,
            sort_keys=True,
        )

    @classmethod
    def from_json(cls, text: str | bytes | None) -> DerivedSpec:
        if not text:
            return cls()
        data: dict[str, Any] = json.loads(text)
        return cls(
            tuple(
                Source(**{**s, "categories": tuple(s.get("categories", ()))})
                for s in data.get("sources", [])
            ),
            tuple(int(w) for w in data.get("windows", [])),
            tuple((str(k), str(v)) for k, v in data.get("skipped", [])),
        )


def slug(text: str) -> str:
    """A name part for ``text``: the text itself when it is already lower_snake_case ASCII,
    else its ASCII part with a short stable hash (so "VAT" and "vat", or "Tax Paid" and
    "tax-paid", never give the same feature name).

    >>> slug("tax_paid"), slug("Tax Paid"), slug("增值税"), slug("VAT-增值税")
    ('tax_paid', 'tax_paid_ce79ffd', 'c082d3a', 'vat_c7b19a6')
    """
    ascii_part = _SLUG.sub("_", text.lower()).strip("_")
    if ascii_part == text and ascii_part[:1].isalpha():
        return ascii_part
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()[:6]
    return f"{ascii_part}_c{digest}" if ascii_part[:1].isalpha() else f"c{digest}"


def _lit(text: str) -> str:
    """A SQL string literal (quotes doubled)."""
    return "'" + text.replace("'", "''") + "'"


# ------------------------------------------------------------------ discovery
def _flag_words(values: Iterable[str]) -> bool:
    words = {v.strip().lower() for v in values}
    return bool(words) and words <= set(YES) | set(NO)


def _categories(
    counts: Sequence[tuple[str, int]], total: int, cfg: DerivedConfig
) -> tuple[str, ...]:
    """The frequent values (at least ``min_category_share`` of the records), most frequent
    first, at most ``max_categories``; ties by value."""
    ranked = sorted(counts, key=lambda kv: (-kv[1], kv[0]))
    return tuple(v for v, n in ranked[: cfg.max_categories] if n >= cfg.min_category_share * total)


def _group_of(declared: str | None, table: str) -> Group:
    if declared in GROUPS:
        return declared  # type: ignore[return-value]
    return TABLES[table].group


def discover(
    con: duckdb.DuckDBPyConnection, tables: Iterable[str], w: Window, cfg: DerivedConfig
) -> DerivedSpec:
    """What the delivered data offers beyond the contract, from the records received by the
    end of ``w`` (later records never decide which features exist).

    Reads the relations ``raw_<table>`` (`pipelines.features.register_sources`). An indicator
    or column seen for fewer than ``min_enterprises`` enterprises, free text with too many
    distinct values, and identifiers are skipped, each with its reason in
    `DerivedSpec.skipped`.
    """
    present = set(tables)
    sources: list[Source] = []
    skipped: list[tuple[str, str]] = []
    excluded = set(cfg.exclude)

    def keep(s: Source) -> None:
        if s.key in excluded:
            skipped.append((s.key, "excluded in configs/features.yaml (derived.exclude)"))
            return
        direction = cfg.directions.get(s.key, 0)
        sources.append(
            Source(**{**asdict(s), "direction": direction if s.kind != "category" else 0})
        )

    if "indicators" in present:
        cut = f"received_date <= {w.end} AND indicator_date <= {w.end}"
        rows = con.execute(
            f"""SELECT indicator, min("group") AS grp,
                      COUNT(DISTINCT CASE WHEN value IS NOT NULL THEN uscc END) AS firms_value,
                      COUNT(DISTINCT CASE WHEN value_text IS NOT NULL THEN uscc END) AS firms_text,
                      COUNT(value_text) AS n_text,
                      COUNT(DISTINCT value_text) AS distinct_text
               FROM raw_indicators WHERE {cut} GROUP BY indicator ORDER BY indicator"""
        ).fetchall()
        for code, grp, firms_value, firms_text, n_text, distinct_text in rows:
            code = str(code)
            group = _group_of(grp, "indicators")
            if firms_value >= cfg.min_enterprises:
                keep(Source("indicators", code, "number", group, code))
            if firms_text < cfg.min_enterprises:
                if firms_value < cfg.min_enterprises:
                    seen = max(firms_value, firms_text)
                    why = f"seen for {seen} enterprises, fewer than {cfg.min_enterprises}"
                    skipped.append((f"indicators:{code}", why))
                continue
            counts = con.execute(
                f"SELECT value_text, COUNT(*) FROM raw_indicators WHERE {cut} AND indicator = ? "
                "AND value_text IS NOT NULL GROUP BY 1",
                [code],
            ).fetchall()
            values = [(str(v), int(n)) for v, n in counts]
            if _flag_words(v for v, _ in values):
                keep(Source("indicators", code, "flag", group, code, text=True))
            elif distinct_text <= cfg.max_distinct_for_category:
                keep(
                    Source(
                        "indicators",
                        code,
                        "category",
                        group,
                        code,
                        categories=_categories(values, n_text, cfg),
                        text=True,
                    )
                )
            else:
                skipped.append(
                    (f"indicators:{code}", f"free text: {distinct_text} distinct values")
                )
    for table in sorted(present - {"indicators"}):
        spec = TABLES[table]
        schema = con.execute(f"DESCRIBE raw_{table}").fetchall()
        for name, sql_type, *_ in schema:
            name = str(name)
            if not name.startswith("x_") or name in IDENTIFIER_COLUMNS:
                continue
            key = f"{table}.{name}"
            where = (
                f"WHERE received_date <= {w.end} AND {spec.event_date} <= {w.end}"
                if spec.event_date is not None
                else ""
            )
            firms, distinct = con.execute(
                f"SELECT COUNT(DISTINCT CASE WHEN {name} IS NOT NULL THEN uscc END), "
                f"COUNT(DISTINCT {name}) FROM raw_{table} {where}"
            ).fetchone() or (0, 0)
            if firms < cfg.min_enterprises:
                skipped.append(
                    (key, f"seen for {firms} enterprises, fewer than {cfg.min_enterprises}")
                )
                continue
            label = name.removeprefix("x_")
            t = str(sql_type).upper()
            if t == "BOOLEAN":
                keep(Source(table, name, "flag", spec.group, label))
            elif any(k in t for k in ("INT", "DOUBLE", "FLOAT", "DECIMAL", "REAL")):
                keep(Source(table, name, "number", spec.group, label))
            elif t == "VARCHAR":
                counts = con.execute(
                    f"SELECT {name}, COUNT(*) FROM raw_{table} {where} "
                    f"{'AND' if where else 'WHERE'} {name} IS NOT NULL GROUP BY 1"
                ).fetchall()
                values = [(str(v), int(n)) for v, n in counts]
                if _flag_words(v for v, _ in values):
                    keep(Source(table, name, "flag", spec.group, label, text=True))
                elif distinct <= cfg.max_distinct_for_category:
                    total = sum(n for _, n in values)
                    keep(
                        Source(
                            table,
                            name,
                            "category",
                            spec.group,
                            label,
                            categories=_categories(values, total, cfg),
                            text=True,
                        )
                    )
                else:
                    skipped.append((key, f"free text: {distinct} distinct values"))
            else:
                skipped.append((key, f"type {t} gives no features"))
    if len(sources) > cfg.max_sources:
        for s in sources[cfg.max_sources :]:
            skipped.append((s.key, f"beyond max_sources ({cfg.max_sources})"))
        sources = sources[: cfg.max_sources]
    return DerivedSpec(tuple(sources), tuple(cfg.windows), tuple(skipped))


# ------------------------------------------------------------------ features and blocks
@dataclass(frozen=True)
class _Stat:
    suffix: str
    zh: str
    en: str
    unit: str
    kind: Literal["number", "flag", "category"] = "number"
    fill: Literal["zero", "missing"] = "missing"
    directed: bool = False  # the source's configured direction applies


def _value_expr(s: Source) -> str:
    """The record's value as the statistics read it (a flag is 1/0, NULL when neither)."""
    col = ("value_text" if s.text else "value") if s.table == "indicators" else s.column
    if s.kind != "flag":
        return col
    if not s.text:
        return f"CASE WHEN {col} THEN 1.0 WHEN NOT {col} THEN 0.0 END"
    yes = ", ".join(_lit(v) for v in YES)
    no = ", ".join(_lit(v) for v in NO)
    low = f"lower(trim({col}))"
    return f"CASE WHEN {low} IN ({yes}) THEN 1.0 WHEN {low} IN ({no}) THEN 0.0 END"


def _date_col(table: str) -> str | None:
    return TABLES[table].event_date


def _alias(table: str, last: bool) -> str:
    return f"dv_{table}{'_last' if last else ''}"


def _features_of(i: int, s: Source, windows: Sequence[int]) -> list[tuple[_Stat, str, int | None]]:
    """(stat, SQL column of the block, window) for every feature of source number ``i``."""
    out: list[tuple[_Stat, str, int | None]] = []
    if _date_col(s.table) is None:  # the registry: one value per enterprise
        kind: SourceKind = s.kind
        out.append(
            (
                _Stat(
                    "",
                    "",
                    "",
                    {"number": "value", "flag": "flag", "category": "code"}[kind],
                    kind,
                    directed=kind != "category",
                ),
                f"s{i}_v",
                None,
            )
        )
        return out
    last_kind: SourceKind = "category" if s.kind == "category" else "number"
    unit = {"number": "value", "flag": "flag", "category": "code"}[s.kind]
    out.append(
        (
            _Stat(
                "last",
                "最近一次的值",
                "latest value",
                unit,
                last_kind,
                directed=s.kind != "category",
            ),
            f"s{i}_last",
            None,
        )
    )
    out.append(
        (
            _Stat("days_since", "距最近一次记录的天数", "days since the latest record", "days"),
            f"s{i}_days",
            None,
        )
    )
    for wm in windows:
        out.append(
            (
                _Stat(
                    f"n_{wm}m", f"近{wm}个月记录数", f"records in {wm} months", "count", fill="zero"
                ),
                f"s{i}_n_{wm}",
                wm,
            )
        )
        if s.kind == "number":
            for st, zh, en in (
                ("sum", "合计", "sum"),
                ("mean", "平均", "mean"),
                ("min", "最小值", "minimum"),
                ("max", "最大值", "maximum"),
            ):
                out.append(
                    (
                        _Stat(
                            f"{st}_{wm}m",
                            f"近{wm}个月{zh}",
                            f"{en} over {wm} months",
                            "value",
                            directed=True,
                        ),
                        f"s{i}_{st}_{wm}",
                        wm,
                    )
                )
        elif s.kind == "flag":
            out.append(
                (
                    _Stat(
                        f"share_{wm}m",
                        f"近{wm}个月为“是”的记录占比",
                        f"share of records flagged in {wm} months",
                        "share",
                        directed=True,
                    ),
                    f"s{i}_share_{wm}",
                    wm,
                )
            )
        else:
            out.append(
                (
                    _Stat(
                        f"distinct_{wm}m",
                        f"近{wm}个月不同取值数",
                        f"distinct values in {wm} months",
                        "count",
                        fill="zero",
                    ),
                    f"s{i}_distinct_{wm}",
                    wm,
                )
            )
            for j, c in enumerate(s.categories):
                out.append(
                    (
                        _Stat(
                            f"{slug(c)}_n_{wm}m",
                            f"近{wm}个月“{c}”记录数",
                            f"records '{c}' in {wm} months",
                            "count",
                            fill="zero",
                        ),
                        f"s{i}_c{j}_n_{wm}",
                        wm,
                    )
                )
    return out


def _stat_sql(i: int, s: Source, w: Window, windows: Sequence[int]) -> list[str]:
    """The aggregate columns of the stats block for source ``i`` (over ``pit_<table>``)."""
    date = _date_col(s.table)
    assert date is not None
    match = f"indicator = {_lit(s.column)} AND " if s.table == "indicators" else ""
    value = _value_expr(s)
    has = f"{value} IS NOT NULL"
    cols = [f"MAX(CASE WHEN {match}{has} THEN {date} END) AS s{i}_latest"]
    for wm in windows:
        inw = f"{match}{date} > {w.ago(wm)}"
        cols.append(f"COUNT(CASE WHEN {inw} AND {has} THEN 1 END) AS s{i}_n_{wm}")
        if s.kind == "number":
            for st, fn in (("sum", "SUM"), ("mean", "AVG"), ("min", "MIN"), ("max", "MAX")):
                cols.append(f"{fn}(CASE WHEN {inw} THEN {value} END) AS s{i}_{st}_{wm}")
        elif s.kind == "flag":
            cols.append(f"AVG(CASE WHEN {inw} THEN {value} END) AS s{i}_share_{wm}")
        else:
            cols.append(f"COUNT(DISTINCT CASE WHEN {inw} THEN {value} END) AS s{i}_distinct_{wm}")
            for j, c in enumerate(s.categories):
                cols.append(
                    f"COUNT(CASE WHEN {inw} AND {value} = {_lit(c)} THEN 1 END) AS s{i}_c{j}_n_{wm}"
                )
    return cols


def _blocks_for(table: str, items: list[tuple[int, Source]], windows: Sequence[int]) -> list[Block]:
    date = _date_col(table)
    if date is None:

        def registry(w: Window, items: list[tuple[int, Source]] = items) -> str:
            cols = ", ".join(f"{_value_expr(s)} AS s{i}_v" for i, s in items)
            return f"SELECT uscc, {cols} FROM raw_{table}"

        return [Block(_alias(table, False), (table,), registry)]

    def stats(w: Window, items: list[tuple[int, Source]] = items) -> str:
        cols = [c for i, s in items for c in _stat_sql(i, s, w, windows)]
        return f"SELECT uscc, {', '.join(cols)} FROM pit_{table} GROUP BY uscc"

    def last(w: Window, items: list[tuple[int, Source]] = items) -> str:
        partition = "uscc, indicator" if table == "indicators" else "uscc"
        pieces = []
        for i, s in items:
            match = f"indicator = {_lit(s.column)} AND " if table == "indicators" else ""
            value = _value_expr(s)
            # the record key after the dates: an export that stamps every annual report with
            # one date still gives the latest report year, never the largest value
            keys = [c for c in TABLES[table].natural_key if c not in ("uscc", date, "value")]
            order = ", ".join(
                [
                    f"{date} DESC",
                    "received_date DESC",
                    *(f"{k} DESC" for k in keys),
                    f"{value} DESC",
                ]
            )
            num = "CAST(NULL AS DOUBLE)" if s.kind == "category" else f"CAST({value} AS DOUBLE)"
            txt = f"CAST({value} AS VARCHAR)" if s.kind == "category" else "CAST(NULL AS VARCHAR)"
            pieces.append(
                f"SELECT uscc, {i} AS src, vn, vt FROM ("
                f"SELECT uscc, {num} AS vn, {txt} AS vt, ROW_NUMBER() OVER (PARTITION BY "
                f"{partition} ORDER BY {order}) AS rn FROM pit_{table} "
                f"WHERE {match}{value} IS NOT NULL) r WHERE rn = 1"
            )
        cols = ", ".join(
            f"MAX(CASE WHEN src = {i} THEN {'vt' if s.kind == 'category' else 'vn'} END) AS s{i}_last"
            for i, s in items
        )
        union = "\nUNION ALL\n".join(pieces)
        return f"SELECT uscc, {cols} FROM ({union}) u GROUP BY uscc"

    return [
        Block(_alias(table, False), (table,), stats),
        Block(_alias(table, True), (table,), last),
    ]


def derive(spec: DerivedSpec) -> tuple[tuple[Feature, ...], tuple[Block, ...]]:
    """The catalog entries and blocks of ``spec``'s sources (empty for an empty spec)."""
    features: list[Feature] = []
    by_table: dict[str, list[tuple[int, Source]]] = {}
    for i, s in enumerate(spec.sources):
        by_table.setdefault(s.table, []).append((i, s))
        origin = (
            f"指标“{s.label}”(indicators)"
            if s.table == "indicators"
            else f"{TABLES[s.table].zh}的“{s.label}”列"
        )
        origin_en = (
            f"indicator '{s.label}' (indicators)"
            if s.table == "indicators"
            else f"column '{s.label}' of {s.table}"
        )
        for stat, col, _wm in _features_of(i, s, spec.windows):
            name = s.prefix + (f"_{stat.suffix}" if stat.suffix else "")
            alias = _alias(s.table, stat.suffix == "last")
            if col.endswith("_days"):
                sql = f"days_between({_alias(s.table, False)}.s{i}_latest, {{w.end}})"
            else:
                sql = f"{alias}.{col}"
            zh = f"{s.label}·{stat.zh}" if stat.zh else s.label
            en = f"{s.label}: {stat.en}" if stat.en else s.label
            features.append(
                Feature(
                    name,
                    s.group,
                    zh,
                    en,
                    f"由{origin}自动派生：{stat.zh or '取值'}（方向由模型学习，除非配置）",
                    f"derived from {origin_en}: {stat.en or 'value'} (direction learnt by the model unless configured)",
                    stat.unit,
                    sql,
                    (s.table,),
                    kind=stat.kind,
                    direction=s.direction if stat.directed and stat.kind != "category" else 0,
                    template_zh=f"{zh}为{{value}}",
                    template_en=f"{en} is {{value}}",
                    fill=stat.fill,
                )
            )
    blocks = [
        b for table, items in by_table.items() for b in _blocks_for(table, items, spec.windows)
    ]
    return tuple(features), tuple(blocks)
