"""The ingestion engine: a delivery validated, typed and accounted for, table by table.

For each contract table the delivery's file is read as text (`pipelines.intake.readers`),
staged in DuckDB, typed and normalised by SQL generated from the contract
(`pipelines.intake.rules`), resolved to a USCC (by code, old registration number or name),
and checked. Rows that break a rule go to ``quarantine/<table>.parquet`` with the rule and a
reason in Chinese and English; the others are merged by natural key into ``<table>.parquet``.
Great Expectations validates every staged table with a suite generated from the same
contract (`pipelines.intake.expectations`) and writes Data Docs. Counts reconcile per table
and rule (`pipelines.intake.reconciliation`): rows read = accepted + quarantined, or the run
fails.

Output folder (replaced atomically; a killed run leaves the previous one intact)::

    <out>/<table>.parquet              accepted rows, typed as the contract says
    <out>/quarantine/<table>.parquet   rejected rows: raw text, source row, rule, reasons
    <out>/reconciliation.json          per table and rule; also printed by the CLI
    <out>/validation/                  Great Expectations project and Data Docs (HTML)

Used by the `ingest` stage (`pipelines.ingest`) and by `feedback`, which ingests the results
it linked to their plan.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import shutil
from collections.abc import Callable
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
from stdnum.cn import uscc as stdnum_uscc

from contract import reference
from contract.months import month_end, parse_month
from contract.tables import TABLES, Table
from pipelines.intake import rules
from pipelines.intake.config import IngestConfig
from pipelines.intake.expectations import Validation, validate_staged
from pipelines.intake.readers import (
    FORMATS,
    Source,
    StructuralError,
    discover,
    parquet_source,
    read_text_table,
)
from pipelines.intake.reconciliation import IngestReport, TableReport
from pipelines.intake.rules import RULE_NAMES, Flag, literal, quote, raw
from pipelines.io import atomic_directory, write_json
from pipelines.paths import table as table_file

log = logging.getLogger(__name__)

# Registry first (everything refers to it), then changes (former names resolve names).
ORDER = ("enterprises", "changes", *[t for t in TABLES if t not in ("enterprises", "changes")])
Progress = Callable[[str], None]


class IngestError(ValueError):
    """The run stopped: counts did not reconcile, or the input is structurally broken."""


def _run_name(found: dict[str, Path], as_of: str | None) -> str:
    """Names the run by the delivery (file names and sizes) and month: same input, same name."""
    h = hashlib.sha256()
    for table, path in sorted(found.items()):
        files = sorted(path.glob("*.parquet")) if path.is_dir() else [path]
        for f in files:
            h.update(f"{table}/{f.name}:{f.stat().st_size};".encode())
    return f"ingest-{as_of or 'undated'}-{h.hexdigest()[:10]}"


def run_ingest(
    cfg: IngestConfig,
    source: Path,
    out: Path,
    as_of: str | None = None,
    progress: Progress | None = None,
) -> IngestReport:
    """Ingest the delivery in ``source`` into ``out`` (merging with what is already there)."""
    if as_of is not None:
        try:
            month_end(*parse_month(as_of))
        except ValueError:
            raise IngestError(f"ingest: --as-of must be YYYY-MM, got {as_of!r}") from None
    found, unknown = discover(Path(source))
    out = Path(out)
    for name, spec in TABLES.items():
        if spec.required and name not in found and not table_file(out, name).exists():
            expected = ", ".join(f"{name}{ext}" for ext in FORMATS) + f" or {name}/"
            raise StructuralError(
                f"{source}: required table {name} ({spec.zh}) is missing; expected {expected} [rule: required table]"
            )
    run_name = _run_name(found, as_of)
    reports: list[TableReport] = []
    with atomic_directory(out) as work:
        if (out / "validation").is_dir():
            shutil.copytree(out / "validation", work / "validation")  # Data Docs accumulate runs
        (work / "quarantine").mkdir()
        stage_db = work / ".stage.duckdb"
        con = duckdb.connect(str(stage_db))
        try:
            con.execute(f"SET memory_limit = {literal(cfg.duckdb_memory_limit)}")
            con.execute(f"SET threads = {cfg.duckdb_threads}")
            con.execute("SET preserve_insertion_order = true")
            con.execute(f"SET temp_directory = {literal(str(work / '.spill'))}")
            _load_vocabularies(con, cfg.province)
            con.execute("CREATE TABLE checked_uscc (code VARCHAR PRIMARY KEY, valid BOOLEAN)")
            ingest = _Ingest(cfg, con, out, work, as_of, run_name)
            for table in ORDER:
                if progress is not None:
                    progress(table)
                reports.append(ingest.table(table, found.get(table)))
            docs = ingest.build_docs()
        finally:
            con.close()
            stage_db.unlink(missing_ok=True)
            shutil.rmtree(work / ".spill", ignore_errors=True)
        report = IngestReport(run_name, as_of, reports, unknown, docs)
        if report.unaccounted:
            raise IngestError(
                f"ingest: {report.unaccounted} rows are unaccounted for; nothing was written"
            )
        write_json(report.to_dict(), work / "reconciliation.json")
    return report


def _load_vocabularies(con: duckdb.DuckDBPyConnection, province: str) -> None:
    divisions = pa.table({"code": sorted(reference.division_codes(province))})
    industries = pa.table({"code": sorted(reference.industry_codes())})
    con.register("_divisions", divisions)
    con.register("_industries", industries)
    con.execute("CREATE TABLE vocab_division AS SELECT * FROM _divisions")
    con.execute("CREATE TABLE vocab_industry AS SELECT * FROM _industries")
    checks = pa.table(
        {
            "name": [c.name for t in TABLES.values() for c in t.checks],
            "zh": [c.zh for t in TABLES.values() for c in t.checks],
            "en": [c.en for t in TABLES.values() for c in t.checks],
        }
    )
    con.register("_checks", checks)
    con.execute("CREATE TABLE row_checks AS SELECT DISTINCT * FROM _checks")


EXTERNAL = {"division": "vocab_division", "industry": "vocab_industry"}


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
    ) -> None:
        self.cfg, self.con, self.out, self.work, self.as_of, self.run_name = (
            cfg,
            con,
            out,
            work,
            as_of,
            run_name,
        )
        self.as_of_end = month_end(*parse_month(as_of)) if as_of else None
        # GE stamps its runs with this time: the data month, not the clock, so reruns match
        stamp = self.as_of_end or dt.date(1970, 1, 1)
        run_time = dt.datetime(stamp.year, stamp.month, stamp.day, tzinfo=dt.UTC)
        self.validation = Validation(work / "validation", run_name, run_time, cfg.province)

    # ------------------------------------------------------------------ one table
    def table(self, name: str, path: Path | None) -> TableReport:
        spec = TABLES[name]
        previous = table_file(self.out, name)
        if path is None:
            if previous.exists():
                shutil.copy2(previous, self.work / previous.name)
                rejected = self.out / "quarantine" / previous.name
                if rejected.exists():  # the earlier deliveries' rejected rows stay
                    shutil.copy2(rejected, self.work / "quarantine" / previous.name)
                # fetchall: a half-read result would block the connection's next register()
                n = self.con.execute(
                    f"SELECT count(*) FROM read_parquet({literal(str(previous))})"
                ).fetchall()
                # a delivery without the registry still resolves and checks against it
                if name == "enterprises":
                    self._registry(previous, delivered=False)
                elif name == "changes":
                    self._former_names(previous)
                return TableReport(name, "kept", rows_total=int(n[0][0]))
            return TableReport(name, "absent")
        src = self._stage_source(name, path)
        self._stage(spec, src)
        if name != "enterprises":
            self._resolve_identity()
        self._check_uscc()
        self._flag(spec)
        self._deduplicate(spec)
        report = TableReport(name, "ingested", source=src.describe())
        report.expectations = validate_staged(
            self.validation, self.con, spec, self.flags, self.cfg.ge_batch_rows
        )
        self._write_quarantine(spec, report)
        self._merge_accepted(spec, report, previous)
        return report

    def _stage_source(self, name: str, path: Path) -> Source:
        cfg = self.cfg
        fmt = "parquet" if path.is_dir() else FORMATS[path.suffix.lower()]
        if fmt == "parquet":
            src = parquet_source(name, path, cfg.column_aliases)
            files = ", ".join(literal(str(f)) for f in src.parquet_files)
            # columns already stored in their contract type are taken as they are
            cols = ", ".join(
                f"{quote(header)} AS {quote('native__' + target)}"
                if target in src.native
                else f"CAST({quote(header)} AS VARCHAR) AS {raw(target)}"
                for target, header in src.columns.items()
            )
            self.con.execute(
                f"CREATE OR REPLACE TEMP VIEW src AS SELECT {cols}, NULL::VARCHAR AS _extra, "
                f"parse_filename(filename) AS _source_file, file_row_number + 1 AS _source_row "
                f"FROM read_parquet([{files}], filename = true, file_row_number = true)"
            )
            return src
        table, src = read_text_table(
            name, path, fmt, cfg.column_aliases, cfg.header_scan_rows, cfg.header_match_share
        )
        self.con.register("src_arrow", table)
        self.con.execute("CREATE OR REPLACE TEMP VIEW src AS SELECT * FROM src_arrow")
        return src

    def _stage(self, spec: Table, src: Source) -> None:
        present = set(src.columns)
        self.native = set(src.native)
        names = [
            c
            for c in (*[c.name for c in spec.columns], "name", "reg_no")
            if c in present and c not in self.native
        ]
        raws = [raw(c) for c in names] + [quote("native__" + c) for c in sorted(self.native)]
        # 1. normalised text of every column, computed once
        texts = [f"{rules.text_expr(raw(c))} AS {rules.text(c)}" for c in names]
        self.con.execute(
            "CREATE OR REPLACE TEMP VIEW src_text AS SELECT row_number() OVER () AS _row, _source_file, _source_row, "
            f"_extra, {', '.join(raws)}{', ' if raws else ''}{', '.join(texts)}{', ' if texts else ''}TRUE AS _dummy FROM src"
        )
        # 2. typed columns from the text
        typed = []
        for col in spec.columns:
            if col.name in self.native:
                expr = quote("native__" + col.name)
            else:
                expr = rules.typed_expr(col) if col.name in present else "NULL"
            sql_type = {
                "string": "VARCHAR",
                "int": "BIGINT",
                "float": "DOUBLE",
                "date": "DATE",
                "bool": "BOOLEAN",
            }[col.dtype]
            typed.append(f"CAST({expr} AS {sql_type}) AS {quote(col.name)}")
        ident = [
            f"{rules.code_expr(rules.text('reg_no'))} AS _reg_no"
            if "reg_no" in present
            else "NULL::VARCHAR AS _reg_no",
            f"nullif(upper(regexp_replace({rules.text('name')}, '\\s', '', 'g')), '') AS _name_key"
            if "name" in present
            else "NULL::VARCHAR AS _name_key",
        ]
        blank = " AND ".join(
            [f"{rules.text(c)} IS NULL" for c in names]
            + [f"{quote('native__' + c)} IS NULL" for c in sorted(self.native)]
            or ["TRUE"]
        )
        self.con.execute(
            "CREATE OR REPLACE TABLE stage AS SELECT _row, _source_file, _source_row, _extra, "
            f"{', '.join(raws)}{', ' if raws else ''}{', '.join(rules.text(c) for c in names)}{', ' if names else ''}"
            f"{', '.join(typed)}, {', '.join(ident)}, "
            f"({blank}) AND _extra IS NULL AS _blank, NULL::VARCHAR AS _identity, NULL::VARCHAR AS _candidates FROM src_text"
        )
        self.present = present

    def _resolve_identity(self) -> None:
        """Records without a USCC: by old registration number, else by name (or former name)."""
        con = self.con
        if "reg_no" in self.present:
            con.execute(
                "UPDATE stage SET uscc = r.uscc, _identity = 'reg_no' FROM registry_reg_no r "
                "WHERE stage.uscc IS NULL AND stage._reg_no = r.reg_no"
            )
        if "name" in self.present:
            con.execute(
                "UPDATE stage SET uscc = m.uscc, _identity = 'name' FROM "
                "(SELECT key, any_value(uscc) AS uscc FROM registry_names GROUP BY key HAVING count(DISTINCT uscc) = 1) m "
                "WHERE stage.uscc IS NULL AND stage._reg_no IS NULL AND stage._name_key = m.key"
            )
            con.execute(
                "UPDATE stage SET _candidates = m.c FROM "
                "(SELECT key, string_agg(DISTINCT uscc, ', ' ORDER BY uscc) AS c FROM registry_names GROUP BY key "
                "HAVING count(DISTINCT uscc) > 1) m WHERE stage.uscc IS NULL AND stage._name_key = m.key"
            )

    def _check_uscc(self) -> None:
        """Check characters by python-stdnum, once per distinct code across the run, in
        batches so that memory does not grow with the number of enterprises."""
        con = self.con
        cols = [c for c in ("uscc", "linked_uscc") if c in self._stage_columns()]
        if not cols:
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
        total = int(con.execute("SELECT count(*) FROM new_codes").fetchone()[0])  # type: ignore[index]
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
        )
        for c in ("uscc", "linked_uscc"):
            if c not in spec.column_names:
                continue
            if spec.name != "enterprises" and c == "uscc":
                flags.append(
                    Flag(
                        "identity_missing",
                        "uscc",
                        "uscc IS NULL AND _reg_no IS NULL AND _name_key IS NULL AND NOT _blank",
                    )
                )
                flags.append(
                    Flag("reg_no_unmatched", "reg_no", "uscc IS NULL AND _reg_no IS NOT NULL")
                )
                flags.append(
                    Flag(
                        "name_ambiguous",
                        "name",
                        "uscc IS NULL AND _reg_no IS NULL AND _candidates IS NOT NULL",
                    )
                )
                flags.append(
                    Flag(
                        "name_unmatched",
                        "name",
                        "uscc IS NULL AND _reg_no IS NULL AND _name_key IS NOT NULL AND _candidates IS NULL",
                    )
                )
            elif c == "uscc":
                flags.append(Flag("required_missing", "uscc", "uscc IS NULL AND NOT _blank"))
            if c in present or c == "uscc":
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
                flags.append(
                    Flag(
                        "unknown_enterprise",
                        c,
                        f"{quote(c)} IN (SELECT code FROM checked_uscc WHERE valid) "
                        + (
                            "AND NOT _in_registry"
                            if c == "uscc"
                            else f"AND {quote(c)} NOT IN (SELECT uscc FROM registry)"
                        ),
                    )
                )
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
        raws = [c for c in (*spec.column_names, "name", "reg_no") if c in self.present]
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
                f"replace(replace(replace(replace(replace({template}, '{{column}}', f.column), "
                f"'{{check}}', f.check), '{{candidates}}', coalesce(_candidates, '')), "
                f"'{{limit}}', '{self.cfg.max_text_length}'), '{{check_zh}}', coalesce(c.zh, ''))"
            )

        self.con.execute(
            f"""
            CREATE OR REPLACE TEMP TABLE quarantine AS
            SELECT _source_file AS source_file, _source_row AS source_row, {raw_cols}{", " if raw_cols else ""}
                   _extra AS extra_cells, f.rule AS rule, nullif(f.column, '') AS rule_column,
                   replace({fill(f"CASE f.rule {zh_cases} END")}, '{{check_en}}', coalesce(c.en, '')) AS reason_zh,
                   replace({fill(f"CASE f.rule {en_cases} END")}, '{{check_en}}', coalesce(c.en, '')) AS reason_en,
                   array_to_string(list_transform(_fails, lambda x: x.rule || CASE WHEN x.column <> '' THEN ':' || x.column ELSE '' END), ' ') AS all_rules
            FROM (SELECT *, _fails[1] AS f FROM stage JOIN fails USING (_row)) s
            LEFT JOIN row_checks c ON c.name = s.f.check
            ORDER BY source_file, source_row
            """
        )
        report.rows_read = int(con.execute("SELECT count(*) FROM stage").fetchone()[0])  # type: ignore[index]
        report.quarantined = int(con.execute("SELECT count(*) FROM quarantine").fetchone()[0])  # type: ignore[index]
        report.by_rule = dict(
            con.execute(
                "SELECT rule, count(*) FROM quarantine GROUP BY rule ORDER BY rule"
            ).fetchall()
        )
        # Earlier deliveries' rejected rows stay (nothing is lost): each row says which
        # delivery it came from; rerunning a delivery replaces only its own rows.
        path = table_file(self.work / "quarantine", spec.name)
        before = table_file(self.out / "quarantine", spec.name)
        parts = [f"SELECT *, {literal(self.run_name)} AS delivery FROM quarantine"]
        if before.exists():
            if "delivery" in pq.read_schema(before).names:
                parts.append(
                    f"SELECT * FROM read_parquet({literal(str(before))}) "
                    f"WHERE delivery IS DISTINCT FROM {literal(self.run_name)}"
                )
            else:  # written before deliveries were recorded
                parts.append(
                    f"SELECT *, NULL::VARCHAR AS delivery FROM read_parquet({literal(str(before))})"
                )
        if report.quarantined or before.exists():
            union = " UNION ALL BY NAME ".join(f"({q})" for q in reversed(parts))
            con.execute(
                f"COPY ({union}) TO {literal(str(path))} (FORMAT parquet, COMPRESSION zstd)"
            )

    def _merge_accepted(self, spec: Table, report: TableReport, previous: Path) -> None:
        """New accepted rows merged by natural key with what earlier deliveries left."""
        con = self.con
        cols = ", ".join(quote(c.name) for c in spec.columns)
        key = ", ".join(quote(k) for k in spec.natural_key)
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE accepted AS SELECT {cols} FROM stage ANTI JOIN fails USING (_row) ORDER BY _row"
        )
        report.accepted = int(con.execute("SELECT count(*) FROM accepted").fetchone()[0])  # type: ignore[index]
        if previous.exists():
            con.execute(
                f"CREATE OR REPLACE TEMP VIEW prev AS SELECT {cols} FROM read_parquet({literal(str(previous))})"
            )
            recv = "received_date" if spec.received_date else "NULL::DATE"
            report.merged_unchanged = int(
                # INTERSECT compares NULLs as equal, as a record comparison should
                con.execute(
                    "SELECT count(*) FROM (SELECT * FROM accepted INTERSECT ALL SELECT * FROM prev)"
                ).fetchone()[0]  # type: ignore[index]
            )
            report.merged_updated = int(
                con.execute(
                    f"SELECT count(*) FROM (SELECT * FROM accepted EXCEPT SELECT * FROM prev) a SEMI JOIN prev p USING ({key})"
                ).fetchone()[0]  # type: ignore[index]
            )
            # the later-received version of a key wins; on a tie the new delivery does
            con.execute(
                f"""
                CREATE OR REPLACE TEMP TABLE merged AS
                SELECT {cols} FROM (
                    SELECT *, row_number() OVER (PARTITION BY {key} ORDER BY {recv} DESC NULLS LAST, _new DESC) AS rn
                    FROM (SELECT *, 1 AS _new FROM accepted UNION ALL SELECT *, 0 AS _new FROM prev)
                ) WHERE rn = 1
                """
            )
        else:
            con.execute("CREATE OR REPLACE TEMP TABLE merged AS SELECT * FROM accepted")
        report.merged_new = report.accepted - report.merged_unchanged - report.merged_updated
        report.rows_total = int(con.execute("SELECT count(*) FROM merged").fetchone()[0])  # type: ignore[index]
        path = table_file(self.work, spec.name)
        # written in natural-key order (unique after the merge): the same records give the
        # same file, whatever the order or number of deliveries they came in
        con.execute(
            f"COPY (SELECT * FROM merged ORDER BY {key}) TO {literal(str(path))} (FORMAT parquet, COMPRESSION zstd)"
        )
        if spec.name == "enterprises":
            self._registry(path)
        elif spec.name == "changes":
            self._former_names(path)

    def _registry(self, path: Path, delivered: bool = True) -> None:
        con = self.con
        p = literal(str(path))
        con.execute(
            f"CREATE OR REPLACE TABLE registry AS SELECT uscc, established_date FROM read_parquet({p})"
        )
        # enterprises whose registry row this delivery rejected: their events say so
        con.execute(
            "CREATE OR REPLACE TABLE registry_rejected AS SELECT DISTINCT uscc FROM stage JOIN fails USING (_row) "
            "WHERE uscc IS NOT NULL EXCEPT SELECT uscc FROM registry"
            if delivered
            else "CREATE OR REPLACE TABLE registry_rejected (uscc VARCHAR)"
        )
        con.execute(
            f"CREATE OR REPLACE TABLE registry_reg_no AS SELECT reg_no, any_value(uscc) AS uscc FROM read_parquet({p}) "
            "WHERE reg_no IS NOT NULL GROUP BY reg_no HAVING count(*) = 1"
        )
        con.execute(
            f"CREATE OR REPLACE TABLE registry_names AS SELECT DISTINCT {rules.name_key('name')} AS key, uscc "
            f"FROM read_parquet({p}) WHERE name IS NOT NULL"
        )

    def _former_names(self, path: Path) -> None:
        """Enterprises are also known by their former names (曾用名)."""
        self.con.execute(
            f"INSERT INTO registry_names SELECT DISTINCT {rules.name_key('before_value')}, uscc "
            f"FROM read_parquet({literal(str(path))}) WHERE change_kind = 'name' AND before_value IS NOT NULL "
            f"EXCEPT SELECT key, uscc FROM registry_names"
        )

    # ------------------------------------------------------------------ Great Expectations
    def build_docs(self) -> str:
        """Build the Data Docs of this run (and the earlier ones kept in the folder); returns
        where the index will be once the output folder is in place."""
        index = Path(self.validation.build_docs())
        return str(self.out / index.relative_to(self.work))
