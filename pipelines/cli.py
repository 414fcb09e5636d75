"""`riskclass`: the command line. It owns printing and progress bars; stages log."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn
from rich.table import Table

from pipelines.config import ConfigError, load_config

if TYPE_CHECKING:
    from pipelines.train import TrainResult
    from service.config import ServiceConfig

app = typer.Typer(
    help="Enterprise credit-risk classification for market-regulation bureaus (企业信用风险分类).",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="rich",
)
console = Console()

# Options several commands share (one help text each).
FeaturesOpt = Annotated[Path, typer.Option("--features", help="feature files (one per month)")]
OutputsOpt = Annotated[Path, typer.Option(help="where classify wrote outputs/<month>/")]
InterimOpt = Annotated[Path, typer.Option(help="ingested tables (the registry, inspections)")]
AUDIT_LOG = Path("outputs/audit.jsonl")  # the service's audit trail (service.audit)


def _progress() -> Progress:
    """The progress bar every long step shows."""
    return Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    )


def _fail(message: str) -> None:
    # soft_wrap: a message names files; a path broken across lines cannot be copied or searched
    console.print(f"[bold red]error:[/] {message}", soft_wrap=True)
    raise typer.Exit(code=2)


@app.callback()
def main(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="log progress details")] = False,
) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )


@app.command()
def simulate(
    config: Annotated[Path, typer.Option(help="simulator configuration (YAML)")] = Path(
        "configs/simulator.yaml"
    ),
    enterprises: Annotated[
        int, typer.Option(help="number of enterprises in the registry")
    ] = 100_000,
    months: Annotated[
        int, typer.Option(help="months of history ending at the config's end_month")
    ] = 36,
    seed: Annotated[
        int, typer.Option(help="random seed; the same seed gives byte-identical files")
    ] = 20261,
    out: Annotated[Path, typer.Option(help="folder for the raw contract tables")] = Path(
        "data/raw"
    ),
    truth_out: Annotated[
        Path, typer.Option(help="folder for the hidden truth (read by evaluation only)")
    ] = Path("data/truth"),
    summary_out: Annotated[Path, typer.Option(help="summary figures (JSON)")] = Path(
        "outputs/simulation_summary.json"
    ),
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
    """
    from pipelines.messy import write_messy
    from pipelines.simulate import run_simulate
    from simulator.config import SimulatorConfig

    try:
        cfg = load_config(config, SimulatorConfig)
    except ConfigError as exc:
        _fail(str(exc))
    n_workers = workers or max(1, min(os.cpu_count() or 1, 2))
    with _progress() as bar:
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
            _fail(str(exc))
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


def _print_summary(s: dict, out: Path, truth_out: Path, summary_out: Path) -> None:
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


@app.command()
def ingest(
    source: Annotated[
        Path,
        typer.Option(help="folder with one file (Parquet, CSV, XLSX) or Parquet folder per table"),
    ] = Path("data/raw"),
    out: Annotated[
        Path,
        typer.Option(help="interim folder: accepted tables, quarantine, reconciliation, Data Docs"),
    ] = Path("data/interim"),
    as_of: Annotated[
        str | None,
        typer.Option(help="data month YYYY-MM: records dated after its end are rejected"),
    ] = None,
    config: Annotated[Path, typer.Option(help="ingestion configuration (YAML)")] = Path(
        "configs/ingest.yaml"
    ),
    report_out: Annotated[
        Path | None, typer.Option(help="also write the reconciliation (JSON) here")
    ] = None,
) -> None:
    """Validate, type and reconcile a delivery; rejected rows go to quarantine with reasons.

    Example: [bold]riskclass ingest --source data/raw --out data/interim --as-of 2026-10[/]
    """
    from pipelines.ingest import IngestError, run_ingest
    from pipelines.ingest_config import IngestConfig
    from pipelines.readers import StructuralError

    try:
        cfg = load_config(config, IngestConfig)
    except ConfigError as exc:
        _fail(str(exc))
    with _progress() as bar:
        task = bar.add_task("ingesting", total=None)

        def on_table(name: str) -> None:
            bar.update(task, description=f"ingesting {name}", advance=1)

        try:
            report = run_ingest(cfg, source, out, as_of=as_of, progress=on_table)
        except (StructuralError, IngestError) as exc:
            _fail(str(exc))
    if report_out is not None:
        from pipelines.io import write_json

        write_json(report.to_dict(), report_out)
    _print_reconciliation(report.to_dict(), out)


def _print_reconciliation(r: dict, out: Path) -> None:
    from pipelines.rules import reason

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
            zh, en = reason(rule, column="…", candidates="…", limit=0)
            q.add_row(name, rule, f"{count:,}", f"{zh} / {en}")
    console.print(t)
    if q.row_count:
        console.print(q)
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
    absent = [n for n, row in r["tables"].items() if row["status"] == "absent"]
    if absent:
        console.print(
            f"optional tables absent (features that need them will be missing): {', '.join(absent)}"
        )
    console.print(
        f"accepted: [bold]{out}/<table>.parquet[/]  quarantine: [bold]{out}/quarantine/[/]  "
        f"reconciliation: [bold]{out}/reconciliation.json[/]  Data Docs: [bold]{r['data_docs']}[/]"
    )


@app.command("contract-docs")
def contract_docs(
    out: Annotated[Path, typer.Option(help="where to write the Markdown")] = Path(
        "docs/data-contract.md"
    ),
) -> None:
    """Write the raw-data contract (tables, columns in Chinese and English, rules) as Markdown.

    Example: [bold]riskclass contract-docs --out docs/data-contract.md[/]
    """
    from pipelines.contract_docs import write_contract_docs

    write_contract_docs(out)
    console.print(f"wrote {out}")


