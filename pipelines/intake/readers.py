"""Reading departmental exports: find each contract table's files, sniff their format by
content (a ``.csv`` that is really a workbook is read as one; ``.xls`` and ``.xlsx`` through
calamine), decode them, find the header under any title rows (the best-matching row, and
how well it matched), and map their columns (by a source mapping, or by the contract's
English, Chinese or alias names) to the contract. Every value is kept as text here; a
source mapping's value rewriting (`pipelines.intake.sources`) is applied to that text, and
typing happens in SQL (`pipelines.intake.rules`).

Structural faults - a required table or column missing, a file that cannot be decoded, two
files for one table - raise `StructuralError` naming the file, the column and the rule.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa

from contract.tables import TABLES, Table
from pipelines.intake.rules import FULL_WIDTH, HALF_WIDTH
from pipelines.intake.sources import (
    IDENTIFIER_LABELS,
    SourceMapping,
    Unpivot,
    ValueMapper,
    constant,
)

FORMATS = {
    ".parquet": "parquet",
    ".csv": "csv",
    ".txt": "csv",
    ".tsv": "csv",
    ".xlsx": "xlsx",
    ".xlsm": "xlsx",
    ".xls": "xls",
}
IDENTITY_COLUMNS = IDENTIFIER_LABELS  # identifiers besides uscc: column -> (Chinese, English)
_TRANS = str.maketrans(FULL_WIDTH, HALF_WIDTH)
_BARE_NUMBER = re.compile(r"^[-+]?[\d,]*\.?\d+$")


class StructuralError(ValueError):
    """The input cannot be read as the contract describes; nothing is ingested."""


@dataclass
class Source:
    table: str
    path: Path
    file_format: str
    encoding: str = ""
    title_rows: int = 0
    columns: dict[str, str] = field(default_factory=dict)  # contract name -> header in the file
    ignored_columns: list[str] = field(default_factory=list)
    parquet_files: list[Path] = field(default_factory=list)
    native: set[str] = field(default_factory=set)  # Parquet columns already in the contract type
    mapping: str = ""  # the source mapping that read it ("" for the contract's own names)
    header_matches: int = 0  # cells of the header row that named a column
    header_cells: int = 0  # non-empty cells of the header row
    constants: list[str] = field(default_factory=list)  # columns set by a mapping's value
    rows_filtered: int = 0
    #: a wide file made long (`SourceMapping.unpivot`): file rows, cells, blank cells, rows
    unpivot: dict[str, int] = field(default_factory=dict)

    def describe(self) -> dict[str, object]:
        d: dict[str, object] = {
            "file": str(self.path),
            "format": self.file_format,
            "encoding": self.encoding,
            "title_rows": self.title_rows,
            "ignored_columns": self.ignored_columns,
            "absent_optional_columns": [
                c.name
                for c in TABLES[self.table].columns
                if c.name not in self.columns and c.name not in self.constants
            ],
        }
        if self.mapping:
            d["mapping"] = self.mapping
        if self.header_cells:
            d["header_match"] = f"{self.header_matches}/{self.header_cells}"
        if self.unpivot:
            d["unpivot"] = self.unpivot
        return d


def sniff(path: Path) -> str:
    """The format of a file by its first bytes, whatever its name says: ``parquet``,
    ``xlsx`` (a zip container), ``xls`` (an OLE2 compound file), else ``csv`` (text)."""
    if path.is_dir():
        return "parquet"
    with path.open("rb") as f:
        head = f.read(8)
    if head[:4] == b"PAR1":
        return "parquet"
    if head[:4] == b"PK\x03\x04":
        return "xlsx"
    if head == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":
        return "xls"
    return "csv"


def discover(
    source: Path, claimed: frozenset[str] = frozenset()
) -> tuple[dict[str, Path], list[str]]:
    """Each contract table's file or folder under ``source`` (named after the table), and
    the files that are none. Files in ``claimed`` (names a source mapping reads) are
    neither: the caller has them."""
    if not source.is_dir():
        raise StructuralError(f"{source}: the source folder does not exist")
    found: dict[str, Path] = {}
    unknown: list[str] = []
    for path in sorted(source.iterdir()):
        if path.name.startswith(".") or path.name in ("manifest.json",):
            continue
        _inside(source, path)
        if path.name in claimed:
            continue
        name = path.stem if path.is_file() else path.name
        if name in TABLES and (path.is_dir() or path.suffix.lower() in FORMATS):
            if name in found:
                raise StructuralError(
                    f"{source}: two files for table {name} ({found[name].name}, {path.name}) "
                    "[rule: one file per table]"
                )
            found[name] = path
        else:
            unknown.append(path.name)
    return found, unknown


def _inside(source: Path, path: Path) -> None:
    """Refuse a link that leads out of the delivery folder (a file of another system read as
    if the department had delivered it), for the entry and, for a table folder, its files."""
    root = source.resolve()
    entries = [path, *(sorted(path.rglob("*")) if path.is_dir() and not path.is_symlink() else [])]
    for p in entries:
        if p.is_symlink() and not p.resolve().is_relative_to(root):
            raise StructuralError(
                f"{source}: {p.relative_to(source).as_posix()} is a link to a file outside the "
                "delivery folder; copy the file into the delivery instead [rule: no links out of "
                "the delivery]"
            )


def header_map(
    spec: Table, aliases: dict[str, str], mapping: SourceMapping | None = None
) -> dict[str, str]:
    """Every header text a department may use for a column -> the contract column name.

    With a source mapping, its headers come first and are the only ones for the columns
    it names; the contract's names and the global aliases fill in the rest unless the
    mapping turns ``header.auto`` off. Passthrough headers map to ``x_<name>``."""
    names: dict[str, str] = {}
    mapped: set[str] = set()
    if mapping is not None:
        for target, m in mapping.columns.items():
            for h in m.headers:
                names[normalise_header(h)] = target
            if m.headers or m.value is not None:
                mapped.add(target)
        for h, p in mapping.passthrough.items():
            names[normalise_header(h)] = f"x_{p.name}"
        if not mapping.header.auto:
            return names
    columns = [(c.name, c.zh) for c in spec.columns if c.name not in mapped]
    if spec.name != "enterprises":
        columns += [(k, v[0]) for k, v in IDENTITY_COLUMNS.items() if k not in mapped]
    for name, zh in columns:
        names.setdefault(normalise_header(name), name)
        names.setdefault(normalise_header(zh), name)
    for name, zh in columns:
        # departments drop the explanation in brackets: 归集日期(本部门收到该记录的日期) -> 归集日期
        short = re.split(r"[(（]", zh)[0]
        if short:
            names.setdefault(normalise_header(short), name)
    for alias, target in aliases.items():
        if target in dict(columns):
            names.setdefault(normalise_header(alias), target)
    return names


def normalise_header(text: str) -> str:
    return "".join(str(text).translate(_TRANS).split()).lower()


@dataclass(frozen=True)
class HeaderGuess:
    """The row taken as the header, and how well it matched (for the preview)."""

    row: int  # 0-based index among the file's rows; -1 when none qualified
    matches: int  # cells naming a known column
    cells: int  # non-empty cells
    runner_up: int  # the next best row's matches (to show how clear the choice was)


def find_header(
    rows: list[list[str | None]], known: dict[str, str], scan: int, min_matches: int = 2
) -> HeaderGuess:
    """The row among the first ``scan`` that names the most known columns (the earliest on
    a tie). A wide export with three known headers among 27 is still found: the share of
    matching cells is reported, not required."""
    scored = []
    for i, row in enumerate(rows[:scan]):
        cells = [normalise_header(c) for c in row if c is not None and str(c).strip()]
        hits = len({known[c] for c in cells if c in known})
        scored.append((hits, -i, len(cells)))
    if not scored:
        return HeaderGuess(-1, 0, 0, 0)
    ranked = sorted(scored, reverse=True)
    best, neg_i, width = ranked[0]
    runner = ranked[1][0] if len(ranked) > 1 else 0
    if best < min_matches:
        return HeaderGuess(-1, best, width, runner)
    return HeaderGuess(-neg_i, best, width, runner)


def _decode(path: Path, data: bytes, encoding: str | None = None) -> tuple[str, str]:
    if encoding:
        try:
            return data.decode(encoding), encoding
        except (UnicodeDecodeError, LookupError) as exc:
            raise StructuralError(
                f"{path}: cannot be decoded as {encoding} ({exc}) [rule: file encoding]"
            ) from None
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", errors="strict"), "utf-8-sig"
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16"), "utf-16"
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError as utf8_error:
        try:
            # GB18030 is a superset of GBK and GB2312
            return data.decode("gb18030"), "gb18030"
        except UnicodeDecodeError:
            raise StructuralError(
                f"{path}: cannot be decoded as UTF-8 (byte {utf8_error.start}) or GB18030 "
                "[rule: file encoding]"
            ) from None


def _cell(value: object) -> str | None:
    """A typed cell (workbook, Parquet) as the text a CSV would hold; None when empty (a
    Parquet NaN included: it is a missing number, never the text "nan")."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, dt.datetime):
        return (
            value.strftime("%Y-%m-%d") if value.time() == dt.time(0) else value.isoformat(sep=" ")
        )
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    text = str(value)
    return text if text.strip() else None


