"""Configuration of ingestion: the schema of `configs/ingest.yaml`."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from contract.tables import TABLES


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Bound(_Strict):
    """A plausibility bound on a numeric column (in the contract's unit, amounts in 万元),
    optionally only for rows whose coded column has one of some values (``when``)."""

    table: str
    column: str
    min: float | None = None
    max: float | None = None
    when: dict[str, list[str]] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _known(self) -> Bound:
        if self.table not in TABLES:
            raise ValueError(f"bounds: unknown table {self.table!r}")
        spec = TABLES[self.table]
        for c in (self.column, *self.when):
            if c not in spec.column_names:
                raise ValueError(f"bounds: {self.table} has no column {c!r}")
        if spec.column(self.column).dtype not in ("float", "int"):
            raise ValueError(f"bounds: {self.table}.{self.column} is not numeric")
        if self.min is None and self.max is None:
            raise ValueError("bounds: give min, max or both")
        return self

    @property
    def name(self) -> str:
        cond = "".join(f"[{k}={'|'.join(v)}]" for k, v in sorted(self.when.items()))
        lo = f">={self.min:g}" if self.min is not None else ""
        hi = f"<={self.max:g}" if self.max is not None else ""
        return f"bound:{self.table}.{self.column}{cond}{lo}{hi}"

    @property
    def reason(self) -> tuple[str, str]:
        """What the bound asks, in Chinese and English, with a hint about units for amounts
        (a 元 amount read as 万元 is 10,000 times too large)."""
        unit = TABLES[self.table].column(self.column).unit or ""
        parts_zh, parts_en = [], []
        if self.min is not None:
            parts_zh.append(f"应不小于 {self.min:g}{unit}")
            parts_en.append(f"at least {self.min:g} {unit}".rstrip())
        if self.max is not None:
            parts_zh.append(f"应不大于 {self.max:g}{unit}")
            parts_en.append(f"at most {self.max:g} {unit}".rstrip())
        when = sorted(self.when.items())
        zh = "，".join(parts_zh) + "".join(f"({k} 为 {'、'.join(v)} 时)" for k, v in when)
        en = ", ".join(parts_en) + "".join(f" (when {k} is {' or '.join(v)})" for k, v in when)
        if unit == "万元":
            zh += "；若源文件金额以元为单位，请在来源映射中为该列设置 unit: 元"
            en += "; if the source file states amounts in 元 (yuan), set unit: 元 for the column in its source mapping"
        return zh, en


class NameLinkageConfig(_Strict):
    """Probabilistic name resolution (Splink): at or above ``match`` a name resolves; between
    ``review`` and ``match`` the row waits in quarantine (rule ``name_review``) and in
    ``review/<table>.csv`` for a person to confirm."""

    enabled: bool = True
    match: Annotated[float, Field(gt=0, lt=1)] = 0.95
    review: Annotated[float, Field(gt=0, lt=1)] = 0.6

    @model_validator(mode="after")
    def _order(self) -> NameLinkageConfig:
        if self.review > self.match:
            raise ValueError("name_linkage: review must not exceed match")
        return self


class DepartmentByColumn(_Strict):
    """A table delivered by several departments, told apart by a coded column
    (licences by ``licence_kind``): code -> department; other codes keep the table's."""

    column: str
    values: dict[str, str]


class CollectionConfig(_Strict):
    """Who delivers each table, for the collection-quality report (`pipelines.intake.quality`);
    a source mapping's own ``department:`` overrides both."""

    #: seeds/004: enterprise information is to be collected 「20个工作日内」.
    working_days: Annotated[int, Field(ge=1, le=365)] = 20
    #: table -> the department that delivers it
    departments: dict[str, str] = Field(default_factory=dict)
    #: table -> department by the value of a coded column
    by_column: dict[str, DepartmentByColumn] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _known(self) -> CollectionConfig:
        for t in (*self.departments, *self.by_column):
            if t not in TABLES:
                raise ValueError(f"collection: unknown table {t!r}")
        for t, by in self.by_column.items():
            if by.column not in TABLES[t].column_names:
                raise ValueError(f"collection.by_column: {t} has no column {by.column!r}")
        return self


class IngestConfig(_Strict):
    #: The province(s) the bureau serves (two-digit GB/T 2260 codes). Division codes of the
    #: whole country are valid; those outside these provinces are kept and noted
    #: (``division_outside_province``), never a reason to drop a firm. The first is the
    #: province named in reports.
    province: Annotated[str, Field(pattern=r"^\d{2}$")] = "44"
    provinces: list[Annotated[str, Field(pattern=r"^\d{2}$")]] = Field(default_factory=list)
    #: ``uscc``: enterprises are keyed by the USCC (checked), other identifiers resolve to it.
    #: ``opaque``: by an anonymised identifier (``opaque_id_pattern``), never checked as a USCC.
    id_scheme: Literal["uscc", "opaque"] = "uscc"
    opaque_id_pattern: str = r"^[0-9A-Za-z_.:\-]{1,64}$"
    #: ``full``: the registry (enterprises) carries the contract's columns. ``ids_only``: it
    #: may carry nothing but the identifiers (an anonymised research data set): the columns
    #: it lacks stay NULL (never invented), their not-null rules and expectations are not
    #: applied, and reconciliation.json and availability.json say so.
    registry: Literal["full", "ids_only"] = "full"
    #: Folder of source mappings (``*.yaml``, `pipelines.intake.sources`); relative paths
    #: are taken from the working directory. None: files are named after their table.
    sources: str | None = None
    #: Tables the bureau cannot deliver, with why: their features are missing (NaN), never
    #: zero, and reports and model cards say which information groups the data lacked.
    unavailable: dict[str, str] = Field(default_factory=dict)
    #: A run whose accepted share of a delivered table falls below its floor fails.
    accept_floor: Annotated[float, Field(ge=0, le=1)] = 0.5
    accept_floors: dict[str, Annotated[float, Field(ge=0, le=1)]] = Field(default_factory=dict)
    bounds: list[Bound] = Field(default_factory=list)
    name_linkage: NameLinkageConfig = NameLinkageConfig()
    #: Names a person confirmed: a review file (review/<table>.csv) with confirmed_uscc
    #: filled in, or any CSV with columns name and uscc; they resolve as exact names.
    review_decisions: str | None = None
    #: Salt of the hash that replaces personal ID numbers found in identifier columns.
    personal_id_salt: str = "riskclass"
    ge_batch_rows: Annotated[int, Field(ge=1_000)]
    duckdb_memory_limit: str
    duckdb_threads: Annotated[int, Field(ge=1, le=64)]
    header_scan_rows: Annotated[int, Field(ge=1, le=1000)]
    #: Kept for older configuration files; the header is now the best-matching row.
    header_match_share: Annotated[float, Field(gt=0, le=1)] = 0.6
    max_text_length: Annotated[int, Field(ge=10)]
    earliest_date: str
    latest_date: str
    column_aliases: dict[str, str]
    #: Collection quality per table and department (timeliness in working days,
    #: completeness, error rates): reconciliation.json's ``quality`` section.
    collection: CollectionConfig = CollectionConfig()

    @field_validator("earliest_date", "latest_date")
    @classmethod
    def _date(cls, v: str) -> str:
        dt.date.fromisoformat(v)
        return v

    @field_validator("unavailable", "accept_floors")
    @classmethod
    def _tables(cls, v: dict[str, object]) -> dict[str, object]:
        for t in v:
            if t not in TABLES:
                raise ValueError(f"unknown table {t!r}")
        return v

    @field_validator("unavailable")
    @classmethod
    def _registry(cls, v: dict[str, str]) -> dict[str, str]:
        if "enterprises" in v:
            raise ValueError(
                "the registry (enterprises) cannot be unavailable: every table refers to it"
            )
        return v

    @property
    def served(self) -> tuple[str, ...]:
        """The provinces served, the main one first."""
        return tuple(dict.fromkeys([self.province, *self.provinces]))

    def floor(self, table: str) -> float:
        return self.accept_floors.get(table, self.accept_floor)