@app.command()
def features(
    source: Annotated[Path, typer.Option(help="ingested tables (riskclass ingest --out)")] = Path(
        "data/interim"
    ),
    out: Annotated[
        Path, typer.Option(help="folder for <YYYY-MM>.parquet, one file per month")
    ] = Path("data/processed/features"),
    as_of: Annotated[str | None, typer.Option(help="one month, YYYY-MM")] = None,
    first: Annotated[
        str | None, typer.Option("--from", help="first month of a range (training history)")
    ] = None,
    last: Annotated[
        str | None, typer.Option("--to", help="last month of the range, inclusive")
    ] = None,
    config: Annotated[Path, typer.Option(help="feature configuration (YAML)")] = Path(
        "configs/features.yaml"
    ),
    summary_out: Annotated[
        Path | None, typer.Option(help="also write a summary (JSON: rows, timings, missing shares)")
    ] = None,
) -> None:
    """Point-in-time features of every enterprise, five information groups, per month end.

    Examples: [bold]riskclass features --as-of 2026-10[/];
    [bold]riskclass features --from 2024-10 --to 2026-10[/] (training history)
    """
    from features.config import FeaturesConfig
    from features.engine import FeatureError
    from pipelines.features import resolve_months, run_features

    try:
        cfg = load_config(config, FeaturesConfig)
        months = resolve_months(as_of, first, last)
    except (ConfigError, FeatureError, ValueError) as exc:
        _fail(str(exc))
    with _progress() as bar:
        task = bar.add_task("features", total=len(months))

        def on_month(month: str) -> None:
            bar.update(task, description=f"features {month}", completed=months.index(month))

        try:
            report = run_features(cfg, source, out, months, progress=on_month)
        except FeatureError as exc:
            _fail(str(exc))
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
    if r["absent_tables"]:
        console.print(
            f"tables not delivered (their features are missing): {', '.join(r['absent_tables'])}"
        )


@app.command("feature-docs")
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


@app.command()
def train(
    features_dir: Annotated[
        Path, typer.Option("--features", help="feature files (riskclass features)")
    ] = Path("data/processed/features"),
    interim: Annotated[
        Path, typer.Option(help="ingested tables (inspections are the labels)")
    ] = Path("data/interim"),
    config: Annotated[Path, typer.Option(help="model configuration (YAML)")] = Path(
        "configs/model.yaml"
    ),
    truth: Annotated[
        Path | None,
        typer.Option(
            help="synthetic province only: the hidden truth, for oracle AUC (evaluation only)"
        ),
    ] = None,
    metrics_out: Annotated[Path, typer.Option(help="metrics for `dvc metrics show`")] = Path(
        "outputs/train_metrics.json"
    ),
    trials: Annotated[
        int | None, typer.Option(help="Optuna trials (default: the config's)")
    ] = None,
) -> None:
    """Train on double-random inspection outcomes (weights 1/p), tune, calibrate, compare with
    baselines, register the model in MLflow as @challenger.

    Example: [bold]riskclass train --truth data/truth[/]
    """
    from models.config import ModelConfig
    from pipelines.train import TrainError, run_train

    try:
        cfg = load_config(config, ModelConfig)
    except ConfigError as exc:
        _fail(str(exc))
    if trials is not None:
        cfg = cfg.model_copy(update={"tuning": cfg.tuning.model_copy(update={"trials": trials})})
    with console.status("training") as status:
        try:
            result = run_train(
                cfg, features_dir, interim, truth=truth, metrics_out=metrics_out,
                progress=lambda msg: status.update(f"training: {msg}"),
            )  # fmt: skip
        except (TrainError, ConfigError, ValueError) as exc:
            _fail(str(exc))
    _print_training(result.metrics, result)


def _pct(x: float) -> str:
    return "–" if x is None or x != x else f"{x:.0%}"  # no inspection in the class: no rate


def _print_training(m: dict, result: TrainResult) -> None:
    lab = m["labelled"]
    console.print(
        f"labels: {lab['labels']:,} double-random inspections ({lab['without_features']:,} without a feature row), "
        f"train {lab['train']:,} / valid {lab['valid']:,} / test {lab['test']:,}; {m['trials']} Optuna trials; "
        f"{result.seconds:.0f} s"
    )
    first = next(iter(m["models"].values()))
    order = list(first["hit_rates"])
    t = Table(title="test months, 1/p weighted: AUC; hit rate by class (before overrides)")
    t.add_column("model", no_wrap=True)
    for col in ["AUC", "/oracle", "logloss", *order, "A<D"]:
        t.add_column(col, justify="right")
    labels = {"lightgbm": "LightGBM (1/p)", "indicator_score": "indicator score",
              "logistic": "logistic reg.", "lightgbm_unweighted": "LightGBM no 1/p",
              "general_plus_sector": "+ sector models"}  # fmt: skip
    for name, r in m["models"].items():
        frac = r.get("auc_fraction_of_oracle")
        t.add_row(
            labels.get(name, name), f"{r['auc']:.3f}", "" if frac is None else f"{frac:.0%}", f"{r['logloss']:.3f}",
            *[_pct(r["hit_rates"][c]["hit_rate"]) for c in order],
            "yes" if r["hit_rates_increasing"] else "no",
        )  # fmt: skip
    console.print(t)
    if m.get("oracle_auc") is not None:
        console.print(f"oracle AUC (simulator's true problem probability): {m['oracle_auc']:.3f}")
    for name, s in m["sectors"].items():
        console.print(f"sector model {name}: {s['reason']}")
    console.print(
        f"registered as version [bold]{result.version}[/] (@challenger); MLflow run {result.run_id}"
    )


@app.command()
def classify(
    as_of: Annotated[str, typer.Option(help="data month YYYY-MM")],
    features_dir: FeaturesOpt = Path("data/processed/features"),
    out: Annotated[Path, typer.Option(help="outputs/<month>/classes.parquet goes here")] = Path(
        "outputs"
    ),
    config: Annotated[Path, typer.Option(help="model configuration (YAML)")] = Path(
        "configs/model.yaml"
    ),
    scheme: Annotated[
        Path | None, typer.Option(help="class scheme (YAML); default: the one in the model config")
    ] = None,
    alias: Annotated[str, typer.Option(help="registered model alias to use")] = "champion",
    explain: Annotated[
        bool,
        typer.Option("--explain/--no-explain", help="store each enterprise's main risk points"),
    ] = True,
) -> None:
    """Score every enterprise of a month and assign its class (with overrides), with its
    main risk points (exact TreeSHAP) unless --no-explain.

    Example: [bold]riskclass classify --as-of 2026-10[/]
    """
    from models.classes import ClassScheme, SchemeError
    from models.config import ModelConfig
    from pipelines.classify import ClassifyError, run_classify

    try:
        cfg = load_config(config, ModelConfig)
        sch = load_config(scheme or cfg.class_scheme, ClassScheme)
        with _progress() as bar:
            task = bar.add_task(f"classifying {as_of}", total=None)
            report = run_classify(
                cfg, sch, features_dir, as_of, out, alias=alias, explain=explain,
                progress=lambda done, total: bar.update(task, completed=done, total=total),
            )  # fmt: skip
    except (ConfigError, ClassifyError, SchemeError) as exc:
        _fail(str(exc))
    r = report.to_dict()
    t = Table(
        title=f"{as_of}: {r['enterprises']:,} enterprises, model version {r['model_version']} ({sch.name})"
    )
    t.add_column("class")
    t.add_column("enterprises", justify="right")
    t.add_column("share", justify="right")
    for c, n in r["class_counts"].items():
        t.add_row(c, f"{n:,}", f"{r['class_shares'][c]:.1%}")
    console.print(t)
    if r["overrides"]:
        console.print("overrides: " + ", ".join(f"{k} {v:,}" for k, v in r["overrides"].items()))
    console.print(f"classes (internal, not for publication): [bold]{r['out']}[/]")


