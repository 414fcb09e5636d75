"""Reading departmental exports: find each contract table's file, decode it, find its
header under any title rows, and map its columns (English, Chinese or alias names) to
the contract. Every value is kept as text here; typing happens in SQL (`pipelines.intake.rules`).

Structural faults - a required table or column missing, a file that cannot be decoded, two
files for one table - raise `StructuralError` naming the file, the column and the rule.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa

from contract.tables import TABLES, Table
from pipelines.intake.rules import FULL_WIDTH, HALF_WIDTH

FORMATS = {".parquet": "parquet", ".csv": "csv", ".xlsx": "xlsx"}
IDENTITY_COLUMNS = {
    "name": ("企业名称", "enterprise name"),
    "reg_no": ("注册号", "registration number"),
}
_TRANS = str.maketrans(FULL_WIDTH, HALF_WIDTH)


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

    def describe(self) -> dict[str, object]:
        return {
            "file": str(self.path),
            "format": self.file_format,
            "encoding": self.encoding,
            "title_rows": self.title_rows,
            "ignored_columns": self.ignored_columns,
            "absent_optional_columns": [
                c.name for c in TABLES[self.table].columns if c.name not in self.columns
            ],
        }


def discover(source: Path) -> tuple[dict[str, Path], list[str]]:
    """Each contract table's file or folder under ``source``, and the files that are none."""
    if not source.is_dir():
        raise StructuralError(f"{source}: the source folder does not exist")
    found: dict[str, Path] = {}
    unknown: list[str] = []
    for path in sorted(source.iterdir()):
        if path.name.startswith(".") or path.name in ("manifest.json",):
            continue
        _inside(source, path)
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


def header_map(spec: Table, aliases: dict[str, str]) -> dict[str, str]:
    """Every header text a department may use for a column -> the contract column name."""
    names: dict[str, str] = {}
    columns = [(c.name, c.zh) for c in spec.columns]
    if spec.name != "enterprises":
        columns += [(k, v[0]) for k, v in IDENTITY_COLUMNS.items()]
    for name, zh in columns:
        names[normalise_header(name)] = name
        names[normalise_header(zh)] = name
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


def _find_header(
    rows: list[list[str | None]], known: dict[str, str], scan: int, share: float
) -> int:
    for i, row in enumerate(rows[:scan]):
        cells = [normalise_header(c) for c in row if c is not None and str(c).strip()]
        if len(cells) < 2:
            continue
        hits = sum(c in known for c in cells)
        if hits >= 2 and hits / len(cells) >= share:
            return i
    return -1


def _decode(path: Path, data: bytes) -> tuple[str, str]:
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", errors="strict"), "utf-8-sig"
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
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return (
            value.strftime("%Y-%m-%d") if value.time() == dt.time(0) else value.isoformat(sep=" ")
        )
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    text = str(value)
    return text if text.strip() else None


def _rows_of(path: Path, fmt: str) -> tuple[list[list[str | None]], str]:
    if fmt == "xlsx":
        from openpyxl import load_workbook

        try:
            wb = load_workbook(path, read_only=True, data_only=True)
        except Exception as exc:
            raise StructuralError(
                f"{path}: not a readable .xlsx workbook ({exc}) [rule: file format]"
            ) from None
        ws = wb.worksheets[0]
        rows = [[_cell(v) for v in row] for row in ws.iter_rows(values_only=True)]
        wb.close()
        return rows, "xlsx"
    data = path.read_bytes()
    text, encoding = _decode(path, data)
    reader = csv.reader(io.StringIO(text, newline=""))
    return [[c if c.strip() else None for c in row] for row in reader], encoding


def read_text_table(
    table: str, path: Path, fmt: str, aliases: dict[str, str], scan: int, share: float
) -> tuple[pa.Table, Source]:
    """A CSV or XLSX export as text columns ``raw__<column>``, with its source rows."""
    spec = TABLES[table]
    rows, encoding = _rows_of(path, fmt)
    if not any(any(c for c in r) for r in rows):
        raise StructuralError(f"{path}: the file is empty, no header row [rule: header row]")
    known = header_map(spec, aliases)
    h = _find_header(rows, known, scan, share)
    if h < 0:
        raise StructuralError(
            f"{path}: no header row naming the columns of {table} in the first {scan} rows [rule: header row]"
        )
    header = [str(c) if c is not None else "" for c in rows[h]]
    src = Source(table, path, fmt, encoding=encoding, title_rows=h)
    positions: dict[str, int] = {}
    for i, text in enumerate(header):
        target = known.get(normalise_header(text))
        if target is None:
            if text.strip():
                src.ignored_columns.append(text)
            continue
        if target in positions:
            raise StructuralError(
                f"{path}: columns {header[positions[target]]!r} and {text!r} both map to {table}.{target} "
                "[rule: one column per field]"
            )
        positions[target] = i
        src.columns[target] = text
    _check_required(spec, path, src.columns)
    data = rows[h + 1 :]
    width = len(header)
    cols: dict[str, list[str | None]] = {f"raw__{name}": [] for name in positions}
    extra: list[str | None] = []
    for row in data:
        for name, i in positions.items():
            cols[f"raw__{name}"].append(row[i] if i < len(row) else None)
        spill = [c for c in row[width:] if c]
        extra.append(";".join(spill) if spill else None)
    n = len(data)
    arrays = {k: pa.array(v, type=pa.string()) for k, v in cols.items()}
    arrays["_extra"] = pa.array(extra, type=pa.string())
    arrays["_source_file"] = pa.array([path.name] * n, type=pa.string())
    # the line or spreadsheet row a person would look up (1-based, counting title rows)
    arrays["_source_row"] = pa.array(range(h + 2, h + 2 + n), type=pa.int64())
    return pa.table(arrays), src


def parquet_source(table: str, path: Path, aliases: dict[str, str]) -> Source:
    """Map a Parquet file's (or folder of parts') columns; the data stay on disk for DuckDB."""
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
    _check_required(spec, path, src.columns)
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
            and ({"name", "reg_no"} & set(present))
        ):
            continue  # identified by name or registration number instead
        raise StructuralError(
            f"{path}: required column {spec.name}.{col.name} ({col.zh}) is missing [rule: required column]"
        )