def _workbook_rows(path: Path, fmt: str, sheet: str | int) -> list[list[str | None]]:
    from python_calamine import CalamineWorkbook

    try:
        wb = CalamineWorkbook.from_path(str(path))
    except Exception as exc:
        raise StructuralError(
            f"{path}: not a readable {fmt} workbook ({type(exc).__name__}: {exc}) "
            "[rule: file format]"
        ) from None
    try:
        try:
            ws = (
                wb.get_sheet_by_name(sheet)
                if isinstance(sheet, str)
                else wb.get_sheet_by_index(sheet)
            )
        except Exception:
            raise StructuralError(
                f"{path}: no worksheet {sheet!r}; it has {', '.join(wb.sheet_names)} "
                "[rule: worksheet]"
            ) from None
        return [[_cell(v) for v in row] for row in ws.to_python(skip_empty_area=False)]
    finally:
        wb.close()


def _sniff_delimiter(text: str) -> str:
    sample = text[:65536]
    first = sample.splitlines()[:30]
    counts = {d: sum(line.count(d) for line in first) for d in (",", "\t", ";", "|")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] > counts[","] * 1.5 else ","


def rows_of(
    path: Path, fmt: str, sheet: str | int = 0, encoding: str | None = None
) -> tuple[list[list[str | None]], str]:
    """Every row of a CSV, workbook or Parquet file as text cells (None when blank), and the
    encoding (the format's name for a binary format)."""
    if fmt in ("xlsx", "xls"):
        return _workbook_rows(path, fmt, sheet), fmt
    if fmt == "parquet":
        return _parquet_rows(path), fmt
    data = path.read_bytes()
    if data[:64].lstrip().lower().startswith((b"<html", b"<!doctype", b"<table", b"<?xml")):
        raise StructuralError(
            f"{path}: an HTML or XML page saved with a spreadsheet name, not a CSV or workbook; "
            "open it and save it as .xlsx [rule: file format]"
        )
    text, encoding = _decode(path, data, encoding)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_sniff_delimiter(text))
    return [[c if c.strip() else None for c in row] for row in reader], encoding