@app.command()
def report(
    uscc: Annotated[
        list[str] | None, typer.Argument(help="USCC(s) to report on; or select with the options")
    ] = None,
    as_of: Annotated[str, typer.Option(help="data month YYYY-MM (classified)")] = "",
    klass: Annotated[
        str | None, typer.Option("--class", help="every enterprise of this class (e.g. D)")
    ] = None,
    division: Annotated[
        str | None, typer.Option(help="division code or prefix (4401: a city, 440103: a county)")
    ] = None,
    industry: Annotated[
        str | None, typer.Option(help="industry code or prefix (GB/T 4754)")
    ] = None,
    sample: Annotated[
        int | None, typer.Option(help="a random sample of this many of the selection")
    ] = None,
    seed: Annotated[int, typer.Option(help="seed of the sample")] = 0,
    limit: Annotated[int | None, typer.Option(help="at most this many (in USCC order)")] = None,
    lang: Annotated[str, typer.Option(help="zh (default) or en")] = "zh",
    fmt: Annotated[str, typer.Option("--format", help="html (default) or pdf")] = "html",
    out: Annotated[
        Path | None, typer.Option(help="folder (default outputs/<month>/reports)")
    ] = None,
    outputs: OutputsOpt = Path("outputs"),
    features_dir: FeaturesOpt = Path("data/processed/features"),
    interim: Annotated[Path, typer.Option(help="ingested tables (the registry)")] = Path(
        "data/interim"
    ),
    config: Annotated[Path, typer.Option(help="model configuration (YAML)")] = Path(
        "configs/model.yaml"
    ),
    report_config: Annotated[Path, typer.Option(help="report configuration (YAML)")] = Path(
        "configs/report.yaml"
    ),
    scheme: Annotated[
        Path | None,
        typer.Option(
            help="class scheme the month was classified with (default: the model config's)"
        ),
    ] = None,
) -> None:
    """Reports a regulator can read: class, main risk points, what the enterprise can do.

    Internal to the bureau (内部参考): never publish them or give them to the enterprise.

    Examples: [bold]riskclass report 91440103MA5XXXXXX1 --as-of 2026-10[/];
    [bold]riskclass report --as-of 2026-10 --class D --division 440103[/]
    """
    from models.classes import ClassScheme
    from models.config import ModelConfig
    from pipelines.classify import ClassifyError
    from pipelines.report import Month, ReportConfig, ReportError, write_reports

    if not as_of:
        _fail("report: --as-of MONTH is required")
    if lang not in ("zh", "en"):
        _fail(f"report: --lang must be zh or en, not {lang!r}")
    if fmt not in ("html", "pdf"):
        _fail(f"report: --format must be html or pdf, not {fmt!r}")
    try:
        cfg = load_config(config, ModelConfig)
        rcfg = load_config(report_config, ReportConfig)
        sch = load_config(scheme or cfg.class_scheme, ClassScheme)
        ctx = Month.load(as_of, cfg, rcfg, sch, features_dir, interim, outputs)
        chosen = ctx.select(uscc or (), klass, division, industry, sample, seed, limit)
        if not chosen:
            _fail("report: no enterprise matches the selection")
        with _progress() as bar:
            task = bar.add_task("reports", total=len(chosen))
            run = write_reports(ctx, chosen, lang, fmt, out,  # type: ignore[arg-type]
                                on_progress=lambda n: bar.advance(task, n))  # fmt: skip
    except (ConfigError, ReportError, ClassifyError) as exc:
        _fail(str(exc))
    console.print(f"{len(run.paths):,} report(s) (internal, not for publication)")
    if run.index is not None:
        console.print(f"index: [bold]{run.index}[/]", soft_wrap=True)  # a path stays whole
    console.print(f"report: [bold]{run.paths[0]}[/]", soft_wrap=True)


@app.command()
def plan(
    as_of: Annotated[str, typer.Option(help="data month YYYY-MM (classified)")],
    campaign: Annotated[
        Path, typer.Option(help="campaign (YAML), e.g. configs/campaigns/routine.yaml")
    ],
    seed: Annotated[
        int, typer.Option(help="the published seed: the same seed redraws the same list")
    ],
    roster: Annotated[
        Path | None, typer.Option(help="inspectors (CSV: inspector_id, name, unit, conflicts)")
    ] = None,
    outputs: OutputsOpt = Path("outputs"),
    interim: InterimOpt = Path("data/interim"),
    config: Annotated[Path, typer.Option(help="model configuration (YAML)")] = Path(
        "configs/model.yaml"
    ),
    scheme: Annotated[
        Path | None, typer.Option(help="class scheme (default: the model config's)")
    ] = None,
) -> None:
    """Draw the double-random inspection list of a month (CSV and XLSX for the platform).

    Example: [bold]riskclass plan --as-of 2026-10 --campaign configs/campaigns/routine.yaml --seed 20261101[/]
    """
    from models.classes import ClassScheme
    from models.config import ModelConfig
    from models.sampling import Campaign, PlanError
    from pipelines.plan import run_plan

    try:
        cfg = load_config(config, ModelConfig)
        sch = load_config(scheme or cfg.class_scheme, ClassScheme)
        run = run_plan(as_of, load_config(campaign, Campaign), sch, seed, outputs, interim, roster)
    except (ConfigError, PlanError) as exc:
        _fail(str(exc))
    s = run.summary
    t = Table(title=f"plan {s['plan_id']}: {s['inspections']:,} enterprises, {s['rows']:,} items")
    for col in ("stratum", "enterprises", "drawn", "inclusion probability"):
        t.add_column(col, justify="left" if col == "stratum" else "right")
    for name, st in s["strata"].items():
        t.add_row(name, f"{st['size']:,}", f"{st['drawn']:,}", f"{st['inclusion_probability']:.2%}")
    console.print(t)
    console.print(f"excluded (inspected recently, not operating): {s['excluded']:,}")
    console.print(f"plan (internal): [bold]{run.folder / 'plan.csv'}[/]", soft_wrap=True)


