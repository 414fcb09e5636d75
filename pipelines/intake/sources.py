"""Source mappings: how one department's export becomes a contract table, by configuration.

A bureau receives the same table from several departments, each exporting it its own way:
other headers, code words instead of codes, fines in 元 in one file and 万元 in the next, a
penalty kind and its amount written in one sentence. A source mapping
(``configs/sources/<source>.yaml``, schema `SourceMapping`) says, for one department's files:

* ``files``: which files of a delivery it reads (glob patterns, matched on the file name);
* ``table``: the contract table they feed;
* ``columns``: for each contract column, the header(s) it comes from (or a constant
  ``value``), and how its text becomes the contract's value: ``map`` (code words),
  ``keywords`` (regular expressions over free text, first match wins), ``split`` and
  ``choose`` (several values in one cell), ``extract`` (a value inside a sentence),
  ``unit`` (元 / 万元 / 亿元 for a bare number), ``period`` (a cell naming only a year or a
  month becomes its first or last day), ``default`` (when the cell is blank);
* ``unpivot``: a wide export (one row per firm and year, one column per count) becomes one
  row per non-blank cell: the header's code in one column (``indicator``), the cell in
  another (``value``);
* ``passthrough``: columns the contract does not name, kept with a declared type as
  ``x_<name>`` (they reach the accepted table, features and the data-contract docs);
* ``filters``: rows the bureau does not want (kept in quarantine under rule ``filtered``,
  so that counts still reconcile);
* ``design``: for double-random results whose export carries no design, the round's
  declared design (`Design`).

Headers a source does not name are still matched by the contract's English and Chinese
names and the global ``column_aliases`` of ``configs/ingest.yaml`` unless ``auto_headers``
is false. Pure: no I/O beyond reading the YAML files; the engine applies the mappings
(`apply_values`) to the text of each column before typing.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import re
from collections.abc import Iterable, Sequence
from functools import cached_property
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from contract.tables import TABLES, VOCABULARIES

#: Identity columns a record may carry besides ``uscc`` (all resolve to the registry's USCC).
IDENTIFIERS = ("name", "reg_no", "org_code", "taxpayer_no")
IDENTIFIER_LABELS = {
    "name": ("企业名称", "enterprise name"),
    "reg_no": ("注册号", "registration number (15 digits)"),
    "org_code": ("组织机构代码", "organisation code (9 characters)"),
    "taxpayer_no": ("纳税人识别号", "taxpayer number"),
}
UNITS = {"元": "元", "万元": "万元", "亿元": "亿元", "yuan": "元", "wan_yuan": "万元"}
DTYPES = ("string", "int", "float", "date", "bool")
_NUMBER = re.compile(r"^[-+]?[\d,]*\.?\d+$")
#: ``{delivery_date}`` in a ``value`` or ``default``: the date the delivery was received.
DELIVERY_DATE = "{delivery_date}"


class SourceError(ValueError):
    """A source mapping is invalid, or does not fit the delivery it is applied to."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Keyword(_Strict):
    """A regular expression over free text and the code it means (``{pattern, value}``)."""

    pattern: str
    value: str

    @field_validator("pattern")
    @classmethod
    def _regex(cls, v: str) -> str:
        try:
            re.compile(v)
        except re.error as exc:
            raise ValueError(f"not a regular expression: {exc}") from None
        return v


