"""The ingestion engine: a delivery validated, typed and accounted for, table by table.

For each contract table the delivery's files are read as text (`pipelines.intake.readers`):
a file named after its table, or any files a source mapping claims (`pipelines.intake.sources`,
``configs/sources/*.yaml``: headers, code words, units, values inside text, filters, a
double-random round's declared design). They are staged in DuckDB, typed and normalised by
SQL generated from the contract (`pipelines.intake.rules`), resolved to the registry's
enterprise (by USCC; else by registration number, organisation code, taxpayer number, the
exact name or a former name; else by probabilistic name linkage, `pipelines.intake.linkage`),
and checked, plausibility bounds included. Rows that break a rule go to the ``quarantine/<table>``
table with the rule and a reason in Chinese and English; the others are merged by natural key
into the ``<table>`` Delta table (`pipelines.intake.delta`, `pipelines.store`).
Great Expectations validates every staged table with a suite generated from the same
contract (`pipelines.intake.expectations`) and writes Data Docs. Counts reconcile per table
and rule (`pipelines.intake.reconciliation`): rows read = accepted + quarantined, or the run
fails.

Output folder (the interim store, `pipelines.store`; a run's table commits become visible
together when its state record is written, last, so a killed run leaves the previous state)::

    <out>/<table>/                     accepted rows (a Delta table), typed as the contract
                                       says, with their lineage (_source_file, _source_row,
                                       _source_name, _delivery, _resolved_by,
                                       _resolution_score, _notes)
    <out>/quarantine/<table>/          rejected rows: raw text, source row, rule, reasons,
                                       the delivery they came in (a Delta table)
    <out>/_state/<n>.json, <n>/        the state this run left, with its side files:
    <out>/review/<table>.csv           names waiting for a person to confirm their enterprise
    <out>/reconciliation.json          per table and rule; also printed by the CLI; its
                                       ``quality`` section: collection quality per table
                                       and department (`pipelines.intake.quality`)
    <out>/availability.json            tables declared unavailable, and the groups they leave;
                                       coverage: each event table's first and last event date
    <out>/validation/                  Great Expectations project and Data Docs (HTML)

(the files at the top are copies of the current state's, for people; readers ask
`pipelines.store`). Personal ID numbers found in identifier columns are replaced by a salted
hash before anything is written. A run whose accepted share of a delivered table falls below
its floor fails and leaves the current state as it was (its tables' commits are undone; the
run's reconciliation and rejected rows are kept beside, in ``<out>.rejected/``, for
inspection). A folder in the old single-file layout (``<table>.parquet``) is migrated on the
next ingest.

Used by the `ingest` stage (`pipelines.ingest`) and by `feedback`, which ingests the results
it linked to their plan.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import logging
import os
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from stdnum.cn import uscc as stdnum_uscc

from contract import reference
from contract.months import month_end, parse_month
from contract.tables import GROUPS, TABLES, VOCABULARIES, Column, Table
from pipelines import store
from pipelines.intake import delta, quality, rules
from pipelines.intake.config import IngestConfig
from pipelines.intake.expectations import Validation, validate_staged
from pipelines.intake.readers import (
    FORMATS,
    IDENTITY_COLUMNS,
    Source,
    StructuralError,
    discover,
    parquet_source,
    read_text_table,
    sniff,
)
from pipelines.intake.reconciliation import IngestReport, TableReport
from pipelines.intake.rules import RULE_NAMES, Flag, literal, quote, raw
from pipelines.intake.sources import SourceError, SourceMapping, assign, load_sources
from pipelines.io import write_csv, write_json
from pipelines.store import TableSnapshot

log = logging.getLogger(__name__)

# Registry first (everything refers to it), then changes (former names resolve names).
ORDER = ("enterprises", "changes", *[t for t in TABLES if t not in ("enterprises", "changes")])
Progress = Callable[[str], None]
Inputs = list[tuple[Path, SourceMapping | None]]
#: Lineage kept on every accepted row (and carried over from earlier deliveries).
LINEAGE = (
    ("_source_file", "VARCHAR"),
    ("_source_row", "BIGINT"),
    ("_source_name", "VARCHAR"),
    ("_delivery", "VARCHAR"),
    ("_resolved_by", "VARCHAR"),
    ("_resolution_score", "DOUBLE"),
    ("_notes", "VARCHAR"),
)
#: Other identifiers a registry export may carry, kept on the registry's rows (stored name,
#: staged column): later deliveries resolve enterprises by them.
REGISTRY_ID_SOURCES = (("x_org_code", "_org_code"), ("x_taxpayer_no", "_taxpayer"))
#: Inspection results that mean no problem was found; the others mean one was.
NO_PROBLEM_RESULTS = ("no_problem", "no_relevant_activity")
PROBLEM_RESULTS = tuple(c for c in VOCABULARIES["inspection_result"] if c not in NO_PROBLEM_RESULTS)
#: A personal ID number (GB 11643, 18 characters; 20 for an individual's taxpayer number),
#: compared without spaces or hyphens.
ID_PATTERN = "^[1-8][0-9]{5}(18|19|20)[0-9]{2}(0[1-9]|1[0-2])(0[1-9]|[12][0-9]|3[01])[0-9]{3}[0-9X]([0-9]{2})?$"
#: The same inside free text (spill cells, passthrough columns): masked there.
ID_IN_TEXT = (
    "([^0-9]|^)[1-8][0-9]{5}(?:18|19|20)[0-9]{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])"
    "[0-9]{3}[0-9Xx]([^0-9]|$)"
)
ID_MASK = "[身份证号已隐去]"
_SQL_TYPES = {
    "string": "VARCHAR",
    "int": "BIGINT",
    "float": "DOUBLE",
    "date": "DATE",
    "bool": "BOOLEAN",
}


class IngestError(ValueError):
    """The run stopped: counts did not reconcile, too little was accepted, or the input is
    structurally broken."""


def _run_name(found: dict[str, Inputs], as_of: str | None) -> str:
    """Names the run by the delivery (file names and sizes) and month: same input, same name."""
    h = hashlib.sha256()
    for table, inputs in sorted(found.items()):
        for path, _ in sorted(inputs, key=lambda x: x[0].name):
            files = sorted(path.glob("*.parquet")) if path.is_dir() else [path]
            for f in files:
                h.update(f"{table}/{f.name}:{f.stat().st_size};".encode())
    return f"ingest-{as_of or 'undated'}-{h.hexdigest()[:10]}"


def plan_inputs(
    cfg: IngestConfig, source: Path
) -> tuple[dict[str, Inputs], list[str], list[SourceMapping]]:
    """Which files feed which table: those a source mapping claims, and those named after
    their table; the files that are neither; the mappings that claimed nothing."""
    try:
        mappings = load_sources(Path(cfg.sources)) if cfg.sources else []
        files = (
            [p for p in sorted(Path(source).iterdir()) if not p.name.startswith(".")]
            if Path(source).is_dir()
            else []
        )
        claimed = assign(files, mappings)
    except SourceError as exc:
        raise StructuralError(str(exc)) from None
    found, unknown = discover(Path(source), frozenset(p.name for p in claimed))
    inputs: dict[str, Inputs] = {t: [(p, None)] for t, p in found.items()}
    for path, m in claimed.items():
        inputs.setdefault(m.table, []).append((path, m))
    unused = [m for m in mappings if m not in claimed.values()]
    return inputs, unknown, unused


def run_ingest(
    cfg: IngestConfig,
    source: Path,
    out: Path,
    as_of: str | None = None,
    progress: Progress | None = None,
    delivery_date: dt.date | None = None,
) -> IngestReport:
    """Ingest the delivery in ``source`` into ``out`` (merging with what is already there).

    ``delivery_date`` is the date the bureau received the delivery: source mappings may use
    it (``{delivery_date}``), for example as the received date of an export that has none."""
    if as_of is not None:
        try:
            month_end(*parse_month(as_of))
        except ValueError:
            raise IngestError(f"ingest: --as-of must be YYYY-MM, got {as_of!r}") from None
    found, unknown, unused = plan_inputs(cfg, Path(source))
    out = Path(out)
    created = not out.exists()  # a first run that stops leaves no folder behind
    # a run killed (or refused) after some table commits: back to the recorded state first
    store.recover(out)
    for name, spec in TABLES.items():
        if name in cfg.unavailable:
            continue
        if spec.required and name not in found and store.open_table(out, name) is None:
            expected = ", ".join(f"{name}{ext}" for ext in FORMATS) + f" or {name}/"
            raise StructuralError(
                f"{source}: required table {name} ({spec.zh}) is missing; expected {expected}, "
                "a source mapping (configs/sources/) whose files match, or the table declared "
                f"in unavailable: of the ingest configuration [rule: required table]"
            )
    run_name = _run_name(found, as_of)
    reports: list[TableReport] = []
    out.mkdir(parents=True, exist_ok=True)
    before = store.current_state(out)
    n = store.next_number(out)
    side = f"{store.STATE_DIR}/{n}"
    work = out / store.STATE_DIR / f".work-{n}"
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    try:
        for folder in store.SIDE_FOLDERS:  # Data Docs accumulate runs; review names stay
            kept_side = store.side_file(out, folder)
            if kept_side.is_dir():
                shutil.copytree(kept_side, work / folder)
        (work / "quarantine").mkdir()  # this run's own rejected rows (evidence if refused)
        stage_db = work / ".stage.duckdb"
        con = duckdb.connect(str(stage_db))
        try:
            con.execute(f"SET memory_limit = {literal(cfg.duckdb_memory_limit)}")
            con.execute(f"SET threads = {cfg.duckdb_threads}")
            con.execute("SET preserve_insertion_order = true")
            con.execute(f"SET temp_directory = {literal(str(work / '.spill'))}")
            base = _base_versions(con, out, before)
            _load_vocabularies(con, cfg)
            con.execute("CREATE TABLE checked_uscc (code VARCHAR PRIMARY KEY, valid BOOLEAN)")
            ingest = _Ingest(cfg, con, out, work, as_of, run_name, delivery_date, base)
            for table in ORDER:
                if progress is not None:
                    progress(table)
                reports.append(ingest.table(table, found.get(table)))
            docs = ingest.build_docs()
            collected = quality.summarise(
                ingest.quality, ingest.calendar, cfg.collection.working_days
            )
            coverage = _coverage(con, ingest.snapshots, reports)
        finally:
            con.close()
            stage_db.unlink(missing_ok=True)
            shutil.rmtree(work / ".spill", ignore_errors=True)
        report = IngestReport(run_name, as_of, reports, unknown, docs)
        report.unused_sources = [m.source for m in unused]
        report.quality = collected
        if report.unaccounted:
            raise IngestError(
                f"ingest: {report.unaccounted} rows are unaccounted for; nothing was written"
            )
        write_json(report.to_dict(), work / "reconciliation.json")
        write_json(
            {
                **_availability(cfg, reports),
                **_registry_scheme(reports),
                "coverage": coverage,
            },
            work / "availability.json",
        )
        low = _below_floor(cfg, reports)
        kept = out.with_name(f"{out.name}.rejected")
        if not low and kept.exists():
            shutil.rmtree(kept)  # an earlier refused run's evidence, superseded by this run
        if low:
            if kept.exists():
                shutil.rmtree(kept)
            shutil.copytree(work, kept)
            raise IngestError(
                "ingest: too little was accepted: "
                + "; ".join(low)
                + f". The previous state was left in place; this run's reconciliation and "
                f"rejected rows are in {kept} (quarantine/ says why each row was refused) "
                "[rule: accept floor]"
            )
        shutil.rmtree(work / "quarantine")  # kept in the quarantine tables
        final = out / side
        if final.exists():
            shutil.rmtree(final)
        os.replace(work, final)
        state = store.State(
            n,
            run_name,
            as_of,
            "ingest",
            ingest.versions,
            ingest.rows,
            ingest.qversions,
            ingest.withheld,
            side,
        )
        store.commit_state(out, state)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        store.recover(out)  # the tables committed by this run go back to the recorded state
        if created and store.current_state(out) is None:
            shutil.rmtree(out, ignore_errors=True)
        raise
    _publish_side(out, final)
    for name in TABLES:  # the old single-file layout, now migrated
        store.legacy_file(out, name).unlink(missing_ok=True)
        store.legacy_file(out / "quarantine", name).unlink(missing_ok=True)
    return report


def _base_versions(
    con: duckdb.DuckDBPyConnection, out: Path, before: store.State | None
) -> tuple[dict[str, int], dict[str, int], dict[str, int]]:
    """The versions this run starts from (tables, quarantine, withheld): the current state's;
    for a folder of the old single-file layout, its files migrated to Delta tables first."""
    if before is not None:
        return dict(before.tables), dict(before.quarantine), dict(before.withheld)
    tables: dict[str, int] = {}
    rejected: dict[str, int] = {}
    for name, spec in TABLES.items():
        legacy = store.legacy_file(out, name)
        if legacy.is_file():
            target = store.table_dir(out, name)
            delta.migrate(con, spec, legacy, target)
            tables[name] = delta.latest(target)
        legacy = store.legacy_file(out / "quarantine", name)
        if legacy.is_file():
            target = store.quarantine_dir(out, name)
            delta.migrate_quarantine(con, legacy, target)
            rejected[name] = delta.latest(target)
    return tables, rejected, {}


def _publish_side(out: Path, folder: Path) -> None:
    """Copies of the current state's side files at the top of the interim folder, for people
    (readers ask `pipelines.store.side_file`, which names the state's own copy)."""
    for name in store.SIDE_FILES:
        if (folder / name).is_file():
            tmp = out / f".{name}.tmp"
            shutil.copy2(folder / name, tmp)
            os.replace(tmp, out / name)
    for name in store.SIDE_FOLDERS:
        tmp = out / f".{name}.tmp"
        if tmp.exists():
            shutil.rmtree(tmp)
        if (folder / name).is_dir():
            shutil.copytree(folder / name, tmp)
        old = out / f".{name}.old"
        if (out / name).exists():
            shutil.rmtree(old, ignore_errors=True)
            os.replace(out / name, old)
        if tmp.exists():
            os.replace(tmp, out / name)
        shutil.rmtree(old, ignore_errors=True)


def _availability(cfg: IngestConfig, reports: list[TableReport]) -> dict[str, object]:
    """Which tables the output lacks and why, and the information groups that leaves short."""
    missing = {
        t.table: cfg.unavailable.get(t.table, "not delivered")
        for t in reports
        if t.status in ("unavailable", "absent") and not TABLES[t.table].supplementary
    }
    groups: dict[str, list[str]] = {}
    for table in missing:
        groups.setdefault(TABLES[table].group, []).append(table)
    return {
        "unavailable": {t: r for t, r in missing.items() if t in cfg.unavailable},
        "absent": sorted(t for t in missing if t not in cfg.unavailable),
        "groups_lacking": {
            g: {"zh": GROUPS[g][0], "en": GROUPS[g][1], "tables": sorted(ts)}
            for g, ts in sorted(groups.items())
        },
    }


def _coverage(
    con: duckdb.DuckDBPyConnection,
    snapshots: dict[str, TableSnapshot],
    reports: list[TableReport],
) -> dict[str, dict[str, str]]:
    """``{table: {"first": date, "last": date}}``: the earliest and latest event date
    (`contract.tables.Table.event_date`) of the accepted, merged rows of each event table
    the output holds (the registry has no event date). Features read ``first`` as the
    start of the records (left-censoring: `features.engine.Window.coverage`)."""
    out: dict[str, dict[str, str]] = {}
    for t in reports:
        spec = TABLES[t.table]
        snap = snapshots.get(t.table)
        if spec.event_date is None or t.status not in ("ingested", "kept"):
            continue
        if snap is None or not snap.files:
            continue
        col = quote(spec.event_date)
        # MIN/MAX of a Parquet column: answered from the row-group statistics
        row = con.execute(f"SELECT MIN({col}), MAX({col}) FROM {snap.sql()}").fetchone()
        if row is None or row[0] is None:
            continue  # no rows: nothing is covered
        out[t.table] = {"first": row[0].isoformat(), "last": row[1].isoformat()}
    return dict(sorted(out.items()))


def _below_floor(cfg: IngestConfig, reports: list[TableReport]) -> list[str]:
    low = []
    for t in reports:
        # rows the bureau left out on purpose (filters) and blank rows are not refusals
        wanted = t.rows_read - t.by_rule.get("filtered", 0) - t.by_rule.get("blank_row", 0)
        if t.status != "ingested" or wanted <= 0:
            continue
        share = t.accepted / wanted
        floor = cfg.floor(t.table)
        if share < floor:
            top = sorted(t.by_rule.items(), key=lambda kv: (-kv[1], kv[0]))[:3]
            rules_text = ", ".join(f"{r} {n:,}" for r, n in top)
            low.append(
                f"table {t.table}: {t.accepted:,} of {wanted:,} rows accepted "
                f"({share:.1%} < floor {floor:.0%}); top rules: {rules_text}"
            )
    return low


def _load_vocabularies(con: duckdb.DuckDBPyConnection, cfg: IngestConfig) -> None:
    served = reference.division_codes_of(cfg.served)
    successors = reference.division_successors()
    divisions = pa.table({"code": sorted(reference.all_division_codes() | served)})
    industries = pa.table({"code": sorted(reference.industry_codes())})
    con.register("_divisions", divisions)
    con.register("_served", pa.table({"code": sorted(served)}))
    con.register(
        "_successors",
        pa.table({"retired": list(successors), "successor": list(successors.values())}),
    )
    con.register("_industries", industries)
    con.execute("CREATE TABLE vocab_division AS SELECT * FROM _divisions")
    con.execute("CREATE TABLE vocab_division_accepted AS SELECT * FROM _divisions")
    con.execute("CREATE TABLE served_division AS SELECT * FROM _served")
    con.execute("CREATE TABLE division_successor AS SELECT * FROM _successors")
    con.execute("CREATE TABLE vocab_industry AS SELECT * FROM _industries")
    names = [c.name for t in TABLES.values() for c in t.checks]
    zh = [c.zh for t in TABLES.values() for c in t.checks]
    en = [c.en for t in TABLES.values() for c in t.checks]
    for b in cfg.bounds:
        names.append(b.name)
        z, e = b.reason
        zh.append(z)
        en.append(e)
    con.register("_checks", pa.table({"name": names, "zh": zh, "en": en}))
    con.execute("CREATE TABLE row_checks AS SELECT DISTINCT * FROM _checks")


EXTERNAL = {"division": "vocab_division_accepted", "industry": "vocab_industry"}


#: The registry columns the contract requires that a registry of identifiers only
#: (``registry: ids_only``) may lack: they stay NULL and their not-null rules are not applied.
IDS_ONLY_OPTIONAL = frozenset(
    c.name for c in TABLES["enterprises"].columns if not c.nullable and c.name != "uscc"
)


def _ids_only(spec: Table) -> Table:
    """The registry's table with the columns an ids-only registry may lack made nullable."""
    return dataclasses.replace(
        spec,
        columns=tuple(
            dataclasses.replace(c, nullable=True) if c.name in IDS_ONLY_OPTIONAL else c
            for c in spec.columns
        ),
    )


def _registry_scheme(reports: list[TableReport]) -> dict[str, object]:
    """``{"registry": ...}`` for availability.json when the registry carried ids only."""
    for t in reports:
        if t.table == "enterprises" and "registry" in t.source:
            return {"registry": t.source["registry"]}
    return {}


def _extended(spec: Table, inputs: Inputs) -> Table:
    """The contract table with the passthrough columns its source mappings declare."""
    extra: dict[str, Column] = {}
    for path, m in inputs:
        if m is None:
            continue
        for stored, p in m.extra_columns.items():
            col = Column(
                stored,
                p.type,
                p.zh or p.name,
                p.en or p.name,
                nullable=True,
                unit="万元" if p.unit else None,
            )
            if stored in extra and extra[stored].dtype != col.dtype:
                raise StructuralError(
                    f"{path}: passthrough column {stored} of {spec.name} is declared "
                    f"{extra[stored].dtype} by one source and {col.dtype} by another "
                    "[rule: source mapping]"
                )
            extra.setdefault(stored, col)
    if not extra:
        return spec
    return dataclasses.replace(spec, columns=spec.columns + tuple(extra.values()))


class _Ingest:
    """One run's DuckDB session: each table staged, identified, flagged, deduplicated,
    validated by Great Expectations, quarantined and merged, in `ORDER`."""

    def __init__(
        self,
        cfg: IngestConfig,
        con: duckdb.DuckDBPyConnection,
        out: Path,
        work: Path,
        as_of: str | None,
        run_name: str,
        delivery_date: dt.date | None = None,
        base: tuple[dict[str, int], dict[str, int], dict[str, int]] = ({}, {}, {}),
    ) -> None:
        self.cfg, self.con, self.out, self.work, self.as_of, self.run_name = (
            cfg,
            con,
            out,
            work,
            as_of,
            run_name,
        )
        self.delivery_date = delivery_date
        self.opaque = cfg.id_scheme == "opaque"
        self.id_pattern = cfg.opaque_id_pattern if self.opaque else rules.USCC_PATTERN
        self.as_of_end = month_end(*parse_month(as_of)) if as_of else None
        # GE stamps its runs with this time: the data month, not the clock, so reruns match
        stamp = self.as_of_end or dt.date(1970, 1, 1)
        run_time = dt.datetime(stamp.year, stamp.month, stamp.day, tzinfo=dt.UTC)
        self.validation = Validation(
            work / "validation", run_name, run_time, cfg.province, self.id_pattern
        )
        self.registry: TableSnapshot | None = None
        self.former: TableSnapshot | None = None
        # the versions this run starts from, and those it leaves (the next state)
        self.base, self.qbase, self.wbase = base
        self.versions: dict[str, int] = {}
        self.rows: dict[str, int] = {}
        self.qversions: dict[str, int] = {}
        self.withheld: dict[str, int] = {}
        self.snapshots: dict[str, TableSnapshot] = {}
        self.side_tables = False
        self.review: pd.DataFrame | None = None
        self.name_from_id = False
        # collection quality per table and department (`pipelines.intake.quality`)
        self.calendar = quality.load_calendar()
        self.quality: list[quality.TableQuality] = []

    # ------------------------------------------------------------------ one table
    def table(self, name: str, inputs: Inputs | None) -> TableReport:
        if name in self.cfg.unavailable:
            ignored = [p.name for p, _ in inputs or []]
            report = TableReport(name, "unavailable")
            report.source = {"reason": self.cfg.unavailable[name], "ignored_files": ignored}
            # earlier deliveries of the table are kept aside (recorded as withheld in the
            # state), never read by features
            held = self.base.get(name, self.wbase.get(name))
            if held is not None:
                self.withheld[name] = held
                report.source["withheld"] = f"{name}/ (earlier deliveries, kept, not used)"
            if name in self.qbase:
                self.qversions[name] = self.qbase[name]
            return report
        spec = TABLES[name]
        previous = self._previous(name)
        if name in self.qbase:  # the earlier deliveries' rejected rows stay
            self.qversions[name] = self.qbase[name]
        if inputs is None:
            if previous is not None:
                assert previous.version is not None
                n = previous.num_rows()
                self.versions[name] = previous.version
                self.rows[name] = n
                self.snapshots[name] = previous
                # a delivery without the registry still resolves and checks against it
                if name == "enterprises":
                    self._registry(previous, delivered=False)
                elif name == "changes":
                    self._former_names(previous)
                return TableReport(name, "kept", rows_total=n)
            return TableReport(name, "absent")
        spec = _extended(spec, inputs)
        ids_only = name == "enterprises" and self.cfg.registry == "ids_only"
        if ids_only:
            spec = _ids_only(spec)
        described = self._stage_source(spec, inputs)
        self._stage(spec)
        if name != "enterprises":
            self._classify_codes()
            self._resolve_identity(spec)
        else:
            self._hash_personal_ids(["uscc", "reg_no", "taxpayer_no", "org_code"])
        if name == "persons":
            self._hash_personal_ids(["person_id"], only_ids=True)
        self._mask_ids_in_text(spec)
        if name == "enterprises":
            self._check_uscc()  # the other tables' codes were checked by _classify_codes
        self._note_divisions(spec)
        if name == "inspections":
            self._apply_designs(inputs)
        self._flag(spec)
        self._deduplicate(spec)
        report = TableReport(name, "ingested", source=described)
        if ids_only:
            report.source["registry"] = self._ids_only_note(spec)
        report.expectations = validate_staged(
            self.validation, self.con, spec, self.flags, self.cfg.ge_batch_rows
        )
        self._write_quarantine(spec, report)
        self._merge_accepted(spec, report, previous)
        self._write_review(spec)
        self.quality += quality.measure(
            self.con, spec, self._department(spec, inputs), self.calendar
        )
        return report

    def _previous(self, name: str) -> TableSnapshot | None:
        """The table as the current state has it (None: never delivered, or withheld)."""
        if name not in self.base:
            return None
        return store.delta_snapshot(store.table_dir(self.out, name), name, self.base[name])

    def _department(self, spec: Table, inputs: Inputs) -> str:
        """SQL of each row's delivering department (`pipelines.intake.quality.department_sql`)."""
        col = self.cfg.collection
        by = col.by_column.get(spec.name)
        return quality.department_sql(
            spec,
            col.departments,
            {spec.name: (by.column, by.values)} if by is not None else {},
            {m.source: m.department for _, m in inputs if m is not None and m.department},
        )

    def _optional(self, table: str) -> frozenset[str]:
        """Required columns a file of ``table`` may lack (an ids-only registry's)."""
        if table == "enterprises" and self.cfg.registry == "ids_only":
            return IDS_ONLY_OPTIONAL
        return frozenset()

    def _ids_only_note(self, spec: Table) -> dict[str, object]:
        """What reconciliation.json and availability.json say of an ids-only registry."""
        absent = sorted(
            c.name for c in spec.columns if c.name != "uscc" and c.name not in self.present
        )
        note: dict[str, object] = {
            "scheme": "ids_only",
            "zh": "登记信息仅含企业标识：缺少的登记字段为空(不推断)，其非空规则不适用，"
            "依赖登记信息的特征缺失",
            "en": "the registry carries identifiers only: the registry columns it lacks are "
            "NULL (never inferred), their not-null rules are not applied, and features "
            "derived from them are missing",
            "columns_absent": absent,
        }
        if self.name_from_id:
            note["name"] = "the identifier (id_scheme: opaque, no name delivered)"
        return note

    def _stage_source(self, spec: Table, inputs: Inputs) -> dict[str, object]:
        """Stage the table's files as the view ``src``; returns how they were read."""
        cfg = self.cfg
        name = spec.name
        self.native: set[str] = set()
        if len(inputs) == 1 and inputs[0][1] is None and sniff(inputs[0][0]) == "parquet":
            path = inputs[0][0]
            src = parquet_source(name, path, cfg.column_aliases, self._optional(name))
            files = ", ".join(literal(str(f)) for f in src.parquet_files)
            # columns already stored in their contract type are taken as they are
            cols = ", ".join(
                f"{quote(header)} AS {quote('native__' + target)}"
                if target in src.native
                else f"CAST({quote(header)} AS VARCHAR) AS {raw(target)}"
                for target, header in src.columns.items()
            )
            self.con.execute(
                f"CREATE OR REPLACE TEMP VIEW src_base AS SELECT {cols}, NULL::VARCHAR AS _extra, "
                f"parse_filename(filename) AS _source_file, file_row_number + 1 AS _source_row, "
                f"NULL::VARCHAR AS _source_name, NULL::VARCHAR AS _filtered "
                f"FROM read_parquet([{files}], filename = true, file_row_number = true)"
            )
            self.native = set(src.native)
            self.present = set(src.columns)
            self._derive(spec)
            return src.describe()
        tables: list[pa.Table] = []
        sources: list[Source] = []
        for path, mapping in inputs:
            fmt = sniff(path)
            try:
                t, src = read_text_table(
                    name,
                    path,
                    fmt,
                    cfg.column_aliases,
                    cfg.header_scan_rows,
                    mapping=mapping,
                    delivery_date=self.delivery_date,
                    optional=self._optional(name),
                )
            except SourceError as exc:
                raise StructuralError(f"{path}: {exc} [rule: source mapping]") from None
            tables.append(t)
            sources.append(src)
        table = (
            pa.concat_tables(tables, promote_options="default") if len(tables) > 1 else tables[0]
        )
        self.con.register("src_arrow", table)
        self.con.execute("CREATE OR REPLACE TEMP VIEW src_base AS SELECT * FROM src_arrow")
        self.present = {
            c.removeprefix("raw__") for c in table.column_names if c.startswith("raw__")
        }
        self._derive(spec)
        if len(sources) == 1:
            return sources[0].describe()
        return {"files": [s.describe() for s in sources]}

    def _derive(self, spec: Table) -> None:
        """The view ``src``: ``src_base`` plus the columns the contract can derive when an
        export lacks them: whether a problem was found, from the inspection's result; an
        anonymised registry's name, from its identifier."""
        derived = []
        replaced = []
        if spec.name == "inspections" and "result" in self.present:
            # a blank or absent problem_found follows from the result (several files may feed
            # the table, some with the column and some without)
            code = rules.vocab_expr(rules.text_expr(raw("result")), "inspection_result")
            found = ", ".join(literal(c) for c in PROBLEM_RESULTS)
            expr = (
                f"CASE WHEN {code} IN ({', '.join(literal(c) for c in NO_PROBLEM_RESULTS)}) THEN 'false' "
                f"WHEN {code} IN ({found}) THEN 'true' END"
            )
            if "problem_found" in self.native:
                pass  # typed already: taken as delivered
            elif "problem_found" in self.present:
                replaced.append(
                    f"coalesce(nullif(trim({raw('problem_found')}), ''), {expr}) AS {raw('problem_found')}"
                )
            else:
                derived.append(f"{expr} AS {raw('problem_found')}")
                self.present = self.present | {"problem_found"}
        if (
            spec.name == "enterprises"
            and self.opaque
            and "name" not in self.present
            and "uscc" in self.present
        ):
            derived.append(f"{raw('uscc')} AS {raw('name')}")
            self.present = self.present | {"name"}
            self.name_from_id = True
        extra = "".join(f", {d}" for d in derived)
        if replaced:
            extra = f" REPLACE ({', '.join(replaced)})" + extra
        self.con.execute(f"CREATE OR REPLACE TEMP VIEW src AS SELECT *{extra} FROM src_base")

    def _stage(self, spec: Table) -> None:
        present = self.present
        identity = [c for c in IDENTITY_COLUMNS if c not in spec.column_names]
        names = [
            c
            for c in (*[c.name for c in spec.columns], *identity)
            if c in present and c not in self.native
        ]
        raws = [raw(c) for c in names] + [quote("native__" + c) for c in sorted(self.native)]
        # 1. normalised text of every column, computed once
        texts = [f"{rules.text_expr(raw(c))} AS {rules.text(c)}" for c in names]
        self.con.execute(
            "CREATE OR REPLACE TEMP VIEW src_text AS SELECT row_number() OVER () AS _row, _source_file, _source_row, "
            f"_source_name, _filtered, _extra, {', '.join(raws)}{', ' if raws else ''}{', '.join(texts)}{', ' if texts else ''}TRUE AS _dummy FROM src"
        )
        # 2. typed columns from the text
        typed = []
        for col in spec.columns:
            if col.name in self.native:
                expr = quote("native__" + col.name)
            elif col.name not in present:
                expr = "NULL"
            elif col.is_uscc and self.opaque:
                expr = rules.text(col.name)
            else:
                expr = rules.typed_expr(col)
            typed.append(f"CAST({expr} AS {_SQL_TYPES[col.dtype]}) AS {quote(col.name)}")

        def code(col: str) -> str:
            return f"{rules.code_expr(rules.text(col))}" if col in present else "NULL::VARCHAR"

        ident = [
            f"{code('reg_no')} AS _reg_no",
            f"{code('org_code')} AS _org_code",
            f"{code('taxpayer_no')} AS _taxpayer",
            f"nullif(upper(regexp_replace({rules.text('name')}, '\\s', '', 'g')), '') AS _name_key"
            if "name" in present
            else "NULL::VARCHAR AS _name_key",
            f"{rules.text('name')} AS _name_text"
            if "name" in present
            else "NULL::VARCHAR AS _name_text",
        ]
        blank = " AND ".join(
            [f"{rules.text(c)} IS NULL" for c in names]
            + [f"{quote('native__' + c)} IS NULL" for c in sorted(self.native)]
            or ["TRUE"]
        )
        self.con.execute(
            "CREATE OR REPLACE TABLE stage AS SELECT _row, _source_file, _source_row, _source_name, _filtered, _extra, "
            f"{', '.join(raws)}{', ' if raws else ''}{', '.join(rules.text(c) for c in names)}{', ' if names else ''}"
            f"{', '.join(typed)}, {', '.join(ident)}, "
            f"({blank}) AND _extra IS NULL AS _blank, NULL::VARCHAR AS _identity, NULL::VARCHAR AS _candidates, "
            "NULL::VARCHAR AS _detail, NULL::VARCHAR AS _bad_code, NULL::DOUBLE AS _score, "
            "NULL::VARCHAR AS _notes FROM src_text"
        )
        self.present = present

    def _note(self, where: str, note: str) -> None:
        self.con.execute(
            f"UPDATE stage SET _notes = CASE WHEN _notes IS NULL THEN {literal(note)} "
            f"ELSE _notes || ';' || {literal(note)} END WHERE {where}"
        )

    def _mask_ids_in_text(self, spec: Table) -> None:
        """Personal ID numbers inside free text that is kept - cells beyond the header, and the
        passthrough columns a mapping declares - are masked before anything is written."""
        have = self._stage_columns()
        targets = ["_extra"] + [
            n
            for c in spec.columns
            if c.name.startswith("x_") and c.dtype == "string"
            for n in (f"raw__{c.name}", f"text__{c.name}", c.name)
            if n in have
        ]
        for n in targets:
            q = quote(n)
            self.con.execute(
                f"UPDATE stage SET {q} = regexp_replace({q}, {literal(ID_IN_TEXT)}, "
                f"'\\1{ID_MASK}\\2', 'g') WHERE regexp_matches({q}, {literal(ID_IN_TEXT)})"
            )

    def _hash_personal_ids(self, columns: list[str], only_ids: bool = False) -> None:
        """Replace personal ID numbers (GB 11643, check digit valid) in ``columns`` by a salted
        hash, in the raw, normalised and typed text, so that none is ever written in clear.
        A code that is also a valid USCC is a USCC."""
        con = self.con
        have = self._stage_columns()
        salt = literal(self.cfg.personal_id_salt)
        derived = {"reg_no": "_reg_no", "taxpayer_no": "_taxpayer", "org_code": "_org_code"}
        for c in columns:
            if c in self.native:
                continue
            targets = [
                n for n in (f"raw__{c}", f"text__{c}", c, derived.get(c, "")) if n and n in have
            ]
            probe = f"text__{c}" if f"text__{c}" in have else c
            if probe not in have:
                continue
            # GB 11643: a region code (provinces 11-82), a birth date, a sequence and a check
            # character (taxpayer numbers of individuals add two digits). Spaces and hyphens
            # are ignored, and a wrong check character does not make it any less personal.
            norm = f"regexp_replace(upper({quote(probe)}), '[\\s-]', '', 'g')"
            cands = [
                r[0]
                for r in con.execute(
                    # a cheap first cut: starts with a region digit, about the right length
                    f"SELECT DISTINCT {quote(probe)} FROM stage WHERE {quote(probe)} >= '1' AND {quote(probe)} < '9' "
                    f"AND length({quote(probe)}) BETWEEN 18 AND 26 AND regexp_matches({norm}, {literal(ID_PATTERN)})"
                ).fetchall()
            ]
            ids = [
                x
                for x in cands
                if only_ids or not stdnum_uscc.is_valid(re.sub(r"[\s-]", "", x.upper()))
            ]
            if not ids:
                continue
            con.register("_ids", pa.table({"code": ids}))
            hashed = f"'PID-' || substr(sha256({salt} || {norm}), 1, 24)"
            sets = ", ".join(f"{quote(n)} = {hashed}" for n in targets)
            con.execute(f"UPDATE stage SET {sets} WHERE {quote(probe)} IN (SELECT code FROM _ids)")
            con.unregister("_ids")
            if not only_ids:
                self._note(f"{quote(probe)} LIKE 'PID-%'", f"personal_id_hashed:{c}")

    def _classify_codes(self) -> None:
        """An event row's USCC column often holds something else: a personal ID number (hashed
        at once), a placeholder, a 15-digit registration number, an organisation code, a
        taxpayer number, or a USCC with a wrong check character. The code moves to the
        identifier it is, the USCC is cleared, and resolution falls back to the row's other
        identifiers and its name (`_resolve_identity`)."""
        con = self.con
        self._hash_personal_ids(["uscc", "reg_no", "taxpayer_no", "org_code"])
        if self.opaque:
            return  # resolved by their own identifier (recorded as opaque in the lineage)
        self._check_uscc()
        pattern = literal(rules.USCC_PATTERN)
        con.execute(
            f"""
            UPDATE stage SET _bad_code = CASE
                WHEN uscc LIKE 'PID-%' THEN 'personal_id'
                WHEN regexp_matches(uscc, '^(0+|1+|9+|X+|0+X)$')
                     OR regexp_matches(uscc, '^0{{8,}}') THEN 'placeholder'
                WHEN regexp_matches(uscc, '^[0-9]{{15}}$') THEN 'reg_no'
                WHEN regexp_matches(uscc, '^[0-9A-Z]{{8}}-?[0-9X]$') THEN 'org_code'
                WHEN regexp_matches(uscc, '^[0-9A-Z]{{15}}$|^[0-9A-Z]{{20}}$') THEN 'taxpayer_no'
                WHEN regexp_matches(uscc, {pattern}) THEN 'uscc_checksum'
                ELSE 'uscc_format' END
            WHERE uscc IS NOT NULL AND uscc NOT IN (SELECT code FROM checked_uscc WHERE valid)
            """
        )
        con.execute(
            """
            UPDATE stage SET
                _reg_no = CASE WHEN _bad_code = 'reg_no' THEN coalesce(_reg_no, uscc) ELSE _reg_no END,
                _taxpayer = CASE WHEN _bad_code IN ('reg_no', 'taxpayer_no', 'personal_id') THEN coalesce(_taxpayer, uscc) ELSE _taxpayer END,
                _org_code = CASE WHEN _bad_code = 'org_code' THEN coalesce(_org_code, replace(uscc, '-', '')) ELSE _org_code END,
                uscc = NULL
            WHERE _bad_code IS NOT NULL
            """
        )

    def _resolve_identity(self, spec: Table) -> None:
        """Records without a (valid) USCC: by registration number, organisation code or
        taxpayer number; else by the exact normalised name or a former name (or a name a
        person confirmed in a review); else by probabilistic name linkage."""
        con = self.con

        def resolve(how: str, join: str, where: str) -> None:
            con.execute(
                f"UPDATE stage SET uscc = r.uscc, _identity = {literal(how)}, _score = 1 "
                f"FROM {join} r WHERE stage.uscc IS NULL AND {where}"
            )

        ((by_code, unresolved),) = con.execute(
            "SELECT count(*) FILTER (WHERE _reg_no IS NOT NULL OR _org_code IS NOT NULL "
            "OR _taxpayer IS NOT NULL), count(*) FROM stage WHERE uscc IS NULL"
        ).fetchall()
        if unresolved == 0:
            return  # every row carries a valid USCC (or opaque id): nothing to resolve
        if not self.opaque and by_code:
            self._side_tables()
            resolve("reg_no", "registry_reg_no", "stage._reg_no = r.reg_no")
            resolve("taxpayer_no", "registry", "stage._taxpayer = r.uscc")
            resolve("taxpayer_no", "registry_taxpayer", "stage._taxpayer = r.taxpayer")
            resolve("org_code", "registry_org", "replace(stage._org_code, '-', '') = r.org_code")
            resolve(
                "taxpayer_no",
                "registry_org",
                "length(stage._taxpayer) = 15 AND substr(stage._taxpayer, 7, 9) = r.org_code",
            )
        if "name" not in self.present:
            self._note("_bad_code IS NOT NULL AND uscc IS NOT NULL", "code_not_uscc")
            return
        con.execute(
            "UPDATE stage SET uscc = m.uscc, _identity = 'name', _score = 1 FROM "
            "(SELECT key, any_value(uscc) AS uscc FROM registry_names GROUP BY key HAVING count(DISTINCT uscc) = 1) m "
            "WHERE stage.uscc IS NULL AND stage._name_key = m.key"
        )
        con.execute(
            "UPDATE stage SET _candidates = m.c FROM "
            "(SELECT key, string_agg(DISTINCT uscc, ', ' ORDER BY uscc) AS c FROM registry_names GROUP BY key "
            "HAVING count(DISTINCT uscc) > 1) m WHERE stage.uscc IS NULL AND stage._name_key = m.key"
        )
        self._link_names()
        self._note("_bad_code IS NOT NULL AND uscc IS NOT NULL", "code_not_uscc")

    def _link_names(self) -> None:
        """Probabilistic name resolution (Splink) for names no exact rule resolved."""
        cfg = self.cfg.name_linkage
        con = self.con
        n = con.execute(
            "SELECT count(*) FROM stage WHERE uscc IS NULL AND _name_text IS NOT NULL AND _candidates IS NULL"
        ).fetchall()[0][0]
        if not cfg.enabled or n == 0:
            return
        from pipelines.intake.linkage import NameLinkage, link_names

        self._side_tables()
        con.execute(
            "CREATE OR REPLACE TEMP TABLE link_records AS SELECT _row, _name_text AS name, "
            "NULL::VARCHAR AS division FROM stage WHERE uscc IS NULL AND _name_text IS NOT NULL "
            "AND _candidates IS NULL"
        )
        links = link_names(
            con, "link_records", "registry_linkage", NameLinkage(cfg.match, cfg.review)
        )
        con.execute(
            f"UPDATE stage SET uscc = l.uscc, _identity = 'name_linkage', _score = l.probability "
            f"FROM {links} l WHERE stage._row = l._row AND l.decision = 'match'"
        )
        con.execute(
            "UPDATE stage SET _detail = l.uscc || ' ' || coalesce(l.matched_name, '') || ' (p=' || "
            "CAST(round(l.probability, 3) AS VARCHAR) || ')' || CASE WHEN l.second_uscc IS NOT NULL "
            "THEN '; ' || l.second_uscc || ' (p=' || CAST(round(l.second_probability, 3) AS VARCHAR) || ')' ELSE '' END "
            f"FROM {links} l WHERE stage._row = l._row AND stage.uscc IS NULL AND l.decision = 'review'"
        )
        self.review = con.execute(
            f"SELECT s._source_file AS source_file, s._source_row AS source_row, s._name_text AS name, "
            f"l.uscc AS candidate_uscc, l.matched_name AS candidate_name, round(l.probability, 4) AS probability, "
            f"l.second_uscc, round(l.second_probability, 4) AS second_probability, "
            f"NULL::VARCHAR AS confirmed_uscc FROM stage s JOIN {links} l USING (_row) "
            f"WHERE l.decision = 'review' AND s.uscc IS NULL ORDER BY s._source_file, s._source_row"
        ).df()

    def _note_divisions(self, spec: Table) -> None:
        """Retired division codes become their successors (noted); divisions outside the
        provinces served are kept and noted, never a reason to drop a firm."""
        for col in spec.columns:
            if col.vocabulary != "division":
                continue
            c = quote(col.name)
            self._note(f"{c} IN (SELECT retired FROM division_successor)", "division_retired")
            self.con.execute(
                f"UPDATE stage SET {c} = d.successor FROM division_successor d WHERE stage.{c} = d.retired"
            )
            self._note(
                f"{c} IN (SELECT code FROM vocab_division) AND {c} NOT IN (SELECT code FROM served_division)",
                "division_outside_province",
            )
            # a code of a known province that no list knows (older than the retired-code map,
            # or newer than the list): kept and noted, never a reason to drop a firm
            unknown = (
                f"regexp_matches({c}, '^[1-8][0-9]{{5}}$') AND substr({c}, 1, 2) IN "
                f"(SELECT substr(code, 1, 2) FROM vocab_division) AND {c} NOT IN (SELECT code FROM vocab_division)"
            )
            self._note(unknown, "division_unknown")
            self.con.execute(
                f"INSERT INTO vocab_division_accepted SELECT DISTINCT {c} FROM stage WHERE {unknown} "
                "EXCEPT SELECT code FROM vocab_division_accepted"
            )

    def _apply_designs(self, inputs: Inputs) -> None:
        """Double-random results whose export has no design: tied to the round a source
        mapping declares (plan id, stratum, inclusion probability from it); those with no
        design known stay, noted ``design_unknown``, and are never weighted labels."""
        con = self.con
        for _, m in inputs:
            if m is None or m.design is None:
                continue
            d = m.design
            texts = ", ".join(literal(t) for t in [d.plan_id, *d.plan_texts])
            # results of the round: from this source, double-random, no design of their own,
            # inspected on or after the draw, and naming the round (unless all_rows)
            tied = (
                f"s._source_name = {literal(m.source)} AND s.draw_mode = 'double_random' "
                "AND s.inclusion_probability IS NULL "
                f"AND (s.inspection_date IS NULL OR s.inspection_date >= DATE {literal(d.draw_date.isoformat())})"
                + ("" if d.all_rows else f" AND s.plan_id IN ({texts})")
            )
            key = {
                "division": "r.division",
                "prefecture": "substr(r.division, 1, 4) || '00'",
                "stratum": "s.stratum",
            }[d.stratum_by]
            strata = pa.table(
                {
                    "key": list(d.strata),
                    "p": [st.probability for st in d.strata.values()],
                    "cls": [st.risk_class for st in d.strata.values()],
                }
            )
            con.register("_strata", strata)
            con.execute(
                f"""
                UPDATE stage SET plan_id = {literal(d.plan_id)},
                    stratum = coalesce(x.key, x.k, '*'),
                    inclusion_probability = coalesce(x.p, x.p_any),
                    risk_class_at_draw = coalesce(stage.risk_class_at_draw, x.cls, x.cls_any),
                    _notes = CASE WHEN _notes IS NULL THEN 'design_declared' ELSE _notes || ';design_declared' END
                FROM (
                    SELECT s._row, {key} AS k, e.key, e.p, e.cls, a.p AS p_any, a.cls AS cls_any
                    FROM stage s LEFT JOIN registry r ON r.uscc = s.uscc
                    LEFT JOIN _strata e ON e.key = {key}
                    LEFT JOIN (SELECT * FROM _strata WHERE key = '*') a ON TRUE
                    WHERE {tied}
                ) x
                WHERE stage._row = x._row AND coalesce(x.p, x.p_any) IS NOT NULL
                """
            )
            con.unregister("_strata")
        self._note(
            "draw_mode = 'double_random' AND inclusion_probability IS NULL", "design_unknown"
        )

    def _check_uscc(self) -> None:
        """Check characters by python-stdnum, once per distinct code across the run, in
        batches so that memory does not grow with the number of enterprises."""
        con = self.con
        cols = [c for c in ("uscc", "linked_uscc") if c in self._stage_columns()]
        if not cols or self.opaque:
            return
        pattern = literal(rules.USCC_PATTERN)
        union = " UNION ".join(
            f"SELECT {quote(c)} AS code FROM stage WHERE regexp_matches({quote(c)}, {pattern})"
            for c in cols
        )
        con.execute(
            "CREATE OR REPLACE TEMP TABLE new_codes AS SELECT code, row_number() OVER (ORDER BY code) AS rn "
            f"FROM ({union} EXCEPT SELECT code FROM checked_uscc)"
        )
        total = int(con.execute("SELECT count(*) FROM new_codes").fetchall()[0][0])
        step = self.cfg.ge_batch_rows
        for start in range(0, total, step):
            page = con.execute(
                f"SELECT code FROM new_codes WHERE rn > {start} AND rn <= {start + step}"
            )
            codes = [r[0] for r in page.fetchall()]
            checked = pa.table({"code": codes, "valid": [stdnum_uscc.is_valid(c) for c in codes]})
            con.register("_checked", checked)
            con.execute("INSERT INTO checked_uscc SELECT * FROM _checked")
            con.unregister("_checked")

    def _stage_columns(self) -> set[str]:
        return {
            r[0] for r in self.con.execute("SELECT column_name FROM (DESCRIBE stage)").fetchall()
        }

    def _flag(self, spec: Table) -> None:
        cfg = self.cfg
        present = self.present
        flags: list[Flag] = [
            Flag("blank_row", "", "_blank"),
            Flag("extra_cells", "", "_extra IS NOT NULL"),
        ]
        col_flags = rules.column_flags(
            spec,
            present,
            self.native,
            EXTERNAL,
            cfg.max_text_length,
            cfg.earliest_date,
            cfg.latest_date,
            self.id_pattern,
        )
        # rules that cannot fire on this stage are not checked (nor validated by GE): most
        # deliveries have no filtered rows and identify every row by its USCC
        ((n_filtered, n_unresolved),) = self.con.execute(
            "SELECT count(_filtered), count(*) FILTER (WHERE uscc IS NULL) FROM stage"
        ).fetchall()
        if n_filtered:
            flags.append(Flag("filtered", "", "_filtered IS NOT NULL"))
        if self.opaque:
            known = "uscc IS NOT NULL"
        else:
            known = "uscc IN (SELECT code FROM checked_uscc WHERE valid)"
        for c in ("uscc", "linked_uscc"):
            if c not in spec.column_names:
                continue
            if spec.name != "enterprises" and c == "uscc" and n_unresolved:
                unresolved = "uscc IS NULL AND NOT _blank"
                flags += [
                    Flag(
                        "identity_missing",
                        "uscc",
                        f"{unresolved} AND _reg_no IS NULL AND _org_code IS NULL AND _taxpayer IS NULL "
                        "AND _name_key IS NULL AND (_bad_code IS NULL OR _bad_code = 'placeholder')",
                    ),
                    Flag("uscc_format", "uscc", f"{unresolved} AND _bad_code = 'uscc_format'"),
                    Flag("uscc_checksum", "uscc", f"{unresolved} AND _bad_code = 'uscc_checksum'"),
                    Flag("personal_id", "uscc", f"{unresolved} AND _bad_code = 'personal_id'"),
                    Flag("reg_no_unmatched", "reg_no", f"{unresolved} AND _reg_no IS NOT NULL"),
                    Flag(
                        "org_code_unmatched",
                        "org_code",
                        f"{unresolved} AND (_org_code IS NOT NULL OR _taxpayer IS NOT NULL)",
                    ),
                    Flag("name_ambiguous", "name", f"{unresolved} AND _candidates IS NOT NULL"),
                    Flag(
                        "name_review",
                        "name",
                        f"{unresolved} AND _candidates IS NULL AND _detail IS NOT NULL",
                    ),
                    Flag(
                        "name_unmatched",
                        "name",
                        f"{unresolved} AND _name_key IS NOT NULL AND _candidates IS NULL AND _detail IS NULL",
                    ),
                ]
            elif c == "uscc":
                flags.append(Flag("required_missing", "uscc", "uscc IS NULL AND NOT _blank"))
            if (c in present or c == "uscc") and not self.opaque:
                flags.append(
                    Flag(
                        "uscc_checksum",
                        c,
                        f"{quote(c)} IN (SELECT code FROM checked_uscc WHERE NOT valid)",
                    )
                )
            if spec.name != "enterprises" or c == "linked_uscc":
                flags.append(
                    Flag(
                        "registry_rejected",
                        c,
                        f"{quote(c)} IN (SELECT uscc FROM registry_rejected)",
                    )
                )
                if c == "uscc":
                    unknown = f"{known} AND NOT _in_registry"
                else:
                    valid = (
                        "linked_uscc IS NOT NULL"
                        if self.opaque
                        else "linked_uscc IN (SELECT code FROM checked_uscc WHERE valid)"
                    )
                    unknown = f"{valid} AND linked_uscc NOT IN (SELECT uscc FROM registry)"
                flags.append(Flag("unknown_enterprise", c, unknown))
        for b in cfg.bounds:
            if b.table != spec.name or b.column not in present:
                continue
            c = quote(b.column)
            tests = []
            if b.min is not None:
                tests.append(f"{c} < {b.min!r}")
            if b.max is not None:
                tests.append(f"{c} > {b.max!r}")
            cond = " AND ".join(
                f"{quote(k)} IN ({', '.join(literal(x) for x in v)})"
                for k, v in sorted(b.when.items())
            )
            sql = f"({' OR '.join(tests)})" + (f" AND {cond}" if cond else "")
            flags.append(Flag("implausible", b.column, sql, check=b.name))
        flags += col_flags
        if spec.event_date:
            ev = quote(spec.event_date)
            if self.as_of_end is not None:
                end = f"DATE {literal(self.as_of_end.isoformat())}"
                flags.append(Flag("after_as_of", spec.event_date, f"{ev} > {end}"))
                flags.append(Flag("after_as_of", "received_date", f"received_date > {end}"))
            flags.append(
                Flag(
                    "before_establishment",
                    spec.event_date,
                    f"{ev} < _established",
                )
            )
        elif self.as_of_end is not None:
            end = f"DATE {literal(self.as_of_end.isoformat())}"
            flags.append(Flag("after_as_of", "established_date", f"established_date > {end}"))
        registry_join = (
            "(SELECT *, NULL::DATE AS _established, TRUE AS _in_registry FROM stage)"
            if spec.name == "enterprises"
            else "(SELECT s.*, r.established_date AS _established, r.uscc IS NOT NULL AS _in_registry "
            "FROM stage s LEFT JOIN registry r ON r.uscc = s.uscc)"
        )
        order = {r: i for i, r in enumerate(RULE_NAMES)}
        flags.sort(key=lambda f: order[f.rule])
        items = ", ".join(
            f"CASE WHEN coalesce(({f.sql}), FALSE) THEN {{'rule': {literal(f.rule)}, 'column': {literal(f.column)}, "
            f"'check': {literal(f.check)}}} END"
            for f in flags
        )
        # Only failing rows are kept, in a narrow table: the wide stage is never rewritten.
        self.con.execute(
            f"CREATE OR REPLACE TABLE fails AS SELECT * FROM (SELECT _row, list_filter([{items}], "
            f"lambda x: x IS NOT NULL) AS _fails FROM {registry_join}) WHERE len(_fails) > 0"
        )
        self.flags = flags

    def _deduplicate(self, spec: Table) -> None:
        """Among otherwise valid rows: exact copies, then natural-key conflicts. The latest
        received record of a key wins; equal receipt with different content is a conflict.
        Rows are grouped by natural key and a hash of the whole row (a collision would need
        the same key too)."""
        cols = ", ".join(quote(c.name) for c in spec.columns)
        key = ", ".join(quote(k) for k in spec.natural_key)
        recv = "received_date" if spec.received_date else "NULL::DATE"
        self.con.execute(
            f"""
            INSERT INTO fails
            WITH ok AS (
                SELECT _row, {key}, {recv} AS recv, hash({cols}) AS h
                FROM stage s ANTI JOIN fails f USING (_row)
            ),
            copies AS (
                SELECT *, row_number() OVER (PARTITION BY {key}, h ORDER BY _row) AS copy FROM ok
            ),
            keyed AS (
                SELECT *, count(*) OVER (PARTITION BY {key}) AS n_key,
                       max(recv) OVER (PARTITION BY {key}) AS latest
                FROM copies WHERE copy = 1
            ),
            judged AS (
                SELECT *, count(*) FILTER (WHERE recv IS NOT DISTINCT FROM latest) OVER (PARTITION BY {key}) AS n_latest
                FROM keyed WHERE n_key > 1
            )
            SELECT _row, [{{'rule': 'duplicate', 'column': '', 'check': ''}}] FROM copies WHERE copy > 1
            UNION ALL
            SELECT _row, CASE WHEN recv IS DISTINCT FROM latest
                              THEN [{{'rule': 'superseded', 'column': '', 'check': ''}}]
                              ELSE [{{'rule': 'key_conflict', 'column': '', 'check': ''}}] END
            FROM judged WHERE recv IS DISTINCT FROM latest OR n_latest > 1
            """
        )

    # ------------------------------------------------------------------ outputs
    def _write_quarantine(self, spec: Table, report: TableReport) -> None:
        con = self.con
        raws = [
            c
            for c in (
                *spec.column_names,
                *[i for i in IDENTITY_COLUMNS if i not in spec.column_names],
            )
            if c in self.present
        ]
        raw_cols = ", ".join(
            f"CAST({quote('native__' + c)} AS VARCHAR) AS {quote(c)}"
            if c in self.native
            else f"{raw(c)} AS {quote(c)}"
            for c in raws
        )
        zh_cases = " ".join(f"WHEN {literal(r.name)} THEN {literal(r.zh)}" for r in rules.RULES)
        en_cases = " ".join(f"WHEN {literal(r.name)} THEN {literal(r.en)}" for r in rules.RULES)

        def fill(template: str) -> str:
            return (
                f"replace(replace(replace(replace(replace(replace({template}, '{{column}}', f.column), "
                f"'{{check}}', f.check), '{{candidates}}', coalesce(_candidates, '')), "
                f"'{{limit}}', '{self.cfg.max_text_length}'), '{{check_zh}}', coalesce(c.zh, '')), "
                f"'{{detail}}', coalesce(_filtered, _detail, ''))"
            )

        self.con.execute(
            f"""
            CREATE OR REPLACE TEMP TABLE quarantine AS
            SELECT _source_file AS source_file, _source_row AS source_row, _source_name AS source_name, {raw_cols}{", " if raw_cols else ""}
                   _extra AS extra_cells, f.rule AS rule, nullif(f.column, '') AS rule_column,
                   replace({fill(f"CASE f.rule {zh_cases} END")}, '{{check_en}}', coalesce(c.en, '')) AS reason_zh,
                   replace({fill(f"CASE f.rule {en_cases} END")}, '{{check_en}}', coalesce(c.en, '')) AS reason_en,
                   array_to_string(list_transform(_fails, lambda x: x.rule || CASE WHEN x.column <> '' THEN ':' || x.column ELSE '' END), ' ') AS all_rules
            FROM (SELECT *, _fails[1] AS f FROM stage JOIN fails USING (_row)) s
            LEFT JOIN row_checks c ON c.name = s.f.check
            ORDER BY source_file, source_row
            """
        )
        report.rows_read = int(con.execute("SELECT count(*) FROM stage").fetchall()[0][0])
        report.quarantined = int(con.execute("SELECT count(*) FROM quarantine").fetchall()[0][0])
        report.by_rule = dict(
            con.execute(
                "SELECT rule, count(*) FROM quarantine GROUP BY rule ORDER BY rule"
            ).fetchall()
        )
        # Earlier deliveries' rejected rows stay (nothing is lost): each row says which
        # delivery it came from; rerunning a delivery replaces only its own rows.
        rows = delta.arrow(con, f"SELECT *, {literal(self.run_name)} AS delivery FROM quarantine")
        if rows.num_rows:  # the run's own evidence, kept beside if the run is refused
            pq.write_table(rows, self.work / "quarantine" / f"{spec.name}.parquet")
        path = store.quarantine_dir(self.out, spec.name)
        before = (
            store.delta_snapshot(path, spec.name, self.qbase[spec.name])
            if spec.name in self.qbase
            else None
        )
        if delta.replace_quarantine(con, path, before, rows, self.run_name):
            self.qversions[spec.name] = delta.latest(path)

    def _merge_accepted(
        self, spec: Table, report: TableReport, previous: TableSnapshot | None
    ) -> None:
        """New accepted rows merged by natural key with what earlier deliveries left. Each
        row keeps its lineage (`LINEAGE`): the file and row it came from, the source mapping,
        the delivery, how its enterprise was resolved and with what score, and notes."""
        con = self.con
        names = [c.name for c in spec.columns]
        cols = ", ".join(quote(c) for c in names)
        key = ", ".join(quote(k) for k in spec.natural_key)
        default_how = "opaque" if self.opaque else "uscc"
        lineage = (
            f"_source_file, _source_row, _source_name, {literal(self.run_name)} AS _delivery, "
            f"coalesce(_identity, {literal(default_how)}) AS _resolved_by, "
            "coalesce(_score, 1.0) AS _resolution_score, _notes"
        )
        # the registry keeps its other identifiers, so that later deliveries resolve by them
        ids = (
            [(x, src) for x, src in REGISTRY_ID_SOURCES if x.removeprefix("x_") in self.present]
            if spec.name == "enterprises"
            else []
        )
        idsel = "".join(f", {src} AS {quote(x)}" for x, src in ids)
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE accepted AS SELECT {cols}{idsel}, {lineage} FROM stage "
            "ANTI JOIN fails USING (_row) ORDER BY _row"
        )
        report.accepted = int(con.execute("SELECT count(*) FROM accepted").fetchall()[0][0])
        report.resolution = dict(
            con.execute(
                "SELECT _resolved_by, count(*) FROM accepted GROUP BY 1 ORDER BY 1"
            ).fetchall()
        )
        if "name_review" in report.by_rule:
            report.resolution["review"] = report.by_rule["name_review"]
        unresolved = sum(
            report.by_rule.get(r, 0)
            for r in (
                "identity_missing",
                "uscc_format",
                "uscc_checksum",
                "personal_id",
                "reg_no_unmatched",
                "org_code_unmatched",
                "name_ambiguous",
                "name_unmatched",
            )
        )
        if spec.name != "enterprises" and unresolved:
            report.resolution["unresolved"] = unresolved
        report.notes = dict(
            con.execute(
                "SELECT note, count(*) FROM (SELECT unnest(string_split(_notes, ';')) AS note "
                "FROM accepted WHERE _notes IS NOT NULL) GROUP BY 1 ORDER BY 1"
            ).fetchall()
        )
        kept_ids = [x for x, _ in ids]
        order = [*names, *kept_ids, *(n for n, _ in LINEAGE)]
        key_order = ", ".join(quote(k) for k in spec.natural_key)
        target = store.table_dir(self.out, spec.name)
        hits: list[str] = []
        if previous is not None:
            # only the earlier records that share a key with the delivery are read
            files = delta.candidate_files(con, spec, previous, "accepted")
            hits = delta.hit_files(con, spec, files, "accepted")
            have = set(previous.schema().names)
            extra = sorted(n for n in have | set(kept_ids) if n.startswith("x_") and n not in names)
            fill = ", ".join(
                quote(n) if n in have else f"NULL::{t} AS {quote(n)}"
                for n, t in [*((c.name, _SQL_TYPES[c.dtype]) for c in spec.columns), *LINEAGE]
            )
            more = "".join(f", {quote(n)}" for n in extra if n in have)
            con.execute(
                f"CREATE OR REPLACE TEMP VIEW prev AS SELECT {fill}{more} FROM {previous.sql(hits)}"
            )
            report.merged_unchanged = int(
                # INTERSECT compares NULLs as equal, as a record comparison should
                con.execute(
                    f"SELECT count(*) FROM (SELECT {cols} FROM accepted INTERSECT ALL SELECT {cols} FROM prev)"
                ).fetchall()[0][0]
            )
            report.merged_updated = int(
                con.execute(
                    f"SELECT count(*) FROM (SELECT {cols} FROM accepted EXCEPT SELECT {cols} FROM prev) a SEMI JOIN prev p USING ({key})"
                ).fetchall()[0][0]
            )
            on = " AND ".join(
                f"a.{quote(k)} IS NOT DISTINCT FROM p.{quote(k)}" for k in spec.natural_key
            )
            added = int(
                con.execute(f"SELECT count(*) FROM accepted a ANTI JOIN prev p ON {on}").fetchall()[
                    0
                ][0]
            )
            report.rows_total = previous.num_rows() + added
        report.merged_new = report.accepted - report.merged_unchanged - report.merged_updated
        # in natural-key order: the same records give the same rows, whatever the order or
        # number of deliveries they came in
        data = delta.with_partition(
            con,
            spec,
            f"SELECT {', '.join(quote(n) for n in order)} FROM accepted ORDER BY {key_order}",
        )
        if previous is None:
            report.rows_total = report.accepted
            delta.create(target, spec, data)
        else:
            # lineage too: a record received again in another delivery takes that delivery's
            # lineage (as it always did); the same delivery rerun rewrites nothing
            compared = [*names, *kept_ids, *(n for n, _ in LINEAGE)]
            delta.merge(target, spec, data, compared, previous, hits)
        snap = store.delta_snapshot(target, spec.name)
        assert snap.version is not None
        self.versions[spec.name] = snap.version
        self.rows[spec.name] = report.rows_total
        self.snapshots[spec.name] = snap
        if spec.name == "enterprises":
            self._registry(snap)
        elif spec.name == "changes":
            self._former_names(snap)

    def _write_review(self, spec: Table) -> None:
        """Names waiting for a person: ``review/<table>.csv`` (formula-safe), with the best
        candidates and an empty ``confirmed_uscc`` column to fill in. The filled-in file,
        named by ``review_decisions``, resolves those names in the next run."""
        review = self.review
        self.review = None
        if review is None or review.empty:
            return
        folder = self.work / "review"
        folder.mkdir(exist_ok=True)
        write_csv(review, folder / f"{spec.name}.csv")

    def _registry(self, snap: TableSnapshot, delivered: bool = True) -> None:
        con = self.con
        p = snap.sql()
        con.execute(
            f"CREATE OR REPLACE TABLE registry AS SELECT uscc, established_date, division_code AS division "
            f"FROM {p}"
        )
        # enterprises whose registry row this delivery rejected: their events say so
        con.execute(
            "CREATE OR REPLACE TABLE registry_rejected AS SELECT DISTINCT uscc FROM stage JOIN fails USING (_row) "
            "WHERE uscc IS NOT NULL EXCEPT SELECT uscc FROM registry"
            if delivered
            else "CREATE OR REPLACE TABLE registry_rejected (uscc VARCHAR)"
        )
        con.execute(
            f"CREATE OR REPLACE TABLE registry_reg_no AS SELECT reg_no, any_value(uscc) AS uscc FROM {p} "
            "WHERE reg_no IS NOT NULL GROUP BY reg_no HAVING count(*) = 1"
        )
        # the organisation-code, taxpayer and linkage tables are built when a row needs them
        # (`_side_tables`): most deliveries identify every row by its USCC
        self.registry = snap
        self.side_tables = False
        con.execute(
            f"CREATE OR REPLACE TABLE registry_names AS SELECT DISTINCT {rules.name_key('name')} AS key, uscc "
            f"FROM {p} WHERE name IS NOT NULL"
        )
        self._review_decisions()

    def _side_tables(self) -> None:
        """The registry's organisation codes (characters 9-17 of a USCC, GB 32100-2015, and
        the old codes a registry export carried), taxpayer numbers, and the names with
        former names for probabilistic linkage; built once per run, on first need."""
        if self.side_tables or self.registry is None:
            return
        con = self.con
        p = self.registry.sql()
        have = set(self.registry.schema().names)
        org_extra = (
            f" UNION ALL SELECT x_org_code, uscc FROM {p} WHERE x_org_code IS NOT NULL"
            if "x_org_code" in have
            else ""
        )
        con.execute(
            "CREATE OR REPLACE TABLE registry_org AS SELECT org_code, any_value(uscc) AS uscc FROM ("
            "SELECT replace(org_code, '-', '') AS org_code, uscc FROM (SELECT substr(uscc, 9, 9) AS org_code, uscc "
            f"FROM registry WHERE length(uscc) = 18{org_extra})) GROUP BY 1 HAVING count(DISTINCT uscc) = 1"
        )
        con.execute(
            "CREATE OR REPLACE TABLE registry_taxpayer AS SELECT x_taxpayer_no AS taxpayer, any_value(uscc) AS uscc "
            f"FROM {p} WHERE x_taxpayer_no IS NOT NULL GROUP BY 1 HAVING count(DISTINCT uscc) = 1"
            if "x_taxpayer_no" in have
            else "CREATE OR REPLACE TABLE registry_taxpayer (taxpayer VARCHAR, uscc VARCHAR)"
        )
        former = (
            f" UNION ALL SELECT DISTINCT uscc, before_value, NULL, TRUE FROM {self.former.sql()} "
            "WHERE change_kind = 'name' AND before_value IS NOT NULL"
            if self.former is not None
            else ""
        )
        con.execute(
            f"CREATE OR REPLACE TABLE registry_linkage AS SELECT uscc, name, division_code AS division, "
            f"FALSE AS former FROM {p} WHERE name IS NOT NULL{former}"
        )
        self.side_tables = True

    def _review_decisions(self) -> None:
        """Names a person confirmed resolve as exact names from now on. ``review_decisions``
        names a CSV with columns name and uscc, or a review file (``review/<table>.csv``)
        whose ``confirmed_uscc`` a person filled in; enterprises not in the registry are
        ignored."""
        if not self.cfg.review_decisions:
            return
        path = Path(self.cfg.review_decisions)
        if not path.is_file():
            raise StructuralError(
                f"{path}: the review decisions file named in the ingest configuration does not "
                "exist [rule: review decisions]"
            )
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
        if "confirmed_uscc" in frame.columns:  # a review file filled in by a person
            frame = frame.rename(columns={"confirmed_uscc": "uscc"})
        missing = {"name", "uscc"} - set(frame.columns)
        if missing:
            raise StructuralError(
                f"{path}: review decisions need columns name and uscc (missing {', '.join(sorted(missing))}) "
                "[rule: review decisions]"
            )
        frame = frame[(frame["name"].str.strip() != "") & (frame["uscc"].str.strip() != "")]
        self.con.register(
            "_decisions",
            pa.table(
                {
                    # a review file is formula-safe: a leading apostrophe is not part of the text
                    "name": frame["name"].str.removeprefix("'").tolist(),
                    "uscc": frame["uscc"].str.strip().str.lstrip("'").tolist(),
                }
            ),
        )
        self.con.execute(
            f"INSERT INTO registry_names SELECT DISTINCT {rules.name_key('d.name')}, d.uscc FROM _decisions d "
            "SEMI JOIN registry r USING (uscc)"
        )
        self.con.unregister("_decisions")

    def _former_names(self, snap: TableSnapshot | None) -> None:
        """Enterprises are also known by their former names (曾用名)."""
        if snap is None:
            return
        self.con.execute(
            f"INSERT INTO registry_names SELECT DISTINCT {rules.name_key('before_value')}, uscc "
            f"FROM {snap.sql()} WHERE change_kind = 'name' AND before_value IS NOT NULL "
            f"EXCEPT SELECT key, uscc FROM registry_names"
        )
        self.former = snap
        self.side_tables = False  # the linkage table gains the former names when next built

    # ------------------------------------------------------------------ Great Expectations
    def build_docs(self) -> str:
        """Build the Data Docs of this run (and the earlier ones kept in the folder); returns
        where the index will be once the output folder is in place."""
        index = Path(self.validation.build_docs())
        return str(self.out / index.relative_to(self.work))