@app.command()
def feedback(
    plan: Annotated[
        Path, typer.Option(help="the plan's folder, e.g. outputs/2026-10/plans/routine")
    ],
    results: Annotated[Path, typer.Option(help="the platform's results (CSV or XLSX)")],
    as_of: Annotated[
        str | None,
        typer.Option(help="delivery month YYYY-MM: results dated after its end are rejected"),
    ] = None,
    interim: InterimOpt = Path("data/interim"),
    out: Annotated[Path, typer.Option(help="deliveries and rejected rows, per plan")] = Path(
        "data/feedback"
    ),
    config: Annotated[Path, typer.Option(help="ingestion configuration (YAML)")] = Path(
        "configs/ingest.yaml"
    ),
) -> None:
    """Bring a plan's inspection results in: linked to the plan, ingested into inspections.

    Example: [bold]riskclass feedback --plan outputs/2026-10/plans/routine --results results.xlsx --as-of 2026-11[/]
    """
    from pipelines.feedback import FeedbackError, run_feedback
    from pipelines.ingest import IngestError
    from pipelines.ingest_config import IngestConfig

    try:
        cfg = load_config(config, IngestConfig)
        run = run_feedback(plan, results, interim, out, cfg, as_of=as_of)
    except (ConfigError, FeedbackError, IngestError) as exc:
        _fail(str(exc))
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


@app.command("simulate-loop")
def simulate_loop(
    to: Annotated[str, typer.Option(help="last month of the loop YYYY-MM (simulated)")],
    months: Annotated[int, typer.Option(help="months the loop runs")] = 12,
    retrain_every: Annotated[int, typer.Option(help="retrain every N months")] = 3,
    seed: Annotated[int, typer.Option(help="seed of the draws and the outcomes")] = 0,
    campaign: Annotated[Path, typer.Option(help="campaign (YAML): the class rates")] = Path(
        "configs/campaigns/routine.yaml"
    ),
    truth: Annotated[Path, typer.Option(help="the simulator's hidden truth")] = Path("data/truth"),
    features_dir: FeaturesOpt = Path("data/processed/features"),
    interim: InterimOpt = Path("data/interim"),
    out: Annotated[Path, typer.Option(help="outputs/loop/<to>/ goes here")] = Path("outputs"),
    config: Annotated[Path, typer.Option(help="model configuration (YAML)")] = Path(
        "configs/model.yaml"
    ),
) -> None:
    """Run the synthetic province's monthly loop with the model in it; compare policies.

    Each month: classify, draw, let the hidden truth decide what inspectors find, feed the
    results back, verify; retrain every N months. Uniform random inspection, the indicator
    points (rules) and the model draw the same number of inspections.

    Example: [bold]riskclass simulate-loop --to 2026-10 --months 12 --retrain-every 3 --seed 1[/]
    """
    from models.sampling import PlanError
    from pipelines.loop import LoopError, load_inputs, run_loop

    try:
        cfg, sch, camp, weights = load_inputs(config, campaign)
        with _progress() as bar:
            task = bar.add_task("loop", total=months)

            def step(message: str) -> None:
                bar.update(task, description=message)
                if message.endswith("inspect"):
                    bar.advance(task)

            r = run_loop(cfg, sch, camp, weights, features_dir, interim, truth, out, to,
                         months, retrain_every, seed, progress=step)  # fmt: skip
    except (ConfigError, LoopError, PlanError) as exc:
        _fail(str(exc))
    s = r.summary
    t = Table(title=f"problems found per 100 inspections, {s['months'][0]}..{s['months'][1]}, "
                    "same budget")  # fmt: skip
    for col in ("policy", "inspections", "found", "per 100", "95% CI", "expected", "lift"):
        t.add_column(col, justify="left" if col == "policy" else "right", no_wrap=True)
    names = {"uniform": "uniform", "rules": "indicator points", "model": "model"}
    for policy, v in s["policies"].items():
        t.add_row(names[policy], f"{v['inspections']:,}", f"{v['problems']:,}",
                  f"{v['per_100']:.1f}", f"{v['low']:.1f}–{v['high']:.1f}",
                  f"{v['expected_per_100']:.1f}", f"{v['lift_over_uniform']:.2f}×")  # fmt: skip
    console.print(t)
    e = s["estimation"]
    console.print(
        "share of enterprises with a problem, estimated from the model's inspections against "
        f"the truth, {e['months']} months: 1/p-weighted mean error {e['weighted']['mean_error']:+.3f} "
        f"(RMSE {e['weighted']['rmse']:.3f}, interval covers the truth {e['weighted_interval_covers_truth']}"
        f"/{e['months']}); unweighted {e['unweighted']['mean_error']:+.3f} (RMSE {e['unweighted']['rmse']:.3f})",
        soft_wrap=True,
    )
    console.print(f"models: {', '.join(s['models'])}; details: [bold]{r.out}[/]", soft_wrap=True)