class ColumnMapping(_Strict):
    """Where one contract column comes from and how its text is turned into the value."""

    #: Header text(s) in the file, compared after removing spaces and making full-width
    #: characters half-width; the first one present is used.
    from_: Annotated[str | list[str] | None, Field(alias="from")] = None
    #: A constant for every row (``{delivery_date}`` allowed), instead of a header.
    value: str | None = None
    #: Exact code words -> codes (compared after trimming; case-insensitive).
    map: dict[str, str] = Field(default_factory=dict)
    #: Regular expressions over the text, tried in order; the first that matches gives the code.
    keywords: list[Keyword] = Field(default_factory=list)
    #: Regular expression that separates several values written in one cell.
    split: str | None = None
    #: With ``split``: keep the first of these codes that occurs (severity order); without
    #: it a list column keeps them all and another column keeps the first.
    choose: list[str] = Field(default_factory=list)
    #: Regular expression whose groups, joined, are the value (``罚款(\\d+\\.?\\d*)(万?元)``).
    extract: str | None = None
    #: ``first``: the first match of ``extract``; ``sum``: every match, each in its own unit
    #: (元 / 万元 / 亿元, else ``unit``), added up (``没收违法所得1200元，罚款5000元``).
    combine: Literal["first", "sum"] = "first"
    #: Unit of a bare number in this column (amount columns; the contract stores 万元).
    unit: Literal["元", "万元", "亿元"] | None = None
    #: A cell that names only a year or a month (``2023``, ``2024-03``, ``202403``,
    #: ``2024年3月``) becomes a date: the period's first or last day (date columns).
    period: Literal["first_day", "last_day"] | None = None
    #: The value of a blank cell (``{delivery_date}`` allowed).
    default: str | None = None
    #: The value when a text matched neither ``map`` nor ``keywords`` (None: keep the text,
    #: so that the vocabulary rule quarantines it and the preview lists it).
    otherwise: str | None = None

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @field_validator("split", "extract")
    @classmethod
    def _regex(cls, v: str | None) -> str | None:
        if v is not None:
            try:
                re.compile(v)
            except re.error as exc:
                raise ValueError(f"not a regular expression: {exc}") from None
        return v

    @model_validator(mode="after")
    def _source(self) -> ColumnMapping:
        if self.from_ is not None and self.value is not None:
            raise ValueError("give either from (a header) or value (a constant), not both")
        return self

    @property
    def headers(self) -> list[str]:
        if self.from_ is None:
            return []
        return [self.from_] if isinstance(self.from_, str) else list(self.from_)

    @property
    def transforms(self) -> bool:
        """Whether the text of the column is rewritten at all (else it is read as it is)."""
        return bool(
            self.map
            or self.keywords
            or self.split
            or self.extract
            or self.combine != "first"
            or self.unit
            or self.period is not None
            or self.default is not None
            or self.otherwise is not None
        )


class Passthrough(_Strict):
    """A column the contract does not name, kept as ``x_<name>`` with a declared type."""

    name: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,40}$")]
    type: Literal["string", "int", "float", "date", "bool"] = "string"
    zh: str = ""
    en: str = ""
    unit: Literal["元", "万元", "亿元"] | None = None


class Unpivot(_Strict):
    """A wide export made long: every header of ``columns`` gives each row of the file one
    row of the table, whose ``name`` column holds the code the header maps to and whose
    ``value`` column holds the cell (``columns.<value>`` may still rewrite it, e.g. with a
    ``unit``). A blank cell is no observation: it gives no row, and is counted as
    ``blank_cells`` in the file's description in ``reconciliation.json``."""

    #: Header in the file -> the code its cells are recorded under (``裁判文书数: judgments``).
    columns: Annotated[dict[str, str], Field(min_length=1)]
    #: The column that takes the code (``indicator`` of the generic indicators table).
    name: str = "indicator"
    #: The column that takes the cell.
    value: str = "value"


class Filter(_Strict):
    """Rows to leave out, by the text of one header: ``equals`` / ``in`` / ``not_in`` /
    ``matches`` (a regular expression). A row is kept when every filter keeps it."""

    column: str
    equals: str | None = None
    in_: Annotated[list[str] | None, Field(alias="in")] = None
    not_in: list[str] | None = None
    matches: str | None = None
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @model_validator(mode="after")
    def _one(self) -> Filter:
        given = [x for x in (self.equals, self.in_, self.not_in, self.matches) if x is not None]
        if len(given) != 1:
            raise ValueError("a filter takes exactly one of equals, in, not_in, matches")
        return self

    def keeps(self, text: str | None) -> bool:
        t = (text or "").strip()
        if self.equals is not None:
            return t == self.equals
        if self.in_ is not None:
            return t in self.in_
        if self.not_in is not None:
            return t not in self.not_in
        return re.search(self.matches or "", t) is not None

    def describe(self) -> str:
        if self.equals is not None:
            return f"{self.column} = {self.equals}"
        if self.in_ is not None:
            return f"{self.column} in {self.in_}"
        if self.not_in is not None:
            return f"{self.column} not in {self.not_in}"
        return f"{self.column} ~ {self.matches}"