def _parquet_rows(path: Path) -> list[list[str | None]]:
    """A Parquet file (or folder of parts) as text rows under its column names (for a
    source mapping, which rewrites text)."""
    import pyarrow.parquet as pq

    files = sorted(path.glob("*.parquet")) if path.is_dir() else [path]
    t = pa.concat_tables([pq.read_table(f) for f in files]) if files else pa.table({})
    cols = [[_cell(v) for v in t.column(i).to_pylist()] for i in range(t.num_columns)]
    return [list(t.column_names), *[list(r) for r in zip(*cols, strict=True)]]


def read_text_table(
    table: str,
    path: Path,
    fmt: str,
    aliases: dict[str, str],
    scan: int,
    mapping: SourceMapping | None = None,
    delivery_date: dt.date | None = None,
    optional: frozenset[str] = frozenset(),
) -> tuple[pa.Table, Source]:
    """A CSV or workbook export (or, under a source mapping, any file) as text columns
    ``raw__<column>``, with its source rows, the mapping's value rewriting applied, and
    ``_filtered`` set on the rows a mapping's filter leaves out. Under a mapping's
    ``unpivot`` each non-blank cell of its columns is a row. ``optional``: required columns
    the file may lack (a registry of identifiers only, ``registry: ids_only``)."""
    spec = TABLES[table]
    unpivot = mapping.unpivot if mapping is not None else None
    if mapping is not None:
        scan = mapping.header.scan_rows
    if fmt == "parquet":
        rows, encoding = _parquet_rows(path), ""
    else:
        sheet = mapping.header.sheet if mapping is not None else 0
        enc = mapping.encoding if mapping is not None else None
        rows, encoding = rows_of(path, fmt, sheet, enc)
    if not any(any(c for c in r) for r in rows):
        raise StructuralError(f"{path}: the file is empty, no header row [rule: header row]")
    known = header_map(spec, aliases, mapping)
    # the unpivoted headers name the file's columns too (each its own)
    wide = {normalise_header(hd): f"unpivot:{hd}" for hd in (unpivot.columns if unpivot else {})}
    guess = find_header(rows, {**known, **wide}, scan, mapping.header.min_matches if mapping else 2)
    where = f"source {mapping.source}" if mapping is not None else f"table {table}"
    if guess.row < 0:
        hint = (
            f"; map its headers in configs/sources/ (the best row named {guess.matches} "
            f"known column(s) of {guess.cells} cells)"
        )
        raise StructuralError(
            f"{path}: no header row naming at least two columns of {table} in the first "
            f"{scan} rows ({where}){hint} [rule: header row]"
        )
    h = guess.row
    header = [str(c) if c is not None else "" for c in rows[h]]
    src = Source(
        table,
        path,
        fmt,
        encoding=encoding,
        title_rows=h,
        mapping=mapping.source if mapping is not None else "",
        header_matches=guess.matches,
        header_cells=guess.cells,
    )
    positions: dict[str, int] = {}
    by_header = {normalise_header(t): i for i, t in enumerate(header) if t.strip()}
    ignore = {normalise_header(x) for x in mapping.ignore} if mapping is not None else set()
    if mapping is not None:
        # the mapping's headers in its order of preference: the first one present wins
        for target, m in mapping.columns.items():
            for hd in m.headers:
                if normalise_header(hd) in by_header:
                    positions[target] = by_header[normalise_header(hd)]
                    src.columns[target] = header[positions[target]]
                    break
    for i, text in enumerate(header):
        key = normalise_header(text)
        hit = known.get(key)
        if hit is None or (mapping is not None and hit in mapping.columns):
            if text.strip() and i not in positions.values() and key not in ignore | set(wide):
                src.ignored_columns.append(text)
            continue
        if hit in positions:
            if positions[hit] == i:
                continue
            raise StructuralError(
                f"{path}: columns {header[positions[hit]]!r} and {text!r} both map to {table}.{hit} "
                f"({where}) [rule: one column per field]"
            )
        positions[hit] = i
        src.columns[hit] = text
    consts: dict[str, str | None] = {}
    if mapping is not None:
        for target, m in mapping.columns.items():
            if m.value is not None:
                consts[target] = constant(m, delivery_date, f"{where}, column {target}")
                src.constants.append(target)
    # a column the mapping fills (a constant, or a default for blank cells) is supplied
    filled = (
        [t for t, m in mapping.columns.items() if m.default is not None]
        if mapping is not None
        else []
    )
    if unpivot is not None:
        lacking = [hd for hd in unpivot.columns if normalise_header(hd) not in by_header]
        if lacking:
            raise StructuralError(
                f"{path}: unpivot column {lacking[0]!r} of {where} is not a header of the "
                "file [rule: source mapping]"
            )
        src.columns[unpivot.name] = src.columns[unpivot.value] = "|".join(unpivot.columns)
    _check_required(spec, path, {**src.columns, **dict.fromkeys([*consts, *filled, *optional], "")})
    data = rows[h + 1 :]
    if mapping is not None and mapping.blank_texts:
        blanks = frozenset(b.strip() for b in mapping.blank_texts)
        data = [[None if c is not None and c.strip() in blanks else c for c in r] for r in data]
    width = len(header)
    cols: dict[str, list[str | None]] = {f"raw__{name}": [] for name in positions}
    extra: list[str | None] = []
    filters = mapping.filters if mapping is not None else []
    filter_at = []
    for f in filters:
        if normalise_header(f.column) not in by_header:
            raise StructuralError(
                f"{path}: filter column {f.column!r} of {where} is not a header of the file "
                "[rule: source mapping]"
            )
        filter_at.append((by_header[normalise_header(f.column)], f))
    filtered: list[str | None] = []
    for row in data:
        for name, i in positions.items():
            cols[f"raw__{name}"].append(row[i] if i < len(row) else None)
        spill = [c for c in row[width:] if c]
        extra.append(";".join(spill) if spill else None)
        why = None
        for i, f in filter_at:
            if not f.keeps(row[i] if i < len(row) else None):
                why = f.describe()
                break
        filtered.append(why)
    source_rows = list(range(h + 2, h + 2 + len(data)))
    if unpivot is not None:
        cols, extra, filtered, source_rows = _unpivot(
            unpivot, data, by_header, cols, extra, filtered, source_rows, src
        )
    n = len(source_rows)
    if mapping is not None:
        for target, m in mapping.columns.items():
            if not m.transforms:
                continue
            col = spec.column(target) if target in spec.column_names else None
            mapper = ValueMapper(
                m,
                bool(col and col.is_list),
                delivery_date,
                f"{where}, column {target}",
                bare=bool(col and col.dtype == "float" and col.unit != "万元"),
            )
            key = f"raw__{target}"
            values = cols.get(key, [consts.get(target)] * n)
            cols[key] = [mapper(v)[0] for v in values]
            consts.pop(target, None)
            if target not in positions and target not in src.constants:
                src.constants.append(target)
    if mapping is not None:
        # a passthrough amount in 元 or 亿元: a bare number gets its unit (stored in 万元)
        for p in mapping.passthrough.values():
            key = f"raw__x_{p.name}"
            if p.unit is not None and key in cols:
                cols[key] = [
                    v + p.unit if v is not None and _BARE_NUMBER.match(v.strip()) else v
                    for v in cols[key]
                ]
    arrays = {k: pa.array(v, type=pa.string()) for k, v in cols.items()}
    for target, value in consts.items():
        arrays[f"raw__{target}"] = pa.array([value] * n, type=pa.string())
    arrays["_extra"] = pa.array(extra, type=pa.string())
    arrays["_source_file"] = pa.array([path.name] * n, type=pa.string())
    # the line or spreadsheet row a person would look up (1-based, counting title rows)
    arrays["_source_row"] = pa.array(source_rows, type=pa.int64())
    arrays["_source_name"] = pa.array([src.mapping or None] * n, type=pa.string())
    arrays["_filtered"] = pa.array(filtered, type=pa.string())
    src.rows_filtered = sum(1 for f in filtered if f)
    return pa.table(arrays), src