@app.command()
def summary(
    as_of: Annotated[str, typer.Option(help="data month YYYY-MM (classified)")],
    outputs: OutputsOpt = Path("outputs"),
    config: Annotated[Path, typer.Option(help="model configuration (YAML)")] = Path(
        "configs/model.yaml"
    ),
) -> None:
    """The closing table of a month's run: shares, hit rates, lift, verdict, where to look.

    Example: [bold]riskclass summary --as-of 2026-10[/]
    """
    from models.classes import ClassScheme, class_order
    from models.config import ModelConfig
    from pipelines.summary import SummaryError, collect

    try:
        cfg = load_config(config, ModelConfig)
        s = collect(outputs, as_of, class_order(load_config(cfg.class_scheme, ClassScheme)))
    except (SummaryError, ConfigError) as exc:
        _fail(str(exc))
    c, v = s["classes"], s["verification"]
    title = f"{as_of}: {c['enterprises']:,} enterprises, model version {c['model_version']}"
    t = Table(title=title)
    for col in ("class", "share", "", "hit rate (1/p)", "95% CI", "inspections", "lift"):
        t.add_column(col, justify="left" if col in ("class", "") else "right", no_wrap=True)
    rates = v["class_final"]["hit_rates"] if v else {}
    for k in s["order"]:
        share = c["class_shares"][k]
        r = rates.get(k, {})
        bar = "█" * round(12 * share)
        t.add_row(k, f"{share:.1%}", bar, _pct1(r.get("hit_rate")),
                  f"{_pct1(r.get('low'))}–{_pct1(r.get('high'))}" if r else "–",
                  f"{r.get('inspections', 0):,}" if r else "–",
                  f"{v['class_final']['lift'].get(k) or float('nan'):.2f}" if v else "–")  # fmt: skip
    console.print(t)
    if v:
        colour = "green" if v["verdict"] == "PASS" else "red"
        console.print(
            f"verification {v['window'][0]}..{v['window'][1]} (model version "
            f"{v['model']['version']}): [bold {colour}]{v['verdict']}[/], AUC {v['auc']:.3f}, "
            f"{s['top_class']}:{next(iter(rates), '?')} ratio {v['class_final']['top_to_bottom']:.1f}",
            soft_wrap=True,
        )
    else:
        console.print("verification: none for this month (riskclass verify)")
    if s["versions_differ"]:
        console.print(
            f"[yellow]note:[/] the month was classified by model version {c['model_version']}, "
            f"verified with version {v['model']['version']}"
        )
    loop = s["loop"]
    if loop:
        p = loop["policies"]
        console.print(
            f"monthly loop {loop['months'][0]}..{loop['months'][1]}, problems per 100 "
            f"inspections at one budget: uniform {p['uniform']['per_100']:.1f}, indicator points "
            f"{p['rules']['per_100']:.1f}, model {p['model']['per_100']:.1f} "
            f"({p['model']['low']:.1f}–{p['model']['high']:.1f})",
            soft_wrap=True,
        )
    for label, path in (("verification report", s["verification_html"]),
                        (f"a class-{s['top_class']} report", s["top_class_report"]),
                        *(("inspection plan", p) for p in s["plans"])):  # fmt: skip
        if path:
            console.print(f"{label}: [bold]{path}[/]", soft_wrap=True)
    console.print(f"MLflow UI: [bold]{s['mlflow_ui']}[/]")
    console.print(
        "staff service: [bold]riskclass users add --username admin --role admin[/] "
        "(once), then [bold]make serve[/]  # http://127.0.0.1:8000",
        soft_wrap=True,
    )
    console.print(
        "[dim]内部参考，不作为对企业的信用评价，不得对外公开 (internal, not for publication)[/]"
    )


def _pct1(x: float | None) -> str:
    return "–" if x is None or x != x else f"{x:.1%}"


@app.command()
def verify(
    as_of: Annotated[str, typer.Option(help="last month of the window YYYY-MM")],
    first: Annotated[
        str | None,
        typer.Option("--from", help="first month (default: the model's first test month)"),
    ] = None,
    alias: Annotated[str, typer.Option(help="registered model alias")] = "challenger",
    features_dir: FeaturesOpt = Path("data/processed/features"),
    interim: InterimOpt = Path("data/interim"),
    out: Annotated[Path, typer.Option(help="outputs/<month>/verification/ goes here")] = Path(
        "outputs"
    ),
    config: Annotated[Path, typer.Option(help="model configuration (YAML)")] = Path(
        "configs/model.yaml"
    ),
    warning: Annotated[
        Path, typer.Option(help="warning rules (YAML) for early-warning precision")
    ] = Path("configs/warning.yaml"),
    names: Annotated[Path, typer.Option(help="report configuration: division names")] = Path(
        "configs/report.yaml"
    ),
    report_only: Annotated[
        bool,
        typer.Option("--report-only", help="exit 0 on FAIL too (pipelines record the verdict)"),
    ] = False,
) -> None:
    """Verify that a model's classes find problems on held-out double-random inspections.

    Example: [bold]riskclass verify --as-of 2026-10 --from 2026-07[/]
    """
    from models.classes import ClassScheme
    from models.config import ModelConfig
    from pipelines.classify import ClassifyError
    from pipelines.verify import VerifyError, run_verify

    try:
        cfg = load_config(config, ModelConfig)
        sch = load_config(cfg.class_scheme, ClassScheme)
        from models.warning import WarningConfig
        from pipelines.report import Names, ReportConfig

        warn_cfg = load_config(warning, WarningConfig)
        names_cfg = Names.load(load_config(names, ReportConfig))
        result = run_verify(cfg, sch, features_dir, interim, as_of, out, first, alias,
                            warning=warn_cfg, names=names_cfg)  # fmt: skip
    except (ConfigError, VerifyError, ClassifyError) as exc:
        _fail(str(exc))
    m = result.metrics
    t = Table(title=f"verification {m['window'][0]}..{m['window'][1]}, model version "
                    f"{m['model']['version']}: AUC {m['auc']:.3f}, KS {m['ks']:.3f}")  # fmt: skip
    for col in ("class", "inspections", "hit rate (1/p)", "95% interval", "unweighted", "lift"):
        t.add_column(col, justify="left" if col == "class" else "right")
    for c, r in m["class_final"]["hit_rates"].items():
        if r["inspections"]:
            t.add_row(c, f"{r['inspections']:,}", f"{r['hit_rate']:.1%}",
                      f"{r['low']:.1%}–{r['high']:.1%}", f"{r['unweighted']:.1%}",
                      f"{m['class_final']['lift'][c]:.2f}")  # fmt: skip
    console.print(t)
    ew = m["early_warning"]
    if ew.get("computed"):
        w, o = ew["warned"], ew["not_warned"]
        console.print(
            f"early warning: warned before inspection {w['inspections']:,}, hit rate "
            f"{_pct(w['hit_rate'])} ({_pct(w['low'])}–{_pct(w['high'])}); the others "
            f"{_pct(o['hit_rate'])}",
            soft_wrap=True,
        )
    hs = m["hot_spots"]
    console.print(
        f"hot spots (division x industry): {hs['cells_kept']:,} cells of at least "
        f"{hs['min_enterprises']} enterprises, top {min(hs['top'], hs['cells_kept'])} in the report"
    )
    for name, c in m["checks"].items():
        console.print(
            f"{'[green]pass[/]' if c['passed'] else '[red]fail[/]'} {name}: {c['threshold']}"
        )
    console.print(f"verdict: [bold]{m['verdict']}[/]; {result.out}", soft_wrap=True)
    if not result.passed and not report_only:
        raise typer.Exit(code=1)