class Stratum(_Strict):
    """One stratum of a declared double-random round: its sampling rate, or the population
    size and the number drawn (then the inclusion probability is drawn / population)."""

    rate: Annotated[float | None, Field(gt=0, le=1)] = None
    population: Annotated[int | None, Field(ge=1)] = None
    drawn: Annotated[int | None, Field(ge=1)] = None
    risk_class: str | None = None

    @model_validator(mode="after")
    def _p(self) -> Stratum:
        if self.rate is None and (self.population is None or self.drawn is None):
            raise ValueError("a stratum gives rate, or population and drawn")
        if self.population is not None and self.drawn is not None and self.drawn > self.population:
            raise ValueError("drawn exceeds population")
        return self

    @property
    def probability(self) -> float:
        if self.rate is not None:
            return self.rate
        assert self.population is not None and self.drawn is not None
        return self.drawn / self.population


class Design(_Strict):
    """A double-random round declared once: results of an export that carries no design are
    tied to it (by ``plan_id`` in the file, or all rows of the source), and get their plan
    id, stratum and inclusion probability from it. ``stratum_by: division`` takes the
    stratum from the enterprise's registered division (GB/T 2260 code), ``prefecture`` from
    its prefecture (the division's first four digits and ``00``), ``stratum`` from the
    export's own stratum column (mapped to the contract's ``stratum``). A stratum key
    ``"*"`` covers every stratum not listed."""

    plan_id: Annotated[str, Field(min_length=1)]
    draw_date: dt.date
    #: Texts of the export's plan column that mean this round (besides ``plan_id`` itself).
    plan_texts: list[str] = Field(default_factory=list)
    #: Tie every double-random row of this source to the round, whatever its plan column says.
    all_rows: bool = False
    stratum_by: Literal["division", "prefecture", "stratum"] = "division"
    strata: dict[str, Stratum]

    @model_validator(mode="after")
    def _column(self) -> Design:
        if not self.strata:
            raise ValueError("a design declares at least one stratum")
        return self

    def stratum(self, key: str | None) -> tuple[str, Stratum] | None:
        if key is not None and key in self.strata:
            return key, self.strata[key]
        if "*" in self.strata:
            return (key or "*"), self.strata["*"]
        return None


class HeaderSettings(_Strict):
    #: Rows at the top searched for the header (exports put titles above it).
    scan_rows: Annotated[int, Field(ge=1, le=1000)] = 30
    #: The header row must name at least this many mapped columns.
    min_matches: Annotated[int, Field(ge=1)] = 2
    #: Also match headers the mapping does not name by the contract's names and aliases.
    auto: bool = True
    #: Which worksheet of a workbook (name or 0-based index).
    sheet: str | int = 0


