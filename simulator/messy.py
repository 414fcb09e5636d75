"""Corrupt clean tables the way real departmental exports are corrupted.

Pure: clean DataFrames and a random generator in, string DataFrames and a manifest out.
The manifest records every injected fault with the rows it touched (positions in the
corrupted table), so ingestion tests can reconcile their quarantine exactly.

Faults (each row gets at most one, so each fault is countable):
``invalid_uscc`` (check character wrong), ``fullwidth`` (full-width characters and
spaces in codes - valid once normalised), ``unknown_enterprise`` (a well-formed USCC
that is not in the registry), ``name_only`` / ``reg_no_only`` (no USCC, only the
enterprise name with full-width brackets, or the old registration number),
``date_disorder`` (event after receipt, or before establishment), ``bad_vocabulary``
(a code outside its vocabulary), ``amount_text`` (amounts as "1,234.50" or "12.5万元" or
"125000元" - valid once parsed), and appended ``duplicate`` / ``natural_key_duplicate``
rows. File-level: encoding, title rows above the header, Chinese headers, date format.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from contract.tables import TABLES, Table
from simulator import codes
from simulator.config import MessyConfig

DATE_FORMATS = ("%Y-%m-%d", "%Y/%-m/%-d", "%Y%m%d", "%Y年%-m月%-d日")
ENCODINGS = ("utf-8", "utf-8-sig", "gb18030")
# Faults that leave a row valid once ingestion has normalised it.
REPAIRABLE = frozenset({"fullwidth", "amount_text", "name_only", "reg_no_only"})

_FULLWIDTH = str.maketrans(
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ()",
    "０１２３４５６７８９ＡＢＣＤＥＦＧＨＩＪＫＬＭＮＯＰＱＲＳＴＵＶＷＸＹＺ（）",
)


@dataclass
class MessyFile:
    table: str
    frame: pd.DataFrame  # all strings (None for empty)
    file_format: str  # csv or xlsx
    encoding: str
    title_rows: list[str]
    chinese_headers: bool
    date_format: str  # strftime pattern, or "mixed", or "excel_serial"
    faults: dict[str, list[int]] = field(default_factory=dict)

    @property
    def file_name(self) -> str:
        return f"{self.table}.{self.file_format}"


def _format_dates(values: pd.Series, fmt: str, rng: np.random.Generator) -> pd.Series:
    d = pd.to_datetime(values)
    if fmt == "excel_serial":
        serial = (d - pd.Timestamp("1899-12-30")).dt.days
        return serial.astype("Int64").astype(str).where(d.notna(), None)
    if fmt == "mixed":
        which = rng.integers(0, len(DATE_FORMATS), len(d))
        out = pd.Series([None] * len(d), index=d.index, dtype=object)
        for i, f in enumerate(DATE_FORMATS):
            sel = (which == i) & d.notna().to_numpy()
            out[sel] = d[sel].dt.strftime(f)
        return out
    return d.dt.strftime(fmt).where(d.notna(), None)


def _as_strings(df: pd.DataFrame, spec: Table) -> pd.DataFrame:
    out = pd.DataFrame(index=df.index)
    for col in spec.columns:
        s = df[col.name]
        if col.dtype == "bool":
            out[col.name] = s.map({True: "是", False: "否"}).astype(object)
        elif col.dtype == "date":
            out[col.name] = s
        elif col.dtype == "int":
            out[col.name] = s.astype("Int64").astype(str).where(s.notna(), None)
        elif col.dtype == "float":
            out[col.name] = s.map(lambda v: None if pd.isna(v) else f"{v:.2f}")
        else:
            out[col.name] = s.astype(object).where(s.notna(), None)
    return out


def corrupt_table(
    name: str,
    clean: pd.DataFrame,
    registry: pd.DataFrame,
    cfg: MessyConfig,
    rng: np.random.Generator,
    file_index: int,
) -> MessyFile:
    """A corrupted export of table ``name``; ``registry`` is the clean `enterprises`."""
    spec = TABLES[name]
    df = _as_strings(clean.reset_index(drop=True), spec)
    n = len(df)
    order = rng.permutation(n)
    faults: dict[str, list[int]] = {}
    cursor = 0

    def take(share: float) -> np.ndarray:
        nonlocal cursor
        k = round(n * share)
        rows = np.sort(order[cursor : cursor + k])
        cursor += k
        return rows

    is_event = name != "enterprises"
    uscc = df["uscc"].to_numpy(dtype=object, copy=True)

    rows = take(cfg.invalid_uscc_share)
    uscc[rows] = [_break_check(u) for u in uscc[rows]]
    faults["invalid_uscc"] = rows.tolist()

    rows = take(cfg.fullwidth_share)
    uscc[rows] = [_fullwidth(u, rng) for u in uscc[rows]]
    faults["fullwidth"] = rows.tolist()

    if is_event:
        rows = take(cfg.unknown_enterprise_share)
        fake = codes.make_uscc(
            np.arange(len(rows), dtype=np.int64) + 90_000_000 + file_index * 100_000,
            np.full(len(rows), 440106),
            np.ones(len(rows), dtype=np.int64),
            np.zeros(len(rows), dtype=bool),
        )
        uscc[rows] = fake
        faults["unknown_enterprise"] = rows.tolist()

        by_uscc = registry.set_index("uscc")
        rows = take(cfg.name_only_share)
        names = by_uscc.loc[uscc[rows], "name"].to_numpy(dtype=object)
        df["name"] = None
        df.loc[rows, "name"] = [_fullwidth_brackets(x, rng) for x in names]
        uscc[rows] = None
        faults["name_only"] = rows.tolist()

        candidates = order[cursor:]
        regno = by_uscc["reg_no"].reindex(uscc[candidates]).to_numpy(dtype=object)
        has = candidates[pd.notna(regno)]
        k = min(len(has), round(n * cfg.reg_no_only_share))
        rows = np.sort(has[:k])
        df["reg_no"] = None
        df.loc[rows, "reg_no"] = by_uscc.loc[uscc[rows], "reg_no"].to_numpy(dtype=object)
        uscc[rows] = None
        used = set(rows.tolist())
        order = np.array([i for i in order if i not in used], dtype=np.int64)
        faults["reg_no_only"] = rows.tolist()
    df["uscc"] = uscc

    rows = take(cfg.date_disorder_share)
    if is_event and spec.event_date and len(rows):
        ev = pd.to_datetime(df.loc[rows, spec.event_date])
        df.loc[rows, spec.event_date] = (
            (ev + pd.Timedelta(days=400)).dt.strftime("%Y-%m-%d").to_numpy()
        )
    elif len(rows):
        ev = pd.to_datetime(df.loc[rows, "established_date"])
        dereg = ev - pd.Timedelta(days=30)
        df.loc[rows, "deregistered_date"] = dereg.dt.strftime("%Y-%m-%d").to_numpy()
        df.loc[rows, "status"] = "deregistered"
    faults["date_disorder"] = rows.tolist()

    vocab_cols = [c.name for c in spec.columns if c.vocabulary and not c.is_list and not c.nullable]
    rows = take(cfg.bad_vocabulary_share) if vocab_cols else np.empty(0, dtype=np.int64)
    if len(rows):
        col = vocab_cols[0]
        df.loc[rows, col] = "其他(未列明)X"
        faults["bad_vocabulary"] = rows.tolist()
        faults["bad_vocabulary_column"] = [spec.column_names.index(col)]

    amount_cols = [c.name for c in spec.columns if c.unit == "万元"]
    rows = take(cfg.amount_text_share) if amount_cols else np.empty(0, dtype=np.int64)
    if len(rows):
        col = amount_cols[0]
        vals = pd.to_numeric(df.loc[rows, col])
        style = rng.integers(0, 3, len(rows))
        df.loc[rows, col] = [
            None
            if pd.isna(v)
            else (f"{v:,.2f}" if s == 0 else f"{v:g}万元" if s == 1 else f"{v * 10000:.0f}元")
            for v, s in zip(vals, style, strict=True)
        ]
        faults["amount_text"] = rows.tolist()

    # Appended copies: exact duplicates, and same natural key with a later receipt.
    dup_src = take(cfg.duplicate_share)
    nk_src = take(cfg.natural_key_duplicate_share)
    dups = df.iloc[dup_src].copy()
    nk = df.iloc[nk_src].copy()
    if is_event and len(nk):
        later = pd.to_datetime(nk["received_date"], errors="coerce") + pd.Timedelta(days=3)
        nk["received_date"] = later.dt.strftime("%Y-%m-%d").to_numpy()
    elif len(nk):
        nk["employees"] = "999"
    faults["duplicate"] = list(range(n, n + len(dups)))
    faults["natural_key_duplicate"] = list(range(n + len(dups), n + len(dups) + len(nk)))
    # which row each appended copy repeats (so tests can check the pair, not a count)
    faults["duplicate_of"] = dup_src.tolist()
    faults["natural_key_duplicate_of"] = nk_src.tolist()
    df = pd.concat([df, dups, nk], ignore_index=True)

    # File-level shape of the export.
    file_format = "xlsx" if name in ("serious_dishonest_list", "licences") else "csv"
    date_format = (
        "excel_serial"
        if file_format == "xlsx"
        else ("mixed" if file_index % 3 == 0 else DATE_FORMATS[file_index % 4])
    )
    for c in spec.columns:
        if c.dtype == "date":
            df[c.name] = _format_dates(df[c.name], date_format, rng)
    chinese = file_index % 2 == 1
    title = [f"{spec.zh}导出", "导出单位：某市市场监督管理局"] if file_index % 3 != 1 else []
    if chinese:
        zh = {c.name: c.zh for c in spec.columns} | {"name": "企业名称", "reg_no": "注册号"}
        df = df.rename(columns=zh)
    return MessyFile(
        table=name,
        frame=df,
        file_format=file_format,
        encoding=ENCODINGS[file_index % 3] if file_format == "csv" else "xlsx",
        title_rows=title,
        chinese_headers=chinese,
        date_format=date_format,
        faults=faults,
    )


def _break_check(u: str) -> str:
    """Same code with a wrong check character (or a letter O for a zero)."""
    if "0" in u[2:8]:
        i = u.index("0", 2)
        return u[:i] + "O" + u[i + 1 :]
    alphabet = codes.USCC_ALPHABET
    return u[:-1] + alphabet[(alphabet.index(u[-1]) + 1) % len(alphabet)]


def _fullwidth(u: str, rng: np.random.Generator) -> str:
    """Full-width characters, lower case or stray spaces - always some change."""
    s = u.translate(_FULLWIDTH) if rng.random() < 0.6 else u.lower()
    if s == u or rng.random() < 0.5:
        s = f" {s[:8]} {s[8:]} "
    return s


def _fullwidth_brackets(name: str, rng: np.random.Generator) -> str:
    s = name.replace("(", "（").replace(")", "）")
    return f" {s}" if rng.random() < 0.3 else s
