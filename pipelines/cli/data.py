"""Commands that bring data in and make it ready: ``simulate``, ``ingest``, ``contract-docs``,
``features``, ``feature-docs`` and ``feedback`` (a plan's inspection results)."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from contract.months import Month
from pipelines.cli.common import (
    IngestConfigOpt,
    InterimOpt,
    console,
    fail,
    month,
    month_option,
    progress,
)
from pipelines.config import ConfigError, load_config
from pipelines.paths import DATA, FEATURES_CONFIG, INGEST_CONFIG, OUTPUTS, SIMULATOR_CONFIG

#: ``riskclass simulate --difficulty``: the configuration each level selects (issue 19).
DIFFICULTY_CONFIGS = {
    "default": SIMULATOR_CONFIG,
    "hard": SIMULATOR_CONFIG.with_name("simulator_hard.yaml"),
}


def simulate(
    config: Annotated[
        Path | None,
        typer.Option(help="simulator configuration (YAML); default configs/simulator.yaml"),
    ] = None,
    difficulty: Annotated[
        str | None,
        typer.Option(
            help="shortcut for --config: default (configs/simulator.yaml) or hard "
            "(configs/simulator_hard.yaml: a markedly weaker signal)"
        ),
    ] = None,
    enterprises: Annotated[
        int, typer.Option(help="number of enterprises in the registry")
    ] = 100_000,
    months: Annotated[
        int, typer.Option(help="months of history ending at the config's end_month")
    ] = 36,
    seed: Annotated[
        int, typer.Option(help="random seed; the same seed gives byte-identical files")
    ] = 20261,
    out: Annotated[Path, typer.Option(help="folder for the raw contract tables")] = DATA.raw,
    truth_out: Annotated[
        Path, typer.Option(help="folder for the hidden truth (read by evaluation only)")
    ] = DATA.truth,
    summary_out: Annotated[
        Path, typer.Option(help="summary figures (JSON)")
    ] = OUTPUTS.simulation_summary,
    messy_out: Annotated[
        Path | None,
        typer.Option(help="also write a corrupted copy here (CSV/XLSX as departments export)"),
    ] = None,
    workers: Annotated[
        int, typer.Option(help="worker processes (default: CPU count, at most 2 per 24 GiB)")
    ] = 0,
) -> None:
    """Generate a synthetic province with a hidden ground truth.

    Example: [bold]riskclass simulate --enterprises 100000 --months 36 --seed 7 --out data/raw --messy-out data/raw_messy[/]
    (a harder world: [bold]riskclass simulate --difficulty hard[/])
    """
    from pipelines.simulate import load_simulator_config, run_simulate, write_messy

    if difficulty is not None and difficulty not in DIFFICULTY_CONFIGS:
        fail(f"--difficulty: one of {', '.join(DIFFICULTY_CONFIGS)}, not {difficulty!r}")
    if difficulty is not None and config is not None:
        fail("give --config or --difficulty, not both")
    config = DIFFICULTY_CONFIGS[difficulty] if difficulty is not None else config
    try:
        cfg = load_simulator_config(config or SIMULATOR_CONFIG)
    except ConfigError as exc:
        fail(str(exc))
    n_workers = workers or max(1, min(os.cpu_count() or 1, 2))
    with progress() as bar:
        task = bar.add_task("simulating chunks", total=None)

        def on_progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        try:
            summary = run_simulate(
                cfg,
                enterprises=enterprises,
                months=months,
                seed=seed,
                out=out,
                truth_out=truth_out,
                summary_out=summary_out,
                workers=n_workers,
                progress=on_progress,
            )
        except ValueError as exc:
            fail(str(exc))
        if messy_out is not None:
            messy_task = bar.add_task("writing the messy copy", total=None)
            write_messy(
                cfg, out, messy_out, seed, lambda d, t: bar.update(messy_task, completed=d, total=t)
            )
    _print_summary(summary.to_dict(), out, truth_out, summary_out)
    if messy_out is not None:
        console.print(
            f"messy copy (for ingestion tests): [bold]{messy_out}[/] (one file per table, manifest.json)"
        )


def _print_summary(s: dict[str, Any], out: Path, truth_out: Path, summary_out: Path) -> None:
    console.print(
        f"\n[bold]Synthetic province[/]: {s['enterprises']:,} enterprises, {s['first_month']} .. {s['last_month']} ({s['months']} months), seed {s['seed']}"
    )
    rows = Table("table", "rows", title="rows per table")
    for name, count in s["rows"].items():
        rows.add_row(name, f"{count:,}")
    console.print(rows)
    cls = Table(
        "class",
        "share of enterprise-months",
        "double-random inspections",
        "hit rate",
        title="legacy classes of the history (rule-based)",
    )
    for c in ("A", "B", "C", "D"):
        cls.add_row(
            c,
            f"{s['legacy_class_shares'][c]:.1%}",
            f"{s['double_random_inspections_by_class'][c]:,}",
            f"{s['double_random_hit_rate_by_class'][c]:.1%}",
        )
    console.print(cls)
    cov = (
        ", ".join(f"{y}: {v:.1%}" for y, v in s["yearly_double_random_coverage"].items())
        or "no full calendar year in the window"
    )
    console.print(f"yearly double-random coverage: {cov}")
    console.print(
        f"oracle AUC (true probability vs outcome, double-random inspections): [bold]{s['oracle_auc']:.3f}[/] - the ceiling for any model"
    )
    console.print(
        f"\nraw tables: [bold]{out}/<table>/part-*.parquet[/]   hidden truth: [bold]{truth_out}/[/]   summary: [bold]{summary_out}[/]"
    )


def simulate_research(
    out: Annotated[Path, typer.Option(help="folder for the extract (its truth goes to truth/)")],
    enterprises: Annotated[int, typer.Option(help="number of enterprises")] = 15_000,
    seed: Annotated[
        int, typer.Option(help="random seed; the same seed gives byte-identical files")
    ] = 0,
) -> None:
    """Write an anonymised, labelled research data set (opaque ids, annual reports, tax
    records, news sentiment, yearly counts, labels as of 2025-06-30), as CSV files with
    Chinese headers, and its hidden truth in <out>/truth/. Ingest it with the example
    configuration (docs/bring-your-own-data.md, section 12).

    Example: [bold]riskclass simulate-research --out data/research --enterprises 15000[/]
    """
    from pipelines.simulate import write_research_dataset

    if enterprises < 10:
        fail("--enterprises must be at least 10")
    summary = write_research_dataset(out, enterprises=enterprises, seed=seed)
    files = summary["files"]
    assert isinstance(files, dict)
    for name, rows in files.items():
        console.print(f"{escape(str(out / name))}: {rows:,} rows")
    console.print(
        f"label prevalence {summary['label_prevalence']:.1%}; oracle AUC of the true label "
        f"probability {summary['oracle_auc']:.3f}; hidden truth: {escape(str(summary['truth']))}"
    )
    console.print(
        f"next: riskclass ingest --source {out} --out data/interim --as-of 2025-06 "
        "--config configs/sources/examples/research/ingest.yaml"
    )


def ingest(
    source: Annotated[
        Path,
        typer.Option(help="folder with one file (Parquet, CSV, XLSX) or Parquet folder per table"),
    ] = DATA.raw,
    out: Annotated[
        Path,
        typer.Option(help="interim folder: accepted tables, quarantine, reconciliation, Data Docs"),
    ] = DATA.interim,
    as_of: Annotated[
        Month | None,
        month_option("data month YYYY-MM: records dated after its end are rejected"),
    ] = None,
    config: IngestConfigOpt = INGEST_CONFIG,
    report_out: Annotated[
        Path | None, typer.Option(help="also write the reconciliation (JSON) here")
    ] = None,
    delivery_date: Annotated[
        str | None,
        typer.Option(
            help="date the bureau received the delivery (YYYY-MM-DD); source mappings may use "
            "it as {delivery_date}, e.g. as the received date of an export that has none"
        ),
    ] = None,
) -> None:
    """Validate, type and reconcile a delivery; rejected rows go to quarantine with reasons.

    Files named after their table are read by the contract's column names; others by the
    source mappings in the folder that `sources:` of the ingest configuration names
    (see docs/bring-your-own-data.md, and `riskclass preview-source` to try one first).

    Example: [bold]riskclass ingest --source data/raw --out data/interim --as-of 2026-10[/]
    """
    from pipelines.ingest import IngestError, run_ingest
    from pipelines.intake.config import IngestConfig
    from pipelines.intake.readers import StructuralError

    try:
        cfg = load_config(config, IngestConfig)
    except ConfigError as exc:
        fail(str(exc))
    received = _date_option(delivery_date, "--delivery-date")
    with progress() as bar:
        task = bar.add_task("ingesting", total=None)

        def on_table(name: str) -> None:
            bar.update(task, description=f"ingesting {name}", advance=1)

        try:
            report = run_ingest(
                cfg, source, out, as_of=as_of, progress=on_table, delivery_date=received
            )
        except (StructuralError, IngestError) as exc:
            fail(str(exc))
    if report_out is not None:
        from pipelines.io import write_json

        write_json(report.to_dict(), report_out)
    _print_reconciliation(report.to_dict(), out)


def _date_option(text: str | None, option: str) -> dt.date | None:
    if text is None:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        fail(f"{option} must be a date YYYY-MM-DD, got {text!r}")


def _print_reconciliation(r: dict[str, Any], out: Path) -> None:
    from pipelines.intake.rules import reason

    t = Table(
        "table",
        "status",
        "rows read",
        "accepted",
        "quarantined",
        "in interim",
        title=f"reconciliation - {r['run_name']}",
    )
    q = Table("table", "rule", "rows", "reason", title="quarantined rows by rule")
    for name, row in r["tables"].items():
        t.add_row(
            name,
            row["status"],
            f"{row['rows_read']:,}",
            f"{row['accepted']:,}",
            f"{row['quarantined']:,}",
            f"{row['rows_in_interim']:,}",
        )
        for rule, count in sorted(row["quarantined_by_rule"].items(), key=lambda kv: -kv[1]):
            zh, en = reason(rule, column="…", candidates="…", limit=0, detail="…")
            q.add_row(name, rule, f"{count:,}", escape(f"{zh} / {en}"))
    console.print(t)
    if q.row_count:
        console.print(q)
    res = Table("table", "resolved by", "notes", title="how enterprises were resolved; notes")
    for name, row in r["tables"].items():
        resolution = row.get("resolution") or {}
        notes = row.get("notes") or {}
        if set(resolution) - {"uscc", "opaque"} or notes:
            res.add_row(
                name,
                ", ".join(f"{k} {v:,}" for k, v in resolution.items()),
                ", ".join(f"{k} {v:,}" for k, v in notes.items()),
            )
    if res.row_count:
        console.print(res)
    read = sum(row["rows_read"] for row in r["tables"].values())
    acc = sum(row["accepted"] for row in r["tables"].values())
    qua = sum(row["quarantined"] for row in r["tables"].values())
    console.print(
        f"rows read {read:,} = accepted {acc:,} + quarantined {qua:,}; unaccounted: [bold]{r['unaccounted_rows']}[/]"
    )
    if r["unknown_files"]:
        console.print(
            f"files that are no contract table (not read): {', '.join(r['unknown_files'])}"
        )
    unavailable = [n for n, row in r["tables"].items() if row["status"] == "unavailable"]
    if unavailable:
        console.print(
            f"tables declared unavailable (their features are missing, never zero): {', '.join(unavailable)}"
        )
    registry = (r["tables"].get("enterprises") or {}).get("source", {}).get("registry")
    if registry:
        console.print(
            "the registry carries identifiers only (registry: ids_only); these registry "
            f"columns are NULL, never inferred: {', '.join(registry['columns_absent'])}"
        )
    if r.get("unused_sources"):
        console.print(f"source mappings that matched no file: {', '.join(r['unused_sources'])}")
    absent = [n for n, row in r["tables"].items() if row["status"] == "absent"]
    if absent:
        console.print(
            f"optional tables absent (features that need them will be missing): {', '.join(absent)}"
        )
    _print_quality(r.get("quality") or {})
    console.print(
        f"accepted: [bold]{out}/<table>/[/] (Delta tables)  quarantine: [bold]{out}/quarantine/[/]  "
        f"reconciliation: [bold]{out}/reconciliation.json[/]  Data Docs: [bold]{r['data_docs']}[/]"
    )


def _print_quality(quality: dict[str, Any]) -> None:
    """Collection quality per department and table (`pipelines.intake.quality`)."""
    from pipelines.intake.quality import table_rows

    rows = table_rows(quality)
    if not rows:
        return
    limit = quality["working_day_limit"]

    def pct(v: float | None) -> str:
        return "-" if v is None else f"{v:.1%}"

    def days(v: float | None) -> str:
        return "-" if v is None else f"{v:g}"

    t = Table(
        "department",
        "table",
        "records",
        f"<={limit}wd",
        "median/p90",
        "filled req/opt",
        "errors",
        title=f"collection quality: delay from event to receipt in working days (wd), "
        f"limit {limit} (seeds/004); completeness; quarantined share",
    )
    for r in rows:
        t.add_row(
            escape(r["department"]),
            escape(r["table"]),
            f"{r['records']:,}",
            pct(r["within_limit_share"]),
            f"{days(r['median_days'])}/{days(r['p90_days'])}",
            f"{pct(r['required_filled_share'])}/{pct(r['optional_filled_share'])}",
            pct(r["error_rate"]),
        )
    console.print(t)
    outside = sum(r["outside_calendar"] for r in quality.get("tables", []))
    if outside:
        years = quality["calendar"]["years"]
        console.print(
            f"{outside:,} records have a date outside the holiday calendar's years "
            f"{years[0]}-{years[1]}: weekends only were left out for them"
        )


def preview_source(
    file: Annotated[Path, typer.Argument(help="an export file (CSV, XLSX, XLS, Parquet)")],
    mapping: Annotated[
        Path | None,
        typer.Option(
            help="source mapping (YAML) to try; default: the configured one whose files match"
        ),
    ] = None,
    table: Annotated[
        str | None,
        typer.Option(help="read the file by the contract's own names as this table (no mapping)"),
    ] = None,
    registry: Annotated[
        Path | None,
        typer.Option(help="interim folder whose enterprises table resolves the file's enterprises"),
    ] = DATA.interim,
    as_of: Annotated[
        Month | None, month_option("data month YYYY-MM: records dated after its end are rejected")
    ] = None,
    delivery_date: Annotated[
        str | None,
        typer.Option(help="date the delivery was received (YYYY-MM-DD), for {delivery_date}"),
    ] = None,
    config: IngestConfigOpt = INGEST_CONFIG,
    rows: Annotated[int, typer.Option(help="quarantined rows to show")] = 15,
    out: Annotated[
        Path | None, typer.Option(help="also write the whole preview (JSON) here")
    ] = None,
) -> None:
    """Try a source mapping on one file before ingesting: the header row found and why, each
    column's fate, the value coverage of every mapping, and the rows that would be
    quarantined and for what. Writes nothing but --out.

    Example: [bold]riskclass preview-source exports/行政处罚2026-10.xlsx --mapping configs/sources/penalties_samr.yaml[/]
    """
    from pipelines.intake.config import IngestConfig
    from pipelines.intake.preview import choose_mapping, preview
    from pipelines.intake.readers import StructuralError
    from pipelines.intake.sources import SourceError

    try:
        cfg = load_config(config, IngestConfig)
    except ConfigError as exc:
        fail(str(exc))
    if not file.is_file():
        fail(f"{file}: no such file")
    received = _date_option(delivery_date, "--delivery-date")
    reg = registry if registry is not None and registry.is_dir() else None
    try:
        m = choose_mapping(cfg, file, mapping, table)
        p = preview(cfg, file, m, table, reg, as_of, received, rows)
    except (SourceError, StructuralError) as exc:
        fail(str(exc))
    d = p.to_dict()
    h = d["header"]
    console.print(
        f"[bold]{file}[/] -> table [bold]{d['table']}[/] (mapping: {d['mapping'] or 'contract names'}; "
        f"format {d['format']}{', ' + d['encoding'] if d['encoding'] and d['encoding'] != d['format'] else ''})"
    )
    if h:
        console.print(
            f"header: row {h['row']} ({h['title_rows_above']} title rows above); "
            f"{h['matched_cells']} of {h['non_empty_cells']} cells name a column; "
            f"runner-up row {h['runner_up_matches']}: {h['verdict']}"
        )
    cols = Table("#", "header", "fate", "column", "by", title="columns")
    for c in d["columns"]:
        cols.add_row(
            str(c["position"]),
            c["header"],
            c["fate"] + (" (filter)" if c.get("filter") else ""),
            c.get("column", ""),
            c.get("by", ""),
        )
    if cols.row_count:
        console.print(cols)
    if d["missing_required"]:
        console.print(
            f"[bold red]required columns nobody supplies:[/] {', '.join(d['missing_required'])}"
        )
    for target, values in d["values"].items():
        v = Table("text", "rows", "value", "how", "valid code", title=f"values of {target}")
        for e in values:
            ok = e.get("valid_code")
            v.add_row(
                escape(str(e["text"])),
                f"{e['rows']:,}",
                escape(str(e["value"])),
                e["how"],
                "" if ok is None else ("yes" if ok else "[red]no[/]"),
            )
        console.print(v)
    r = d["rows"]
    if "error" in r:
        console.print(f"[bold red]ingestion would stop:[/] {escape(r['error'])}", soft_wrap=True)
    else:
        console.print(
            f"rows: read {r['read']:,} = accepted {r['accepted']:,} + quarantined {r['quarantined']:,}; "
            f"by rule: {r['quarantined_by_rule'] or '-'}; resolved by: {r['resolution'] or '-'}; "
            f"notes: {r['notes'] or '-'}"
        )
        if d["quarantine_sample"]:
            q = Table("row", "rule", "reason", title="rows that would be quarantined (first ones)")
            for e in d["quarantine_sample"]:
                q.add_row(
                    str(e.get("source_row")),
                    str(e.get("rule")),
                    escape(f"{e.get('reason_zh')} / {e.get('reason_en')}"),
                )
            console.print(q)
    if out is not None:
        from pipelines.io import write_json

        write_json(d, out)


def contract_docs(
    out: Annotated[Path, typer.Option(help="where to write the Markdown")] = Path(
        "docs/data-contract.md"
    ),
    sources: Annotated[
        Path | None,
        typer.Option(help="folder of source mappings whose passthrough columns to document"),
    ] = None,
) -> None:
    """Write the raw-data contract (tables, columns in Chinese and English, rules, lineage, and
    the passthrough columns of the source mappings named by --sources) as Markdown.

    Example: [bold]riskclass contract-docs --out docs/data-contract.md[/]
    """
    from pipelines.contract_docs import write_contract_docs
    from pipelines.intake.sources import SourceError, load_sources

    try:
        mappings = load_sources(sources) if sources is not None else []
    except SourceError as exc:
        fail(str(exc))
    write_contract_docs(out, mappings)
    console.print(f"wrote {out}")


def features(
    source: Annotated[
        Path, typer.Option(help="ingested tables (riskclass ingest --out)")
    ] = DATA.interim,
    out: Annotated[
        Path, typer.Option(help="folder for <YYYY-MM>.parquet, one file per month")
    ] = DATA.features,
    as_of: Annotated[Month | None, month_option("one month, YYYY-MM")] = None,
    first: Annotated[
        str | None, typer.Option("--from", help="first month of a range (training history)")
    ] = None,
    last: Annotated[
        str | None, typer.Option("--to", help="last month of the range, inclusive")
    ] = None,
    config: Annotated[Path, typer.Option(help="feature configuration (YAML)")] = FEATURES_CONFIG,
    summary_out: Annotated[
        Path | None, typer.Option(help="also write a summary (JSON: rows, timings, missing shares)")
    ] = None,
    rediscover: Annotated[
        bool,
        typer.Option(
            help="look again for the bureau's own indicators and pass-through columns "
            "(<out>/derived.json; models must then be retrained)"
        ),
    ] = False,
    engine: Annotated[
        str,
        typer.Option(
            help="duckdb (this machine) or spark (the same SQL on Spark SQL: a cluster, or "
            "local[N]); the files are the same"
        ),
    ] = "duckdb",
    spark_master: Annotated[
        str | None,
        typer.Option(
            help="with --engine spark: local[N] or spark://host:port "
            "(default: master: of configs/spark.yaml)"
        ),
    ] = None,
    interim_as_of: Annotated[
        Month | None,
        typer.Option(
            "--interim-as-of",
            parser=month,
            metavar="<str>",
            help="read the ingested tables as the pipeline knew them at that month (the "
            "store's state after its last ingest <= MONTH), e.g. to rebuild a past month's "
            "features exactly after later corrections",
        ),
    ] = None,
) -> None:
    """Point-in-time features of every enterprise, five information groups, per month end.

    Examples: [bold]riskclass features --as-of 2026-10[/];
    [bold]riskclass features --from 2024-10 --to 2026-10[/] (training history);
    [bold]riskclass features --as-of 2026-10 --engine spark --spark-master local[2][/]
    """
    from features.config import FeaturesConfig
    from features.engine import FeatureError
    from pipelines.features import resolve_months, run_features
    from pipelines.store import StoreError

    try:
        cfg = load_config(config, FeaturesConfig)
        months = resolve_months(as_of, first, last)
        if engine not in ("duckdb", "spark"):
            raise FeatureError(f"features: --engine {engine!r}: give duckdb or spark")
        if spark_master is not None and engine != "spark":
            raise FeatureError("features: --spark-master needs --engine spark")
        if spark_master is not None:
            from pipelines.spark.config import load_spark_config

            load_spark_config().with_master(spark_master)  # a bad master fails here, clearly
    except (ConfigError, FeatureError, ValueError) as exc:
        fail(str(exc))
    with progress() as bar:
        task = bar.add_task("features", total=len(months))

        def on_month(month: str) -> None:
            bar.update(task, description=f"features {month}", completed=months.index(month))

        try:
            report = run_features(
                cfg,
                source,
                out,
                months,
                progress=on_month,
                rediscover=rediscover,
                engine="spark" if engine == "spark" else "duckdb",
                spark_master=spark_master,
                as_of=str(interim_as_of) if interim_as_of else None,
            )
        except (FeatureError, StoreError) as exc:
            fail(str(exc))
        bar.update(task, completed=len(months))
    r = report.to_dict()
    if summary_out is not None:
        from pipelines.io import write_json

        write_json(r, summary_out)
    rows = [v["enterprises"] for v in r["months"].values()]
    console.print(
        f"[bold]{r['features']}[/] features (+{r['context_columns']} context columns) for "
        f"{len(rows)} month(s), {min(rows):,}–{max(rows):,} enterprises each, "
        f"{sum(m.seconds for m in report.months):.0f} s: [bold]{out}/<YYYY-MM>.parquet[/]"
    )
    if r.get("derived_features"):
        console.print(
            f"of which [bold]{r['derived_features']}[/] derived from the bureau's own columns "
            f"({len(r['derived_sources'])} indicators or pass-through columns; "
            f"{out}/derived.json)"
        )
    for key, why in r.get("derived_skipped", {}).items():
        console.print(f"not used for features: {escape(key)}: {escape(why)}")
    if r["absent_tables"]:
        console.print(
            f"tables not delivered (their features are missing): {', '.join(r['absent_tables'])}"
        )
    registry = _registry_scheme(source)
    if registry:
        console.print(
            "the registry carries identifiers only (registry: ids_only): the features derived "
            f"from {', '.join(map(str, registry.get('columns_absent', [])))} are missing"
        )


def _registry_scheme(interim: Path) -> dict[str, Any]:
    """What availability.json of an ingested folder says of an ids-only registry ({} else)."""
    import json

    from pipelines.store import side_file

    path = side_file(Path(interim), "availability.json")
    if not path.is_file():
        return {}
    registry = json.loads(path.read_text(encoding="utf-8")).get("registry")
    return registry if isinstance(registry, dict) else {}


def feature_docs(
    out: Annotated[Path, typer.Option(help="where to write the Markdown")] = Path(
        "docs/features.md"
    ),
) -> None:
    """Write the feature catalog (names, groups, directions, report sentences) as Markdown.

    Example: [bold]riskclass feature-docs --out docs/features.md[/]
    """
    from pipelines.feature_docs import write_feature_docs

    write_feature_docs(out)
    console.print(f"wrote {out}")


def feedback(
    plan: Annotated[
        Path, typer.Option(help="the plan's folder, e.g. outputs/2026-10/plans/routine")
    ],
    results: Annotated[Path, typer.Option(help="the platform's results (CSV or XLSX)")],
    as_of: Annotated[
        Month | None,
        month_option("delivery month YYYY-MM: results dated after its end are rejected"),
    ] = None,
    interim: InterimOpt = DATA.interim,
    out: Annotated[
        Path, typer.Option(help="deliveries and rejected rows, per plan")
    ] = DATA.feedback,
    config: IngestConfigOpt = INGEST_CONFIG,
) -> None:
    """Bring a plan's inspection results in: linked to the plan, ingested into inspections.

    Example: [bold]riskclass feedback --plan outputs/2026-10/plans/routine --results results.xlsx --as-of 2026-11[/]
    """
    from pipelines.feedback import FeedbackError, run_feedback
    from pipelines.ingest import IngestError
    from pipelines.intake.config import IngestConfig

    try:
        cfg = load_config(config, IngestConfig)
        run = run_feedback(plan, results, interim, out, cfg, as_of=as_of)
    except (ConfigError, FeedbackError, IngestError) as exc:
        fail(str(exc))
    s = run.summary
    ing = s["ingest"]
    console.print(
        f"plan {s['plan_id']}: results read {s['rows_read']:,} = linked {s['linked']:,} "
        f"+ rejected {s['rejected']:,}; linked = accepted {ing['accepted'] or 0:,} "
        f"+ quarantined {ing['quarantined'] or 0:,} by ingestion",
        soft_wrap=True,
    )
    for rule, n in {**s["rejected_by_rule"], **(ing["quarantined_by_rule"] or {})}.items():
        console.print(f"  {rule}: {n:,}")
    console.print(f"enterprises of the plan still without a result: {s['without_result']:,}")
    console.print(f"delivery, rejected rows, counts: [bold]{run.folder}[/]", soft_wrap=True)