class SourceMapping(_Strict):
    """One department's export of one contract table (``configs/sources/<source>.yaml``)."""

    #: Name of the source (defaults to the file name); recorded in every accepted row's lineage.
    source: Annotated[str, Field(pattern=r"^[A-Za-z0-9_\-]{1,64}$")]
    table: str
    description: str = ""
    #: The department that delivers this export (for the collection-quality report);
    #: None: the table's department in ``collection`` of the ingest configuration.
    department: str | None = None
    #: Glob patterns over file names in the delivery folder (``行政处罚*.xls*``, ``pen_*.csv``).
    files: Annotated[list[str], Field(min_length=1)]
    header: HeaderSettings = HeaderSettings()
    columns: dict[str, ColumnMapping] = Field(default_factory=dict)
    #: Headers to leave out without a note (others not mapped are listed as ignored).
    ignore: list[str] = Field(default_factory=list)
    #: Texts that mean an empty cell anywhere in this export (``企业选择不公示``, ``-``, ``无``):
    #: read as blank, in contract and passthrough columns alike.
    blank_texts: list[str] = Field(default_factory=list)
    passthrough: dict[str, Passthrough] = Field(default_factory=dict)
    filters: list[Filter] = Field(default_factory=list)
    design: Design | None = None
    #: One row per non-blank cell of some columns (a wide export made long).
    unpivot: Unpivot | None = None
    #: Text encoding of CSV files, when sniffing (UTF-8, then GB18030) is not wanted.
    encoding: str | None = None

    @field_validator("table")
    @classmethod
    def _table(cls, v: str) -> str:
        if v not in TABLES:
            raise ValueError(f"unknown table {v!r}; the contract has {', '.join(TABLES)}")
        return v

    @model_validator(mode="after")
    def _columns(self) -> SourceMapping:
        spec = TABLES[self.table]
        known = set(spec.column_names) | (
            set(IDENTIFIERS) if self.table != "enterprises" else set()
        )
        if self.table == "enterprises":
            known |= {"org_code", "taxpayer_no"}
        for name, m in self.columns.items():
            if name not in known:
                raise ValueError(
                    f"columns.{name}: not a column of {self.table} "
                    f"(columns: {', '.join(sorted(known))})"
                )
            if m.from_ is None and m.value is None and not m.transforms:
                raise ValueError(f"columns.{name}: give from (a header), value or a transform")
            col = spec.column(name) if name in spec.column_names else None
            vocab = col.vocabulary if col is not None else None
            if vocab in VOCABULARIES:
                codes = VOCABULARIES[vocab or ""]
                targets = [*m.map.values(), *(k.value for k in m.keywords), *m.choose]
                if m.otherwise is not None:
                    targets.append(m.otherwise)
                for t in targets:
                    if t not in codes:
                        raise ValueError(
                            f"columns.{name}: {t!r} is not a code of vocabulary {vocab} "
                            f"({', '.join(codes)})"
                        )
            if m.unit is not None and (col is None or col.dtype != "float"):
                raise ValueError(f"columns.{name}: unit applies to amount columns only")
            if m.period is not None and (col is None or col.dtype != "date"):
                raise ValueError(f"columns.{name}: period applies to date columns only")
        for header, p in self.passthrough.items():
            if p.unit is not None and p.type != "float":
                raise ValueError(f"passthrough.{header}: unit applies to float columns only")
        names = [p.name for p in self.passthrough.values()]
        if len(set(names)) != len(names):
            raise ValueError("passthrough: two columns with the same name")
        if self.design is not None and self.table != "inspections":
            raise ValueError("design applies to the inspections table only")
        if self.unpivot is not None:
            self._check_unpivot(self.unpivot)
        return self

    def _check_unpivot(self, u: Unpivot) -> None:
        spec = TABLES[self.table]
        for role, target in (("name", u.name), ("value", u.value)):
            if target not in spec.column_names:
                raise ValueError(f"unpivot.{role}: {target!r} is not a column of {self.table}")
            m = self.columns.get(target)
            if m is not None and (m.from_ is not None or m.value is not None):
                raise ValueError(
                    f"unpivot.{role}: columns.{target} comes from the unpivoted cells; "
                    "give it transforms only, not from or value"
                )
        if u.name == u.value:
            raise ValueError("unpivot: name and value must be two columns")
        col = spec.column(u.name)
        if col.dtype != "string":
            raise ValueError(f"unpivot.name: {self.table}.{u.name} is not a text column")
        codes = VOCABULARIES.get(col.vocabulary or "")
        for header, code in u.columns.items():
            if codes is not None and code not in codes:
                raise ValueError(
                    f"unpivot.columns.{header}: {code!r} is not a code of vocabulary "
                    f"{col.vocabulary} ({', '.join(codes)})"
                )
        taken = {h for m in self.columns.values() for h in m.headers} | set(self.passthrough)
        both = sorted(set(u.columns) & taken)
        if both:
            raise ValueError(f"unpivot.columns: {both[0]!r} is also mapped to a column")

    def matches(self, filename: str) -> bool:
        return any(fnmatch.fnmatch(filename, p) for p in self.files)

    @cached_property
    def extra_columns(self) -> dict[str, Passthrough]:
        """Passthrough columns by their stored name (``x_<name>``)."""
        return {f"x_{p.name}": p for p in self.passthrough.values()}


