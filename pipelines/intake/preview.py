"""Preview a source mapping on one file before anything is ingested (`riskclass preview-source`).

It answers the questions a bureau's IT staff have when a new export arrives:

* **Header**: which row was taken as the header, how many of its cells named a column, and
  how clear the choice was (the runner-up row's count).
* **Columns**: each header's fate (mapped to which contract column, and whether by the
  mapping, the contract's own names or an alias; kept as a passthrough column; used by a
  filter; ignored), and the contract columns nobody supplies.
* **Values**: for every column the mapping rewrites, and every coded column, each distinct
  text with its count, what it became and how (``mapped``, ``keyword``, ``extracted``,
  ``unit``, ``default``, ``otherwise``, ``as_is``), and whether the result is a valid code.
* **Rows**: what ingestion would do with each row, found by running the real engine on a
  scratch copy (the registry taken from ``--registry``, an interim folder): accepted, or
  quarantined under which rule and why; and how enterprises were resolved.

Nothing outside the scratch folder is written unless ``--out`` asks for the JSON.
"""

from __future__ import annotations

import datetime as dt
import shutil
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from contract.tables import TABLES, VOCABULARIES
from pipelines import store
from pipelines.intake.config import IngestConfig
from pipelines.intake.readers import (
    StructuralError,
    find_header,
    header_map,
    normalise_header,
    rows_of,
    sniff,
)
from pipelines.intake.sources import SourceError, SourceMapping, ValueMapper, load_sources

#: Columns whose values the preview never lists: identifiers, where personal ID numbers hide.
PRIVATE = frozenset(
    {"uscc", "linked_uscc", "reg_no", "org_code", "taxpayer_no", "person_id", "name"}
)


@dataclass
class Preview:
    """What `preview` found; `to_dict` is the JSON layout."""

    file: str
    table: str
    mapping: str
    format: str
    encoding: str
    header: dict[str, Any] = field(default_factory=dict)
    columns: list[dict[str, Any]] = field(default_factory=list)
    missing_required: list[str] = field(default_factory=list)
    values: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    rows: dict[str, Any] = field(default_factory=dict)
    quarantine_sample: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "table": self.table,
            "mapping": self.mapping,
            "format": self.format,
            "encoding": self.encoding,
            "header": self.header,
            "columns": self.columns,
            "missing_required": self.missing_required,
            "values": self.values,
            "rows": self.rows,
            "quarantine_sample": self.quarantine_sample,
        }


def choose_mapping(
    cfg: IngestConfig, file: Path, mapping: Path | None, table: str | None
) -> SourceMapping | None:
    """The mapping named by ``mapping`` (a YAML file), else the one of the configured
    sources folder whose patterns claim the file; None with ``table`` (contract names)."""
    if mapping is not None:
        folder = Path(tempfile.mkdtemp(prefix="riskclass-map-"))
        try:
            shutil.copy2(mapping, folder / mapping.name)
            found = load_sources(folder)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        return found[0]
    if table is not None:
        if table not in TABLES:
            raise SourceError(f"preview: unknown table {table!r}")
        return None
    claims = (
        [m for m in load_sources(Path(cfg.sources)) if m.matches(file.name)] if cfg.sources else []
    )
    if not claims:
        raise SourceError(
            f"preview: no source mapping claims {file.name}; give --mapping FILE.yaml or "
            "--table NAME (to read it by the contract's own column names)"
        )
    return claims[0]


def preview(
    cfg: IngestConfig,
    file: Path,
    mapping: SourceMapping | None,
    table: str | None = None,
    registry: Path | None = None,
    as_of: str | None = None,
    delivery_date: dt.date | None = None,
    sample: int = 20,
) -> Preview:
    """Explain how ``file`` would be read and ingested under ``mapping`` (see the module)."""
    name = mapping.table if mapping is not None else (table or file.stem)
    if name not in TABLES:
        raise SourceError(f"preview: unknown table {name!r}")
    spec = TABLES[name]
    fmt = sniff(file)
    result = Preview(str(file), name, mapping.source if mapping else "", fmt, "")
    if fmt != "parquet":
        sheet = mapping.header.sheet if mapping is not None else 0
        rows, result.encoding = rows_of(file, fmt, sheet, mapping.encoding if mapping else None)
        _explain_header(result, rows, spec.name, cfg, mapping, delivery_date)
    result.rows, result.quarantine_sample = _dry_run(
        cfg, file, mapping, name, registry, as_of, delivery_date, sample
    )
    return result