@app.command()
def warn(
    as_of: Annotated[str, typer.Option(help="data month YYYY-MM (classified)")],
    config: Annotated[Path, typer.Option(help="warning rules (YAML)")] = Path(
        "configs/warning.yaml"
    ),
    model_config: Annotated[Path, typer.Option(help="model configuration (YAML)")] = Path(
        "configs/model.yaml"
    ),
    outputs: OutputsOpt = Path("outputs"),
    features_dir: FeaturesOpt = Path("data/processed/features"),
    interim: InterimOpt = Path("data/interim"),
) -> None:
    """The month's early-warning list: risk that rose sharply, monitoring rules tripped.

    Example: [bold]riskclass warn --as-of 2026-10[/]
    """
    from models.classes import ClassScheme
    from models.config import ModelConfig
    from models.warning import WarningConfig
    from pipelines.warn import WarnError, run_warn

    try:
        cfg = load_config(model_config, ModelConfig)
        run = run_warn(as_of, load_config(config, WarningConfig),
                       load_config(cfg.class_scheme, ClassScheme), outputs, features_dir, interim)  # fmt: skip
    except (ConfigError, WarnError, ValueError) as exc:
        _fail(str(exc))
    t = Table(title=f"{as_of}: {run.counts['enterprises']:,} enterprises warned")
    t.add_column("reason")
    t.add_column("enterprises", justify="right")
    for k, v in run.counts.items():
        if k not in ("enterprises", "rises_judged"):
            t.add_row(k, f"{v:,}")
    console.print(t)
    if not run.counts["rises_judged"]:
        console.print("no classes for the previous month: rises not judged, rules only")
    console.print(f"warnings (internal): [bold]{run.out.with_suffix('.csv')}[/]", soft_wrap=True)


@app.command()
def promote(
    config: Annotated[Path, typer.Option(help="model configuration (YAML)")] = Path(
        "configs/model.yaml"
    ),
    version: Annotated[
        str | None, typer.Option(help="model version (default: @challenger)")
    ] = None,
    user: Annotated[str | None, typer.Option(help="who promotes (default: the login name)")] = None,
    log: Annotated[Path, typer.Option(help="append-only promotion log")] = Path(
        "outputs/promotions.jsonl"
    ),
    verification: Annotated[
        Path | None,
        typer.Option(help="the version's verification report (riskclass verify): must PASS"),
    ] = None,
) -> None:
    """Make a model version the @champion if it passes the checks; log the decision.

    Example: [bold]riskclass promote --user zhang.san[/]
    """
    from models.classes import ClassScheme
    from models.config import ModelConfig
    from pipelines.promote import PromoteError, run_promote

    try:
        cfg = load_config(config, ModelConfig)
        decision = run_promote(cfg, load_config(cfg.class_scheme, ClassScheme), log, version, user,
                               verification)  # fmt: skip
    except (ConfigError, PromoteError) as exc:
        _fail(str(exc))
    from service import audit

    audit.record(AUDIT_LOG, decision.entry["user"], "promote", f"{cfg.mlflow.registered_model} v{decision.to_version}",
                 outcome=decision.entry["decision"], log_seq=decision.entry["seq"])  # fmt: skip
    for name, c in decision.checks.items():
        mark = "[green]pass[/]" if c["passed"] else "[red]fail[/]"
        value = c["value"]
        shown = (", ".join(f"{v:.1%}" for v in value) if isinstance(value, list)
                 else value if isinstance(value, str) else f"{value:.3f}")  # fmt: skip
        console.print(f"{mark} {name}: {shown} ({c['threshold']})")
    if not decision.promoted:
        _fail(f"version {decision.to_version} not promoted; the refusal is logged in {log}")
    console.print(
        f"version [bold]{decision.to_version}[/] is now @champion (was {decision.from_version}); logged in {log}"
    )


# ---------------------------------------------------------------------- the staff service
users_app = typer.Typer(help="accounts of the staff service (no default account exists)")
audit_app = typer.Typer(help="the audit trail and the monthly seals")
app.add_typer(users_app, name="users")
app.add_typer(audit_app, name="audit")
AccountsOpt = Annotated[Path, typer.Option(help="accounts database (SQLite)")]
ServiceConfigOpt = Annotated[
    Path, typer.Option(help="the staff service's settings: proxies, logins, four eyes, anchors")
]


ByOpt = Annotated[str | None, typer.Option(help="who does it (default: the login name)")]
DeciderOpt = Annotated[str, typer.Option(help="the deciding administrator's account name")]


def _who(by: str | None) -> str:
    import getpass

    return by or getpass.getuser()


@users_app.command("add")
def users_add(
    username: Annotated[str, typer.Option(help="lower-case name, e.g. zhang.san")],
    role: Annotated[str, typer.Option(help="county, city, province, data_scientist or admin")],
    divisions: Annotated[
        str, typer.Option(help="jurisdiction: division code prefixes, comma-separated")
    ] = "",
    named_lists: Annotated[
        bool, typer.Option("--named-lists", help="data scientist: may see named lists")
    ] = False,
    password_file: Annotated[
        Path | None, typer.Option(help="read the password from this file (else prompted)")
    ] = None,
    accounts: AccountsOpt = Path("outputs/service/accounts.sqlite"),
    by: Annotated[
        str | None, typer.Option(help="who adds the account (default: login name)")
    ] = None,
) -> None:
    """Add an account; the first admin is made this way (there is no default password).

    An account that sees named data, or another admin, waits for a second administrator
    (riskclass users approve).

    Example: [bold]riskclass users add --username admin --role admin[/]
    """
    from service import audit
    from service.accounts import AccountError, Accounts

    if password_file is not None:
        password = password_file.read_text(encoding="utf-8").strip()
    else:
        password = typer.prompt("password", hide_input=True, confirmation_prompt=True)
    who = _who(by)
    try:
        grant = Accounts(accounts).add(
            username, password, role, tuple(divisions.split(",")), named_lists, by=who
        )
    except AccountError as exc:
        _fail(f"users add: {exc}")
    waits = grant.request_id is not None
    audit.record(AUDIT_LOG, who, "add_user", username, outcome="pending" if waits else "ok",
                 role=role, divisions=divisions, named_lists=named_lists,
                 request=grant.request_id)  # fmt: skip
    if waits:
        console.print(f"account {username} ({role}) pending approval by a second administrator "
                      f"(request {grant.request_id})")  # fmt: skip
    else:
        console.print(f"account {username} ({role}) added to {accounts}")