def load_sources(folder: Path | None) -> list[SourceMapping]:
    """Every mapping in ``folder`` (``*.yaml``, in name order); ``source`` defaults to the
    file's stem. A broken file is an error naming the file and the setting."""
    if folder is None:
        return []
    folder = Path(folder)
    if not folder.is_dir():
        raise SourceError(f"sources: {folder} is not a folder of source mappings")
    out: list[SourceMapping] = []
    for path in sorted(folder.glob("*.yaml")):
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as exc:
            raise SourceError(f"{path}: not valid YAML ({exc})") from None
        if not isinstance(data, dict):
            raise SourceError(f"{path}: a source mapping is a mapping of settings")
        data.setdefault("source", path.stem)
        try:
            out.append(SourceMapping.model_validate(data))
        except ValidationError as exc:
            errors = "; ".join(
                f"{'.'.join(str(x) for x in e['loc'])}: {e['msg']}" for e in exc.errors()
            )
            raise SourceError(f"{path}: {errors} [rule: source mapping]") from None
    names = [m.source for m in out]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise SourceError(f"sources: {folder} declares source {dupes[0]!r} twice")
    return out


def assign(files: Iterable[Path], mappings: Sequence[SourceMapping]) -> dict[Path, SourceMapping]:
    """Each file of a delivery that a mapping claims; a file claimed twice is an error."""
    claimed: dict[Path, SourceMapping] = {}
    for f in files:
        hits = [m for m in mappings if m.matches(f.name)]
        if len(hits) > 1:
            raise SourceError(
                f"{f}: claimed by sources {', '.join(m.source for m in hits)}; "
                "make their files patterns disjoint [rule: one source per file]"
            )
        if hits:
            claimed[f] = hits[0]
    return claimed


# ---------------------------------------------------------------------- value mapping
def _substitute(text: str, delivery_date: dt.date | None, where: str) -> str:
    if DELIVERY_DATE in text:
        if delivery_date is None:
            raise SourceError(
                f"{where}: uses {DELIVERY_DATE} but no delivery date was given "
                "(riskclass ingest --delivery-date YYYY-MM-DD)"
            )
        return text.replace(DELIVERY_DATE, delivery_date.isoformat())
    return text