def _explain_header(
    result: Preview,
    rows: list[list[str | None]],
    table: str,
    cfg: IngestConfig,
    mapping: SourceMapping | None,
    delivery_date: dt.date | None,
) -> None:
    spec = TABLES[table]
    known = header_map(spec, cfg.column_aliases, mapping)
    unpivot = mapping.unpivot if mapping is not None else None
    unpivoted = {
        normalise_header(h): code for h, code in (unpivot.columns if unpivot else {}).items()
    }
    scan = mapping.header.scan_rows if mapping is not None else cfg.header_scan_rows
    guess = find_header(
        rows,
        {**known, **{k: f"unpivot:{k}" for k in unpivoted}},
        scan,
        mapping.header.min_matches if mapping else 2,
    )
    result.header = {
        "row": guess.row + 1 if guess.row >= 0 else None,  # 1-based, as a spreadsheet shows it
        "matched_cells": guess.matches,
        "non_empty_cells": guess.cells,
        "runner_up_matches": guess.runner_up,
        "title_rows_above": max(guess.row, 0),
        "verdict": (
            "no header row found"
            if guess.row < 0
            else "clear"
            if guess.matches > guess.runner_up
            else "ambiguous: another row names as many columns"
        ),
    }
    if guess.row < 0:
        return
    header = [str(c) if c is not None else "" for c in rows[guess.row]]
    # one header may feed several columns (检查结果 -> result and problem_found)
    explicit: dict[str, list[str]] = {}
    for t, m in mapping.columns.items() if mapping else []:
        for h in m.headers:
            explicit.setdefault(normalise_header(h), []).append(t)
    passthrough = (
        {normalise_header(h): f"x_{p.name}" for h, p in mapping.passthrough.items()}
        if mapping
        else {}
    )
    filters = {normalise_header(f.column) for f in mapping.filters} if mapping else set()
    ignore = {normalise_header(x) for x in mapping.ignore} if mapping else set()
    aliases = {normalise_header(a) for a in cfg.column_aliases}
    supplied: set[str] = set()
    for i, text in enumerate(header):
        key = normalise_header(text)
        if not key:
            continue
        entry: dict[str, Any] = {"position": i + 1, "header": text}
        if key in passthrough:
            entry.update(fate="passthrough", column=passthrough[key])
        elif unpivot is not None and key in unpivoted:
            entry.update(
                fate="unpivoted",
                column=f"{unpivot.name} = {unpivoted[key]}, {unpivot.value} = the cell",
            )
            supplied.update((unpivot.name, unpivot.value))
        elif key in explicit:
            entry.update(fate="mapped", column=", ".join(explicit[key]), by="source mapping")
            supplied.update(explicit[key])
        elif key in known:
            by = "alias (configs/ingest.yaml)" if key in aliases else "contract name"
            entry.update(fate="mapped", column=known[key], by=by)
            supplied.add(known[key])
        elif key in ignore:
            entry.update(fate="ignored (listed in ignore)")
        else:
            entry.update(fate="ignored (not mapped)")
        if key in filters:
            entry["filter"] = True
        result.columns.append(entry)
    constants = {t for t, m in (mapping.columns.items() if mapping else []) if m.value is not None}
    supplied |= constants
    identifiers = {"name", "reg_no", "org_code", "taxpayer_no"}
    for c in spec.columns:
        if c.nullable or c.name in supplied:
            continue
        if c.name == "uscc" and table != "enterprises" and supplied & identifiers:
            continue
        if table == "inspections" and c.name == "problem_found" and "result" in supplied:
            continue  # derived from the result
        result.missing_required.append(c.name)
    # value coverage
    data = rows[guess.row + 1 :]
    position = {normalise_header(h): i for i, h in enumerate(header) if h.strip()}
    for target, m in mapping.columns.items() if mapping else []:
        if target in PRIVATE:
            continue  # identifiers (personal ID numbers among them) are never listed
        col = spec.column(target) if target in spec.column_names else None
        at = next(
            (position[normalise_header(h)] for h in m.headers if normalise_header(h) in position),
            None,
        )
        if at is None and m.value is None:
            continue
        texts = Counter(
            (r[at] if at is not None and at < len(r) else None) if m.value is None else m.value
            for r in data
        )
        if not (m.transforms or (col is not None and col.vocabulary in VOCABULARIES)):
            continue
        mapper = ValueMapper(m, bool(col and col.is_list), delivery_date, f"column {target}")
        codes = VOCABULARIES.get(col.vocabulary or "") if col is not None else None
        out = []
        for cell, n in texts.most_common(50):
            value: str | None
            try:
                value, how = mapper(cell)
            except SourceError as exc:
                value, how = None, f"error: {exc}"
            entry = {"text": cell, "rows": n, "value": value, "how": how}
            if codes is not None and value is not None:
                entry["valid_code"] = all(v in codes for v in str(value).split(";"))
            out.append(entry)
        result.values[target] = out
    for name in sorted(supplied - set(mapping.columns if mapping else {})):
        vcol = spec.column(name) if name in spec.column_names else None
        if vcol is None or vcol.vocabulary not in VOCABULARIES:
            continue
        at = next((i for i, h in enumerate(header) if known.get(normalise_header(h)) == name), None)
        if at is None:
            continue
        codes = VOCABULARIES[vcol.vocabulary or ""]
        labels = {zh: code for code, (zh, _) in codes.items()}
        texts = Counter(r[at] if at < len(r) else None for r in data)
        result.values[name] = [
            {
                "text": t,
                "rows": n,
                "value": t if t in codes else labels.get((t or "").strip()),
                "how": "as_is",
                "valid_code": t is None or t in codes or (t or "").strip() in labels,
            }
            for t, n in texts.most_common(50)
        ]