@users_app.command("change")
def users_change(
    username: Annotated[str, typer.Option(help="the account to change")],
    by: DeciderOpt,
    role: Annotated[str | None, typer.Option(help="new role (default: unchanged)")] = None,
    divisions: Annotated[
        str | None, typer.Option(help="new division code prefixes, comma-separated")
    ] = None,
    named_lists: Annotated[
        bool | None,
        typer.Option("--named-lists/--no-named-lists", help="data scientist: named lists"),
    ] = None,
    accounts: AccountsOpt = Path("outputs/service/accounts.sqlite"),
) -> None:
    """Change an account's role, division codes or named lists.

    Narrowing applies at once; widening waits for a second administrator (riskclass users
    approve).

    Example: [bold]riskclass users change --username li.si --divisions 4401 --by admin[/]
    """
    from service import audit
    from service.accounts import AccountError, Accounts

    codes = None if divisions is None else tuple(divisions.split(","))
    try:
        grant = Accounts(accounts).change(
            username, role=role, divisions=codes, named_lists=named_lists, by=by
        )
    except AccountError as exc:
        _fail(f"users change: {exc}")
    waits = grant.request_id is not None
    u = grant.user
    audit.record(AUDIT_LOG, by, "change_user", username, outcome="pending" if waits else "ok",
                 role=u.role, divisions=",".join(u.divisions), named_lists=u.named_lists,
                 request=grant.request_id)  # fmt: skip
    if waits:
        console.print(f"change of {username} pending approval by a second administrator "
                      f"(request {grant.request_id})")  # fmt: skip
    else:
        console.print(f"account {username} now {u.role} {','.join(u.divisions)}".rstrip())


@users_app.command("pending")
def users_pending(accounts: AccountsOpt = Path("outputs/service/accounts.sqlite")) -> None:
    """List the requests waiting for a second administrator."""
    from service.accounts import Accounts

    t = Table("request", "kind", "user", "role", "divisions", "named lists", "requested by",
              "requested at")  # fmt: skip
    for r in Accounts(accounts).pending():
        t.add_row(str(r.id), r.kind, r.username, r.role, ",".join(r.divisions),
                  str(r.named_lists), r.requested_by,
                  r.requested_at.isoformat(timespec="seconds"))  # fmt: skip
    console.print(t)


def _decide(request: int, by: str, accounts: Path, approve: bool) -> None:
    from service import audit
    from service.accounts import AccountError, Accounts

    action = "approve_request" if approve else "reject_request"
    acc = Accounts(accounts)
    concerned = next((r.username for r in acc.pending() if r.id == request), "")
    try:
        if approve:
            acc.approve(request, by=by)
        else:
            acc.reject(request, by=by)
    except AccountError as exc:
        audit.record(AUDIT_LOG, by, action, concerned, outcome="refused", request=request)
        _fail(f"users {'approve' if approve else 'reject'}: {exc}")
    audit.record(AUDIT_LOG, by, action, concerned, request=request)
    console.print(f"request {request} ({concerned}) {'approved' if approve else 'rejected'}")


@users_app.command("approve")
def users_approve(
    request: Annotated[int, typer.Option(help="request number (riskclass users pending)")],
    by: DeciderOpt,
    accounts: AccountsOpt = Path("outputs/service/accounts.sqlite"),
) -> None:
    """Approve a request: an administrator other than the one who asked, not its account.

    Example: [bold]riskclass users approve --request 3 --by wang.admin[/]
    """
    _decide(request, by, accounts, approve=True)


@users_app.command("reject")
def users_reject(
    request: Annotated[int, typer.Option(help="request number (riskclass users pending)")],
    by: DeciderOpt,
    accounts: AccountsOpt = Path("outputs/service/accounts.sqlite"),
) -> None:
    """Reject a request (a rejected new account is removed).

    Example: [bold]riskclass users reject --request 3 --by wang.admin[/]
    """
    _decide(request, by, accounts, approve=False)


@users_app.command("unlock")
def users_unlock(
    username: Annotated[str, typer.Option(help="the user name whose failed logins to forget")],
    client: Annotated[
        str | None, typer.Option(help="only from this address (default: every address)")
    ] = None,
    accounts: AccountsOpt = Path("outputs/service/accounts.sqlite"),
    by: ByOpt = None,
) -> None:
    """Forget a user name's failed logins, so a blocked address may try again at once.

    Example: [bold]riskclass users unlock --username zhang.san --client 10.0.0.7[/]
    """
    from service import audit
    from service.accounts import Accounts

    cleared = Accounts(accounts).unlock(username, client)
    audit.record(AUDIT_LOG, _who(by), "unlock_user", username, client=client, cleared=cleared)
    console.print(f"{username}: {cleared} throttle record(s) cleared")


@users_app.command("list")
def users_list(accounts: AccountsOpt = Path("outputs/service/accounts.sqlite")) -> None:
    """List the accounts (no passwords) with their status: active, inactive or pending."""
    from service.accounts import Accounts

    t = Table("user", "role", "divisions", "named lists", "status")
    for u, status in Accounts(accounts).users():
        t.add_row(u.username, u.role, ",".join(u.divisions), str(u.named_lists), status)
    console.print(t)


@users_app.command("deactivate")
def users_deactivate(
    username: Annotated[str, typer.Option()],
    accounts: AccountsOpt = Path("outputs/service/accounts.sqlite"),
    by: ByOpt = None,
) -> None:
    """Deactivate an account, end its sessions and close its open requests."""
    from service import audit
    from service.accounts import AccountError, Accounts

    try:
        Accounts(accounts).deactivate(username)
    except AccountError as exc:
        _fail(f"users deactivate: {exc}")
    audit.record(AUDIT_LOG, _who(by), "deactivate_user", username)
    console.print(f"account {username} deactivated")


@app.command()
def seal(
    as_of: Annotated[str, typer.Option(help="classified month YYYY-MM")],
    outputs: OutputsOpt = Path("outputs"),
    user: Annotated[str | None, typer.Option(help="who seals (default: the login name)")] = None,
    features_dir: FeaturesOpt = Path("data/processed/features"),
    reseal_reason: Annotated[
        str | None, typer.Option(help="sealing a month again: why (recorded in the seal)")
    ] = None,
    service_config: ServiceConfigOpt = Path("configs/service.yaml"),
) -> None:
    """Seal a month's outputs and its feature file: file hashes, chained to the previous seal;
    then sign the chains' heads into the anchor file (when this account holds the key).

    Example: [bold]riskclass seal --as-of 2026-10[/]
    """
    import getpass

    from service import audit
    from service.seal import SealError
    from service.seal import seal as do_seal

    who = user or getpass.getuser()
    try:
        entry = do_seal(outputs, as_of, who, AUDIT_LOG, features_dir / f"{as_of}.parquet",
                        reseal_reason)  # fmt: skip
    except (SealError, ValueError) as exc:
        _fail(str(exc))
    audit.record(AUDIT_LOG, who, "seal", as_of, files=len(entry["files"]), seal_seq=entry["seq"],
                 reseal_reason=reseal_reason)  # fmt: skip
    console.print(
        f"{as_of} sealed: {len(entry['files']):,} files and its features; the seal chain's head "
        f"is now seq {entry['seq']}, {entry['sha256']}",
        soft_wrap=True,
    )
    _anchor(_service_config(service_config), outputs, f"seal {as_of}")


