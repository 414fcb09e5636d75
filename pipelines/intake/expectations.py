"""Great Expectations suites generated from the contract, run as checkpoints over each
staged table in bounded batches, with Data Docs written per run.

A suite has the expectations GE expresses natively (not null, codes in their vocabulary,
numeric ranges, the USCC pattern, natural-key uniqueness), taken from the contract's
columns, and one expectation per rule GE cannot express on its own (the USCC check
character by python-stdnum, referential integrity, point-in-time dates, establishment,
duplicates, name resolution, the contract's row rules): those are computed in the stage
as boolean columns ``rule__<name>`` and GE expects them false, so every check appears in
the same report. Nothing here is written per table by hand.

The engine is not imported here: `validate_staged` is handed the DuckDB connection that holds
the staged table and the table's flags. Telemetry is switched off by the entry points
(`pipelines.environment.no_telemetry`) and recorded as off in each GE project.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pyarrow as pa

from contract import reference
from contract.tables import VOCABULARIES, Table
from pipelines.intake import rules

log = logging.getLogger(__name__)

# Rules GE checks natively on the typed columns; every other rule becomes a flag column.
NATIVE_RULES = frozenset({"required_missing", "vocabulary", "out_of_range", "uscc_format"})


def flag_rules(flags: list[rules.Flag]) -> list[str]:
    """The rules of a table that GE checks through flag columns, in catalogue order."""
    present = {f.rule for f in flags} | {"duplicate", "key_conflict", "superseded"}
    return [r for r in rules.RULE_NAMES if r in present and r not in NATIVE_RULES]


def build_suite(
    spec: Table, flag_names: list[str], province: str, id_pattern: str = rules.USCC_PATTERN
) -> Any:  # a gx.ExpectationSuite; GE is imported lazily
    import great_expectations as gx
    from great_expectations.expectations.core.expect_column_values_to_be_between import (
        ExpectColumnValuesToBeBetween,
    )
    from great_expectations.expectations.core.expect_column_values_to_be_in_set import (
        ExpectColumnValuesToBeInSet,
    )
    from great_expectations.expectations.core.expect_column_values_to_be_unique import (
        ExpectColumnValuesToBeUnique,
    )
    from great_expectations.expectations.core.expect_column_values_to_match_regex import (
        ExpectColumnValuesToMatchRegex,
    )
    from great_expectations.expectations.core.expect_column_values_to_not_be_null import (
        ExpectColumnValuesToNotBeNull,
    )
    from great_expectations.expectations.core.expect_compound_columns_to_be_unique import (
        ExpectCompoundColumnsToBeUnique,
    )

    suite = gx.ExpectationSuite(name=f"contract-{spec.name}")

    def meta(rule: str, column: str = "") -> dict[str, str]:
        zh, en = rules.reason(rule, column=column or "(row)", limit=0)
        return {"rule": rule, "reason_zh": zh, "reason_en": en}

    for col in spec.columns:
        if not col.nullable:
            suite.add_expectation(
                ExpectColumnValuesToNotBeNull(
                    column=col.name, meta=meta("required_missing", col.name)
                )
            )
        if col.is_uscc:
            suite.add_expectation(
                ExpectColumnValuesToMatchRegex(
                    column=col.name, regex=id_pattern, meta=meta("uscc_format", col.name)
                )
            )
        if col.vocabulary and not col.is_list:
            codes = sorted(
                VOCABULARIES[col.vocabulary]
                if col.vocabulary in VOCABULARIES
                # the whole country's codes are valid; outside the province is a note
                else (
                    reference.all_division_codes() | reference.division_codes(province)
                    if col.vocabulary == "division"
                    else reference.industry_codes()
                )
            )
            suite.add_expectation(
                ExpectColumnValuesToBeInSet(
                    column=col.name, value_set=codes, meta=meta("vocabulary", col.name)
                )
            )
        if col.minimum is not None or col.maximum is not None:
            suite.add_expectation(
                ExpectColumnValuesToBeBetween(
                    column=col.name,
                    min_value=col.minimum,
                    max_value=col.maximum,
                    meta=meta("out_of_range", col.name),
                )
            )
    if len(spec.natural_key) == 1:
        suite.add_expectation(
            ExpectColumnValuesToBeUnique(column=spec.natural_key[0], meta=meta("duplicate"))
        )
    else:
        suite.add_expectation(
            ExpectCompoundColumnsToBeUnique(
                column_list=list(spec.natural_key), meta=meta("duplicate")
            )
        )
    for rule in flag_names:
        suite.add_expectation(
            ExpectColumnValuesToBeInSet(
                column=f"rule__{rule}",
                value_set=[False],
                meta=meta(rule),
                description=rules.RULE_BY_NAME[rule].en,
            )
        )
    return suite


class Validation:
    """One GE file project per ingest output folder; Data Docs accumulate across runs."""

    def __init__(
        self,
        root: Path,
        run_name: str,
        run_time: dt.datetime,
        province: str,
        id_pattern: str = rules.USCC_PATTERN,
    ) -> None:
        self.province = province
        self.id_pattern = id_pattern
        import great_expectations as gx
        from great_expectations.data_context.types.base import ProgressBarsConfig

        self.gx = gx
        root.mkdir(parents=True, exist_ok=True)
        self.ctx = gx.get_context(mode="file", project_root_dir=str(root))
        self.ctx.variables.progress_bars = ProgressBarsConfig(globally=False)
        self.ctx.variables.analytics_enabled = False  # recorded in the project, not only the env
        self.ctx.variables.save()
        self.source = self.ctx.data_sources.add_or_update_pandas("staged")
        self.run_name, self.run_time = run_name, run_time
        self.root = root

    def validate(
        self, spec: Table, flag_names: list[str], batches: Iterator[pd.DataFrame]
    ) -> dict[str, object]:
        from great_expectations.core.run_identifier import RunIdentifier

        gx = self.gx
        suite = self.ctx.suites.add_or_update(
            build_suite(spec, flag_names, self.province, self.id_pattern)
        )
        try:
            asset = self.source.get_asset(spec.name)
        except LookupError:
            asset = self.source.add_dataframe_asset(name=spec.name)
        try:
            batch_def = asset.get_batch_definition("batch")
        except KeyError:
            batch_def = asset.add_batch_definition_whole_dataframe("batch")
        vd = self.ctx.validation_definitions.add_or_update(
            gx.ValidationDefinition(name=f"contract-{spec.name}", data=batch_def, suite=suite)
        )
        checkpoint = self.ctx.checkpoints.add_or_update(
            gx.Checkpoint(
                name=f"ingest-{spec.name}",
                validation_definitions=[vd],
                actions=[],
                result_format={"result_format": "BASIC"},
            )
        )
        summary: dict[str, dict[str, object]] = {}
        n_batches = 0
        for i, frame in enumerate(batches):
            n_batches += 1
            run_id = RunIdentifier(
                run_name=f"{self.run_name}-{spec.name}-{i:04d}", run_time=self.run_time
            )
            result = checkpoint.run(batch_parameters={"dataframe": frame}, run_id=run_id)
            for vr in result.run_results.values():
                for er in vr.results:
                    cfg = er.expectation_config
                    assert cfg is not None  # every result of a suite run carries its expectation
                    kw = cfg.kwargs
                    label = (
                        f"{cfg.type}({kw.get('column') or ','.join(kw.get('column_list') or [])})"
                    )
                    entry = summary.setdefault(
                        label,
                        {"unexpected": 0, "success": True, "rule": (cfg.meta or {}).get("rule")},
                    )
                    entry["unexpected"] = int(str(entry["unexpected"])) + int(
                        er.result.get("unexpected_count") or 0
                    )
                    entry["success"] = bool(entry["success"]) and bool(er.success)
                    if er.exception_info and er.exception_info.get("raised_exception"):
                        raise RuntimeError(
                            f"Great Expectations failed on {spec.name}: {er.exception_info}"
                        )
        return {
            "batches": n_batches,
            "results": summary,
            "success": all(bool(v["success"]) for v in summary.values()),
        }

    def build_docs(self) -> str:
        self.ctx.build_data_docs()
        index = self.root / "gx" / "uncommitted" / "data_docs" / "local_site" / "index.html"
        return str(index)


def staged_batches(
    con: duckdb.DuckDBPyConnection, spec: Table, flag_names: list[str], batch_rows: int
) -> Iterator[pd.DataFrame]:
    """The staged table (DuckDB tables ``stage`` and ``fails`` on ``con``) in batches of
    ``batch_rows``: typed contract columns and rule flags."""
    cols = [rules.quote(c.name) for c in spec.columns]
    cols += [
        f"coalesce(list_contains(list_transform(_fails, lambda x: x.rule), {rules.literal(r)}), FALSE) "
        f"AS {rules.quote('rule__' + r)}"
        for r in flag_names
    ]
    query = f"SELECT {', '.join(cols)} FROM stage LEFT JOIN fails USING (_row) ORDER BY _row"
    reader = con.sql(query).to_arrow_reader(batch_rows)
    pending: list[pa.RecordBatch] = []
    rows = 0
    for batch in reader:  # DuckDB hands out small batches; regroup them to the batch size
        pending.append(batch)
        rows += batch.num_rows
        if rows >= batch_rows:
            yield pa.Table.from_batches(pending).to_pandas()
            pending, rows = [], 0
    if pending or rows == 0:
        yield pa.Table.from_batches(pending, schema=reader.schema).to_pandas()


def validate_staged(
    validation: Validation,
    con: duckdb.DuckDBPyConnection,
    spec: Table,
    flags: list[rules.Flag],
    batch_rows: int,
) -> dict[str, object]:
    """Validate the table staged on ``con`` (flagged by ``flags``); the summary of results
    that the reconciliation records under ``expectations``."""
    names = flag_rules(flags)
    return validation.validate(spec, names, staged_batches(con, spec, names, batch_rows))