def _dry_run(
    cfg: IngestConfig,
    file: Path,
    mapping: SourceMapping | None,
    table: str,
    registry: Path | None,
    as_of: str | None,
    delivery_date: dt.date | None,
    sample: int,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Ingest the file alone into a scratch folder seeded with the registry; report rows."""
    from pipelines.intake.engine import IngestError, run_ingest

    scratch = Path(tempfile.mkdtemp(prefix="riskclass-preview-"))
    try:
        delivery = scratch / "delivery"
        delivery.mkdir()
        maps = scratch / "sources"
        maps.mkdir()
        target = file.name if mapping is not None else f"{table}{file.suffix or '.csv'}"
        shutil.copy2(file, delivery / target)
        if mapping is not None:
            # the file is previewed under this mapping, whatever its files patterns say
            claimed = mapping.model_copy(update={"files": [target]})
            (maps / f"{mapping.source}.yaml").write_text(
                claimed.model_dump_json(by_alias=True, exclude_none=True), encoding="utf-8"
            )
        out = scratch / "interim"
        out.mkdir()
        copied: set[str] = set()
        if registry is not None:
            for t in ("enterprises", "changes"):
                snap = store.open_table(registry, t) if t != table else None
                if snap is not None:
                    # written in the old single-file layout: the preview's ingest migrates it
                    pq.write_table(snap.arrow(), store.legacy_file(out, t))
                    copied.add(t)
        others = {
            t: "not part of the preview"
            for t in TABLES
            if t not in (table, "enterprises") and t not in copied
        }
        run_cfg = cfg.model_copy(
            update={
                "sources": str(maps) if mapping is not None else None,
                "unavailable": others,
                "accept_floor": 0.0,
                "accept_floors": {},
            }
        )
        if table != "enterprises" and "enterprises" not in copied:
            raise SourceError(
                "preview: give --registry (an interim folder holding the enterprises table) so that "
                "enterprises can be resolved; without it every row would be an unknown enterprise"
            )
        try:
            report = run_ingest(run_cfg, delivery, out, as_of=as_of, delivery_date=delivery_date)
        except (StructuralError, IngestError) as exc:
            return {"error": str(exc)}, []
        tr = next(r for r in report.tables if r.table == table)
        rows = {
            "read": tr.rows_read,
            "accepted": tr.accepted,
            "quarantined": tr.quarantined,
            "quarantined_by_rule": tr.by_rule,
            "resolution": tr.resolution,
            "notes": tr.notes,
        }
        q = store.open_quarantine(out, table)
        quarantine: list[dict[str, Any]] = []
        if q is not None:
            frame = q.pandas()
            keep = [
                c
                for c in ("source_row", "rule", "rule_column", "reason_zh", "reason_en")
                if c in frame
            ]
            quarantine = (
                frame[keep]
                .head(sample)
                .astype(object)
                .where(frame[keep].head(sample).notna(), None)
                .to_dict("records")
            )
        return rows, quarantine
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