def _unpivot(
    u: Unpivot,
    data: list[list[str | None]],
    by_header: dict[str, int],
    cols: dict[str, list[str | None]],
    extra: list[str | None],
    filtered: list[str | None],
    source_rows: list[int],
    src: Source,
) -> tuple[dict[str, list[str | None]], list[str | None], list[str | None], list[int]]:
    """One row per non-blank cell of the unpivoted columns, each keeping its file row's other
    columns, spill, filter verdict and row number; blank cells are counted in ``src``."""
    at = [(by_header[normalise_header(hd)], code) for hd, code in u.columns.items()]
    out: dict[str, list[str | None]] = {k: [] for k in cols}
    out[f"raw__{u.name}"], out[f"raw__{u.value}"] = [], []
    o_extra: list[str | None] = []
    o_filtered: list[str | None] = []
    o_rows: list[int] = []
    blank = 0
    for r, row in enumerate(data):
        for i, code in at:
            cell = row[i] if i < len(row) else None
            if cell is None or not str(cell).strip():
                blank += 1
                continue
            for k, v in cols.items():
                out[k].append(v[r])
            out[f"raw__{u.name}"].append(code)
            out[f"raw__{u.value}"].append(cell)
            o_extra.append(extra[r])
            o_filtered.append(filtered[r])
            o_rows.append(source_rows[r])
    src.unpivot = {
        "file_rows": len(data),
        "columns": len(at),
        "cells": len(data) * len(at),
        "blank_cells": blank,
        "rows": len(o_rows),
    }
    return out, o_extra, o_filtered, o_rows