class ValueMapper:
    """The text rewriting of one column mapping, applied to each distinct text once.

    Also counts how each distinct text was handled, for the preview's coverage table:
    ``mapped`` (by ``map``), ``keyword``, ``extracted``, ``unit``, ``default``,
    ``otherwise``, ``as_is`` (left for the contract's own parsing).
    """

    def __init__(
        self,
        m: ColumnMapping,
        is_list: bool,
        delivery_date: dt.date | None,
        where: str,
        bare: bool = False,
    ) -> None:
        self.m = m
        self.is_list = is_list
        #: a number column without the contract's 万元 (the indicators' value): an amount
        #: with a unit is converted here to a bare number in 万元
        self.bare = bare
        self.where = where
        self.words = {k.strip().lower(): v for k, v in m.map.items()}
        self.keywords = [(re.compile(k.pattern), k.value) for k in m.keywords]
        self.split = re.compile(m.split) if m.split else None
        self.extract = re.compile(m.extract) if m.extract else None
        self.default = _substitute(m.default, delivery_date, where) if m.default else None
        self.cache: dict[str | None, tuple[str | None, str]] = {}

    def _one(self, text: str) -> tuple[str, str] | None:
        """(value, how) for one piece of text by map/keywords, or None."""
        w = self.words.get(text.strip().lower())
        if w is not None:
            return w, "mapped"
        for rx, code in self.keywords:
            if rx.search(text):
                return code, "keyword"
        return None

    def __call__(self, text: str | None) -> tuple[str | None, str]:
        hit = self.cache.get(text)
        if hit is not None:
            return hit
        result = self._compute(text)
        if len(self.cache) < 200_000:
            self.cache[text] = result
        return result

    def _compute(self, text: str | None) -> tuple[str | None, str]:
        value, how = self._rewrite(text)
        if self.bare and value is not None:
            found = _AMOUNT.match(value.strip())
            if found is not None and found[2] is not None:
                return format(round(_in_wan(value, None) or 0.0, 10), ".15g"), how
        return value, how

    def _rewrite(self, text: str | None) -> tuple[str | None, str]:
        m = self.m
        if text is None or not text.strip():
            return (self.default, "default") if self.default is not None else (None, "blank")
        how = "as_is"
        value = text.strip()
        if self.extract is not None and m.combine == "sum":
            total = None
            for found in self.extract.finditer(value):
                amount = _in_wan(
                    "".join(g for g in found.groups() if g) if found.groups() else found[0], m.unit
                )
                if amount is not None:
                    total = (total or 0.0) + amount
            if total is not None:
                return f"{round(total, 6):g}万元", "extracted"
        elif self.extract is not None:
            first = self.extract.search(value)
            if first is not None:
                value = "".join(g for g in first.groups() if g) if first.groups() else first[0]
                how = "extracted"
        if self.split is not None:
            parts = [p.strip() for p in self.split.split(value) if p.strip()]
            codes = []
            for p in parts:
                r = self._one(p)
                codes.append(r[0] if r else (m.otherwise if m.otherwise is not None else p))
            if m.choose:
                picked = next((c for c in m.choose if c in codes), None)
                if picked is not None:
                    return picked, "mapped"
            if self.is_list or not codes:
                return ";".join(dict.fromkeys(codes)) or None, "mapped"
            return codes[0], "mapped"
        if self.words or self.keywords:
            r = self._one(value)
            if r is not None:
                return r
            if m.otherwise is not None:
                return m.otherwise, "otherwise"
        if m.period is not None:
            day = _period_day(value, m.period)
            if day is not None:
                return day, "period"
        if m.unit is not None and _NUMBER.match(value):
            return value + m.unit, "unit"
        return value, how


_PERIOD = re.compile(r"^(\d{4})(?:年|(?:[-/.年]?(\d{1,2})月?))?$")


def _period_day(text: str, which: str) -> str | None:
    """The first or last day of the year or month ``text`` names (None for anything else).

    >>> _period_day("2024-02", "last_day"), _period_day("2023", "first_day")
    ('2024-02-29', '2023-01-01')
    >>> _period_day("2024年3月", "last_day"), _period_day("2024-03-05", "last_day") is None
    ('2024-03-31', True)
    """
    found = _PERIOD.match(text.strip())
    if found is None:
        return None
    year = int(found[1])
    month = int(found[2]) if found[2] else None
    if month is not None and not 1 <= month <= 12:
        return None
    if which == "first_day":
        return dt.date(year, month or 1, 1).isoformat()
    if month is None or month == 12:
        return dt.date(year, 12, 31).isoformat()
    return (dt.date(year, month + 1, 1) - dt.timedelta(days=1)).isoformat()


_AMOUNT = re.compile(r"^([-+]?[\d,]*\.?\d+)\s*(亿元|亿|万元|万|元)?$")
_TO_WAN = {"亿元": 10000.0, "亿": 10000.0, "万元": 1.0, "万": 1.0, "元": 0.0001}


def _in_wan(text: str, unit: str | None) -> float | None:
    """An amount in 万元 from ``1200元`` / ``0.5万元`` / ``1200`` (then in ``unit``)."""
    found = _AMOUNT.match(text.strip())
    if found is None:
        return None
    number = float(found[1].replace(",", ""))
    return number * _TO_WAN[found[2] or unit or "万元"]


def constant(m: ColumnMapping, delivery_date: dt.date | None, where: str) -> str | None:
    """The constant ``value`` of a mapping, with ``{delivery_date}`` filled in."""
    return None if m.value is None else _substitute(m.value, delivery_date, where)