def _service_config(path: Path) -> ServiceConfig:
    from service.config import ServiceConfig

    try:
        return load_config(path, ServiceConfig)
    except ConfigError as exc:
        _fail(str(exc))
        raise  # unreachable: _fail exits


def _anchor(cfg: ServiceConfig, outputs: Path, reason: str, required: bool = False) -> None:
    """Sign the chains' heads into the anchor file (`service.anchor`), when this account holds
    the private key; else say what is not protected."""
    from service import anchor

    a = cfg.anchors
    if a is None or a.private_key is None or not a.private_key.is_file():
        message = ("no anchor made: configs/service.yaml names no readable anchors.private_key; "
                   "the chains' heads are not signed (riskclass audit keygen)")  # fmt: skip
        if required:
            _fail(message)
        console.print(f"[yellow]{message}[/]", soft_wrap=True)
        return
    try:
        entry = anchor.make(a.file, a.private_key, outputs, AUDIT_LOG, reason)
    except anchor.AnchorError as exc:
        _fail(str(exc))
    heads = ", ".join(f"{k} seq {v['seq']}" for k, v in entry["heads"].items())
    console.print(f"anchored ({reason}): {heads} -> {a.file}", soft_wrap=True)


@audit_app.command("verify")
def audit_verify(
    outputs: OutputsOpt = Path("outputs"),
    service_config: ServiceConfigOpt = Path("configs/service.yaml"),
    anchors: Annotated[
        Path | None, typer.Option(help="the anchor file (default: configs/service.yaml)")
    ] = None,
    public_key: Annotated[
        Path | None, typer.Option(help="the anchors' public key (default: configs/service.yaml)")
    ] = None,
) -> None:
    """Check the audit log, the promotion log, the seal chain and every sealed month's files
    (every file hashed in full), against the signed anchors.

    Exit 1 when anything was edited, deleted, reordered, inserted, cut off, rewritten with
    recomputed hashes or changed after its seal, or when the newest anchor is too old.

    Example: [bold]riskclass audit verify --anchors /mnt/worm/anchors.jsonl[/]
    """
    import datetime as dt
    import re

    from service import anchor
    from service.audit import verify as do_verify

    cfg = _service_config(service_config)
    anchors = anchors or (cfg.anchors.file if cfg.anchors else None)
    public_key = public_key or (cfg.anchors.public_key if cfg.anchors else None)
    anchored = None
    if anchors is None or public_key is None:
        console.print("[yellow]no anchors configured: a log cut short or rewritten with "
                      "recomputed hashes after the last seal cannot be detected[/]")  # fmt: skip
    else:
        max_age = dt.timedelta(minutes=cfg.anchors.max_age_minutes if cfg.anchors else 180)
        try:  # an audit check: how old the newest anchor is, by the real clock
            anchored = anchor.read(anchors, anchor.load_public(public_key),
                                   dt.datetime.now(dt.UTC), max_age)  # fmt: skip
        except anchor.AnchorError as exc:
            _fail(str(exc))
    found = do_verify(outputs, AUDIT_LOG, outputs / "promotions.jsonl", anchored=anchored)
    bad = 0
    uscc = re.compile(r"\b[0-9A-Z]{18}\b")  # report file names would say who is class D
    for where, problems in found.items():
        console.print(
            f"{'[green]ok[/]' if not problems else '[red]FAIL[/]'} {where}", soft_wrap=True
        )
        for p in problems:
            console.print(f"    {uscc.sub('<USCC>', p)}", soft_wrap=True)
        bad += len(problems)
    if bad:
        raise typer.Exit(code=1)


@audit_app.command("anchor")
def audit_anchor(
    outputs: OutputsOpt = Path("outputs"),
    service_config: ServiceConfigOpt = Path("configs/service.yaml"),
    reason: Annotated[str, typer.Option(help="recorded with the anchor")] = "scheduled",
) -> None:
    """Sign the current heads of the audit, promotion and seal chains into the anchor file.

    Run it from the account that holds the private key (not the service's), on a timer:
    e.g. hourly, [bold]riskclass audit anchor --reason hourly[/]
    """
    _anchor(_service_config(service_config), outputs, reason, required=True)


@audit_app.command("keygen")
def audit_keygen(
    service_config: ServiceConfigOpt = Path("configs/service.yaml"),
) -> None:
    """Make the anchors' Ed25519 key pair at the paths configs/service.yaml names.

    Keep the private key with the operator's account only; the service needs the public key.
    """
    from service import anchor

    a = _service_config(service_config).anchors
    if a is None or a.private_key is None:
        _fail("audit keygen: configs/service.yaml names no anchors.private_key")
        return
    try:
        kid = anchor.keygen(a.private_key, a.public_key)
    except anchor.AnchorError as exc:
        _fail(f"audit keygen: {exc}")
    console.print(f"key {kid}: private {a.private_key} (owner only), public {a.public_key}")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port")] = 8000,
    outputs: OutputsOpt = Path("outputs"),
    interim: InterimOpt = Path("data/interim"),
    features_dir: FeaturesOpt = Path("data/processed/features"),
    accounts: AccountsOpt = Path("outputs/service/accounts.sqlite"),
    secure_cookies: Annotated[
        bool, typer.Option("--secure-cookies", help="behind HTTPS: cookies only over TLS")
    ] = False,
    service_config: ServiceConfigOpt = Path("configs/service.yaml"),
) -> None:
    """Start the staff service (log in with an account made by `riskclass users add`).

    Example: [bold]riskclass serve --port 8000[/]
    """
    from service.accounts import Accounts
    from service.app import Settings, run

    if Accounts(accounts).count() == 0:
        _fail(
            f"no account in {accounts}; create the first admin: riskclass users add --username admin --role admin"
        )
    cfg = _service_config(service_config)
    settings = Settings(config=cfg, outputs=outputs, interim=interim, features=features_dir,
                        accounts=accounts, audit_log=AUDIT_LOG, secure_cookies=secure_cookies)  # fmt: skip
    console.print(f"serving on http://{host}:{port} with {cfg.workers} process(es) "
                  "(internal: bureau staff only)")  # fmt: skip
    run(settings, host, port)


if __name__ == "__main__":
    app()