def parquet_source(
    table: str, path: Path, aliases: dict[str, str], optional: frozenset[str] = frozenset()
) -> Source:
    """Map a Parquet file's (or folder of parts') columns; the data stay on disk for DuckDB.
    ``optional``: required columns it may lack (as for `read_text_table`)."""
    import pyarrow.parquet as pq

    spec = TABLES[table]
    files = sorted(path.glob("*.parquet")) if path.is_dir() else [path]
    if not files:
        raise StructuralError(f"{path}: folder holds no .parquet files [rule: file format]")
    try:
        schema = pq.read_schema(files[0])
        names = schema.names
    except Exception as exc:
        raise StructuralError(
            f"{files[0]}: not a readable Parquet file ({exc}) [rule: file format]"
        ) from None
    known = header_map(spec, aliases)
    src = Source(table, path, "parquet", parquet_files=files)
    for text in names:
        target = known.get(normalise_header(text))
        if target is None:
            src.ignored_columns.append(text)
        elif target in src.columns:
            raise StructuralError(
                f"{path}: columns {src.columns[target]!r} and {text!r} both map to {table}.{target}"
            )
        else:
            src.columns[target] = text
            dtype = spec.column(target).dtype if target in spec.column_names else "string"
            is_native = _NATIVE.get(dtype)
            if is_native is not None and is_native(schema.field(text).type):
                src.native.add(target)
    _check_required(spec, path, {**src.columns, **dict.fromkeys(optional, "")})
    return src


_NATIVE = {
    "date": pa.types.is_date,
    "float": pa.types.is_floating,
    "int": pa.types.is_integer,
    "bool": pa.types.is_boolean,
}


def _check_required(spec: Table, path: Path, present: dict[str, str]) -> None:
    for col in spec.columns:
        if col.nullable or col.name in present:
            continue
        if (
            col.is_uscc
            and col.name == "uscc"
            and spec.name != "enterprises"
            and (set(IDENTITY_COLUMNS) & set(present))
        ):
            continue  # identified by name or another registration number instead
        if spec.name == "inspections" and col.name == "problem_found" and "result" in present:
            continue  # derived from the result (pipelines.intake.engine)
        raise StructuralError(
            f"{path}: required column {spec.name}.{col.name} ({col.zh}) is missing [rule: required column]"
        )
