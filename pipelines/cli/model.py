"""Commands of the model's life: ``train``, ``classify``, ``verify`` and ``promote``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from contract.months import Month
from pipelines.cli.common import (
    AUDIT_LOG,
    FeaturesOpt,
    InterimOpt,
    ModelConfigOpt,
    console,
    fail,
    month,
    month_option,
    pct,
    progress,
)
from pipelines.config import ConfigError, load_config
from pipelines.paths import DATA, MODEL_CONFIG, OUTPUTS, REPORT_CONFIG, WARNING_CONFIG

if TYPE_CHECKING:
    from models.config import ModelConfig
    from pipelines.results import TrainMetrics
    from pipelines.train import TrainResult

#: ``--first-label-month`` / ``--last-label-month``: a label window from the command line.
LabelMonthOpt = Annotated[
    Month | None,
    typer.Option(parser=month, metavar="<str>", help="label month YYYY-MM (default: the config's)"),
]


def train(
    features_dir: Annotated[
        Path, typer.Option("--features", help="feature files (riskclass features)")
    ] = DATA.features,
    interim: Annotated[
        Path, typer.Option(help="ingested tables (inspections are the labels)")
    ] = DATA.interim,
    config: ModelConfigOpt = MODEL_CONFIG,
    truth: Annotated[
        Path | None,
        typer.Option(
            help="synthetic province only: the hidden truth, for oracle AUC (evaluation only)"
        ),
    ] = None,
    metrics_out: Annotated[
        Path, typer.Option(help="metrics for `dvc metrics show`")
    ] = OUTPUTS.train_metrics,
    trials: Annotated[
        int | None, typer.Option(help="Optuna trials (default: the config's)")
    ] = None,
    labels: Annotated[
        Path | None,
        typer.Option(
            help="an external labelled snapshot (CSV, XLSX or Parquet: enterprise id, label "
            "0/1, optional weight) instead of the inspections; needs --as-of"
        ),
    ] = None,
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of",
            help="the snapshot's date YYYY-MM-DD (or YYYY-MM): features of the last month end "
            "on or before it; a date before the outcomes were observed (a campaign's start, not "
            "its end), or the campaign's own records reach the features",
        ),
    ] = None,
    id_column: Annotated[
        str | None, typer.Option(help="the snapshot's enterprise id header (default: found)")
    ] = None,
    label_column: Annotated[
        str | None, typer.Option(help="the snapshot's label header (default: found)")
    ] = None,
    weight_column: Annotated[
        str | None, typer.Option(help="the snapshot's weight header (default: found, or none)")
    ] = None,
    first_label_month: LabelMonthOpt = None,
    last_label_month: LabelMonthOpt = None,
    valid_months: Annotated[
        int | None, typer.Option(help="validation months (default: the config's)")
    ] = None,
    test_months: Annotated[
        int | None, typer.Option(help="test months (default: the config's)")
    ] = None,
    cv_folds: Annotated[
        int | None,
        typer.Option(help="folds of grouped cross-validation (default: the config's)"),
    ] = None,
) -> None:
    """Train on double-random inspection outcomes (weights 1/p), tune, calibrate, compare with
    baselines, register the model in MLflow as @challenger. Out of time when the label months
    allow it, else (and on a labelled snapshot) grouped cross-validation by enterprise.

    Example: [bold]riskclass train --truth data/truth[/]
    or [bold]riskclass train --labels campaign.xlsx --as-of 2026-06-30[/]
    """
    from models.config import ModelConfig
    from pipelines.snapshot import LabelsFile
    from pipelines.train import TrainError, run_train

    try:
        cfg = load_config(config, ModelConfig)
    except ConfigError as exc:
        fail(str(exc))
    if trials is not None:
        cfg = cfg.model_copy(update={"tuning": cfg.tuning.model_copy(update={"trials": trials})})
    cfg = overridden(
        cfg,
        {
            "first_label_month": first_label_month,
            "last_label_month": last_label_month,
            "valid_months": valid_months,
            "test_months": test_months,
            "cv_folds": cv_folds,
        },
    )
    if (labels is None) != (as_of is None):
        fail("--labels and --as-of go together: the labels file and the date it is as of")
    spec = (
        LabelsFile(labels, as_of, id_column, label_column, weight_column)
        if labels is not None and as_of is not None
        else None
    )
    with console.status("training") as status:
        try:
            result = run_train(
                cfg,
                features_dir,
                interim,
                truth=truth,
                metrics_out=metrics_out,
                progress=lambda msg: status.update(f"training: {msg}"),
                labels=spec,
            )
        except (TrainError, ConfigError, ValueError) as exc:
            fail(str(exc))
    _print_training(result.metrics, result)
    _print_split(result.metrics.split)


#: How the training table names the models it compares.
MODEL_LABELS = {
    "lightgbm": "LightGBM (1/p)",
    "indicator_score": "indicator score",
    "logistic": "logistic reg.",
    "lightgbm_unweighted": "LightGBM no 1/p",
    "general_plus_sector": "+ sector models",
    "plain_gbm": "plain GBM (aggregates)",
}


def _print_training(m: TrainMetrics, result: TrainResult) -> None:
    lab = m.labelled
    parts = f"train {lab['train']:,} / valid {lab['valid']:,} / test {lab['test']:,}"
    if m.split.get("source", {}).get("source") == "snapshot":
        src = m.split["source"]
        console.print(
            f"labels: {src['rows']:,} rows of {escape(str(src['file']))}: {src['accepted']:,} "
            f"accepted, {src['rejected']:,} rejected ({escape(str(src.get('rejected_file', '')))}); "
            f"{parts}; {m.trials} Optuna trials; {result.seconds:.0f} s",
            soft_wrap=True,
        )
    else:
        console.print(
            f"labels: {lab['labels']:,} double-random inspections ({lab['without_features']:,} without a feature row, "
            f"{lab.get('received_after_cutoff', 0):,} received after the cut-off), "
            f"{parts}; {m.trials} Optuna trials; {result.seconds:.0f} s"
        )
    first = next(iter(m.models.values()))
    order = list(first.hit_rates)
    where = "test fold" if m.split.get("mode") == "grouped_cv" else "test months"
    t = Table(title=f"{where}, weighted: AUC; hit rate by class (before overrides)")
    t.add_column("model", no_wrap=True)
    for col in ["AUC", "/oracle", "logloss", *order, "A<D"]:
        t.add_column(col, justify="right")
    for name, r in m.models.items():
        frac = r.auc_fraction_of_oracle
        t.add_row(
            MODEL_LABELS.get(name, name),
            f"{r.auc:.3f}",
            "" if frac is None else f"{frac:.0%}",
            f"{r.logloss:.3f}",
            *[pct(r.hit_rates[c].hit_rate) for c in order],
            "yes" if r.hit_rates_increasing else "no",
        )
    console.print(t)
    if m.oracle_auc is not None:
        console.print(f"oracle AUC (simulator's true problem probability): {m.oracle_auc:.3f}")
    for name, s in m.sectors.items():
        console.print(f"sector model {name}: {s.reason}")
    if m.plain is not None:  # issue 18: never lose to the plain baseline
        pb = m.plain
        console.print(
            f"plain baseline: AUC difference model - plain GBM {pb.diff:+.3f} "
            f"({pb.confidence:.0%} interval {pb.diff_low:+.3f} to {pb.diff_high:+.3f}): "
            + ("[red]LOST to the plain baseline[/]" if pb.lost else "not worse"),
            soft_wrap=True,
        )
    console.print(
        f"registered as version [bold]{result.version}[/] (@challenger); MLflow run {result.run_id}"
    )


def _month_or_day(text: str) -> str:
    """``--as-of`` of verify: a month YYYY-MM, or a day YYYY-MM-DD (a labels file's date)."""
    import datetime as dt

    if len(text) == len("YYYY-MM-DD"):
        try:
            return dt.date.fromisoformat(text).isoformat()
        except ValueError:
            raise typer.BadParameter(f"a day is written YYYY-MM-DD, got {text!r}") from None
    return str(month(text))


def _print_split(split: dict[str, Any]) -> None:
    """Which split training used, and why; grouped cross-validation's out-of-fold AUC."""
    if split.get("mode") != "grouped_cv":
        console.print("split: out of time (training, validation, test months)")
        return
    cv = split.get("cv", {})
    folds = ", ".join(f"{a:.3f}" if a == a else "–" for a in cv.get("auc_per_fold", []))
    console.print(
        f"split: [bold]grouped cross-validation by enterprise[/] ({split['folds']} folds): "
        f"{escape(split['why'])}; cross-validated AUC {cv.get('auc_mean', float('nan')):.3f} "
        f"(per fold {folds})",
        soft_wrap=True,
    )


def overridden(cfg: ModelConfig, update: dict[str, Any]) -> ModelConfig:
    """``cfg`` with the command line's values (None: not given), validated again; a bad
    value is a clean failure naming the setting."""
    from pydantic import ValidationError

    given = {k: v for k, v in update.items() if v is not None}
    if not given:
        return cfg
    try:
        return cfg.overridden(given)
    except ValidationError as exc:
        fail(
            "command line: "
            + "; ".join(
                f"{'.'.join(str(p) for p in err['loc']) or 'config'}: {err['msg']}"
                for err in exc.errors()
            )
        )


def _thresholds(cfg: ModelConfig, section: str, values: dict[str, Any]) -> dict[str, Any]:
    """An override of one threshold section (verify, promote): its values with the given ones."""
    given = {k: v for k, v in values.items() if v is not None}
    return {section: {**getattr(cfg, section).model_dump(), **given}} if given else {}


def classify(
    as_of: Annotated[Month, month_option("data month YYYY-MM")],
    features_dir: FeaturesOpt = DATA.features,
    out: Annotated[
        Path, typer.Option(help="outputs/<month>/classes.parquet goes here")
    ] = OUTPUTS.root,
    config: ModelConfigOpt = MODEL_CONFIG,
    scheme: Annotated[
        Path | None, typer.Option(help="class scheme (YAML); default: the one in the model config")
    ] = None,
    alias: Annotated[str, typer.Option(help="registered model alias to use")] = "champion",
    explain: Annotated[
        bool,
        typer.Option("--explain/--no-explain", help="store each enterprise's main risk points"),
    ] = True,
    interim: InterimOpt = DATA.interim,
    whatif: Annotated[
        bool,
        typer.Option(
            "--whatif/--no-whatif",
            help="what would lower the risk of each high-class enterprise, re-scored exactly "
            "(configs/model.yaml whatif; needs the risk points)",
        ),
    ] = True,
    engine: Annotated[
        str,
        typer.Option(
            help="local (this process) or spark (Spark tasks: configs/spark.yaml; not for a "
            "shares scheme; the what-if still runs locally)"
        ),
    ] = "local",
    spark_master: Annotated[
        str | None,
        typer.Option(
            help="with --engine spark: local[N] or spark://host:port (replaces the config's)"
        ),
    ] = None,
    spark_config: Annotated[
        Path, typer.Option(help="with --engine spark: the Spark settings (YAML)")
    ] = Path("configs/spark.yaml"),
) -> None:
    """Score every enterprise of a month and assign its class (with overrides), with its
    main risk points (exact TreeSHAP) unless --no-explain, and what would lower the risk of
    every high-class (C, D) enterprise unless --no-whatif (outputs/<month>/whatif.parquet).

    Example: [bold]riskclass classify --as-of 2026-10[/]; on a cluster:
    [bold]riskclass classify --as-of 2026-10 --engine spark --spark-master spark://host:7077[/]
    """
    from models.classes import ClassScheme, SchemeError
    from models.config import ModelConfig
    from pipelines.classify import ClassifyError, run_classify

    try:
        cfg = load_config(config, ModelConfig)
        sch = load_config(scheme or cfg.class_scheme, ClassScheme)
        spark_cfg = None
        if engine == "spark":
            from pipelines.spark.config import SparkConfig

            spark_cfg = load_config(spark_config, SparkConfig).with_master(spark_master)
        with progress() as bar:
            task = bar.add_task(f"classifying {as_of}", total=None)
            report = run_classify(
                cfg,
                sch,
                features_dir,
                as_of,
                out,
                alias=alias,
                explain=explain,
                progress=lambda done, total: bar.update(task, completed=done, total=total),
                interim=interim if whatif else None,
                whatif=cfg.whatif if whatif else None,
                engine=engine,
                spark_config=spark_cfg,
            )
    except (ConfigError, ClassifyError, SchemeError) as exc:
        fail(str(exc))
    r = report.summary
    t = Table(
        title=f"{as_of}: {r.enterprises:,} enterprises, model version {r.model_version} ({sch.name})"
    )
    t.add_column("class")
    t.add_column("enterprises", justify="right")
    t.add_column("share", justify="right")
    for c, n in r.class_counts.items():
        t.add_row(c, f"{n:,}", f"{r.class_shares[c]:.1%}")
    console.print(t)
    if r.overrides:
        console.print("overrides: " + ", ".join(f"{k} {v:,}" for k, v in r.overrides.items()))
    for w in r.warnings:  # aggregate shares only (models.classes.share_warnings)
        console.print(f"[yellow]warning: {escape(w['message'])}[/]", soft_wrap=True)
    console.print(f"classes (internal, not for publication): [bold]{r.out}[/]")
    if report.superseded_updates:
        console.print(
            f"[yellow]note:[/] {report.superseded_updates} within-month update(s) of {as_of} were "
            "made against the classes just replaced: kept under updates/superseded/, no longer "
            "applied; run `riskclass update` again for deliveries after the month end",
            soft_wrap=True,
        )
    if report.whatif is not None:  # counts only
        wi = report.whatif
        console.print(
            f"what-if: {wi.with_remedies:,} of {wi.enterprises:,} high-class enterprises with a "
            f"remedy, {wi.scenarios:,} scenarios in {wi.seconds:.1f} s"
            + (f", {wi.inexact:,} not reproduced (not shown)" if wi.inexact else "")
            + f" (internal): [bold]{wi.out}[/]"
        )


def verify(
    as_of: Annotated[
        str,
        typer.Option(
            parser=_month_or_day,
            metavar="<str>",
            help="last month of the window YYYY-MM (with --labels: the snapshot's date)",
        ),
    ],
    first: Annotated[
        str | None,
        typer.Option("--from", help="first month (default: the model's first test month)"),
    ] = None,
    alias: Annotated[str, typer.Option(help="registered model alias")] = "challenger",
    features_dir: FeaturesOpt = DATA.features,
    interim: InterimOpt = DATA.interim,
    out: Annotated[
        Path, typer.Option(help="outputs/<month>/verification/ goes here")
    ] = OUTPUTS.root,
    config: ModelConfigOpt = MODEL_CONFIG,
    warning: Annotated[
        Path, typer.Option(help="warning rules (YAML) for early-warning precision")
    ] = WARNING_CONFIG,
    names: Annotated[
        Path, typer.Option(help="report configuration: division names")
    ] = REPORT_CONFIG,
    report_only: Annotated[
        bool,
        typer.Option("--report-only", help="exit 0 on FAIL too (pipelines record the verdict)"),
    ] = False,
    labels: Annotated[
        Path | None,
        typer.Option(
            help="a labelled snapshot: the version's held-out test fold of the file it was "
            "trained on (--as-of: its date)"
        ),
    ] = None,
    allow_new_labels: Annotated[
        bool,
        typer.Option(
            "--allow-new-labels",
            help="evaluate a labels file the version was not trained on (its rows in the trained "
            "test fold only, when the version was trained on a labels file)",
        ),
    ] = False,
    id_column: Annotated[str | None, typer.Option(help="the snapshot's id header")] = None,
    label_column: Annotated[str | None, typer.Option(help="the snapshot's label header")] = None,
    weight_column: Annotated[str | None, typer.Option(help="the snapshot's weight header")] = None,
    min_auc: Annotated[
        float | None, typer.Option(help="verdict: least AUC (default: the config's)")
    ] = None,
    min_top_lift: Annotated[
        float | None, typer.Option(help="verdict: least lift of the top class")
    ] = None,
    max_score_psi: Annotated[
        float | None, typer.Option(help="verdict: most PSI of the score")
    ] = None,
) -> None:
    """Verify that a model's classes find problems on held-out double-random inspections
    (or on the held-out test fold of the labelled snapshot it was trained on).

    Example: [bold]riskclass verify --as-of 2026-10 --from 2026-07[/]
    or [bold]riskclass verify --labels campaign.xlsx --as-of 2026-06-30[/]
    """
    from models.classes import ClassScheme
    from models.config import ModelConfig
    from models.data import snapshot_month
    from pipelines.classify import ClassifyError
    from pipelines.snapshot import LabelsFile
    from pipelines.verify import VerifyError, run_verify

    spec = None
    if labels is not None:
        spec = LabelsFile(labels, as_of, id_column, label_column, weight_column)
        as_of = snapshot_month(as_of)[1]  # the feature month: outputs/<month>/verification/
    elif len(as_of) > len("YYYY-MM"):
        fail("--as-of is a month YYYY-MM; a day is for a labels file (--labels)")
    try:
        cfg = load_config(config, ModelConfig)
        thresholds = {"min_auc": min_auc, "min_top_lift": min_top_lift}
        cfg = overridden(
            cfg, _thresholds(cfg, "verify", thresholds | {"max_score_psi": max_score_psi})
        )
        sch = load_config(cfg.class_scheme, ClassScheme)
        from models.warning import WarningConfig
        from pipelines.render.names import Names
        from pipelines.report import ReportConfig

        warn_cfg = load_config(warning, WarningConfig)
        names_cfg = Names.load(load_config(names, ReportConfig))
        result = run_verify(
            cfg,
            sch,
            features_dir,
            interim,
            as_of,
            out,
            first,
            alias,
            warning=warn_cfg,
            names=names_cfg,
            labels=spec,
            allow_new_labels=allow_new_labels,
        )
    except (ConfigError, VerifyError, ClassifyError) as exc:
        fail(str(exc))
    m = result.metrics
    if m.evaluation.get("note"):
        console.print(f"evaluation: {escape(m.evaluation['note'])}", soft_wrap=True)
    t = Table(
        title=f"verification {m.window[0]}..{m.window[1]}, model version "
        f"{m.model.version}: AUC {m.auc:.3f}, KS {m.ks:.3f}"
    )
    weighted = "hit rate (weights)" if spec is not None else "hit rate (1/p)"
    for col in ("class", "inspections", weighted, "95% interval", "unweighted", "lift"):
        t.add_column(col, justify="left" if col == "class" else "right")
    for c, rate in m.class_final.hit_rates.items():
        if rate.inspections:
            t.add_row(
                c,
                f"{rate.inspections:,}",
                f"{rate.weighted:.1%}",
                f"{rate.low:.1%}–{rate.high:.1%}",
                f"{rate.unweighted:.1%}",
                f"{m.class_final.lift[c]:.2f}",
            )
    console.print(t)
    ew = m.early_warning
    if ew.get("computed"):
        w, o = ew["warned"], ew["not_warned"]
        console.print(
            f"early warning: warned before inspection {w['inspections']:,}, hit rate "
            f"{pct(w['hit_rate'])} ({pct(w['low'])}–{pct(w['high'])}); the others "
            f"{pct(o['hit_rate'])}",
            soft_wrap=True,
        )
    hs = m.hot_spots
    console.print(
        f"hot spots (division x industry): {hs['cells_kept']:,} cells of at least "
        f"{hs['min_enterprises']} enterprises, top {min(hs['top'], hs['cells_kept'])} in the report"
    )
    rp = m.main_risk_points.get("overall") or {}
    if rp.get("problems"):  # issue 19: do the reasons name what inspectors found?
        console.print(
            f"main risk points: of {rp['problems']:,} problems of a known category, "
            f"{pct(rp['hit_share'])} had the category among the top "
            f"{m.main_risk_points['top_k']} points (permutation baseline "
            f"{pct(rp['baseline_mean'])}, 95% {pct(rp['baseline_low'])}–"
            f"{pct(rp['baseline_high'])}): "
            + ("above the baseline" if rp["above_baseline"] else "NOT above the baseline"),
            soft_wrap=True,
        )
    for name, check in m.checks.items():
        console.print(
            f"{'[green]pass[/]' if check.passed else '[red]fail[/]'} {name}: {check.threshold}"
        )
    for name, check in m.failed_checks.items():  # what failed, in plain words (issue 19)
        console.print(f"FAILED {name}: {check.message}", soft_wrap=True, markup=False, style="red")
    console.print(f"verdict: [bold]{m.verdict}[/]; {result.out}", soft_wrap=True)
    if not result.passed and not report_only:
        raise typer.Exit(code=1)


def promote(
    config: ModelConfigOpt = MODEL_CONFIG,
    version: Annotated[
        str | None, typer.Option(help="model version (default: @challenger)")
    ] = None,
    user: Annotated[str | None, typer.Option(help="who promotes (default: the login name)")] = None,
    log: Annotated[Path, typer.Option(help="append-only promotion log")] = OUTPUTS.promotions,
    verification: Annotated[
        Path | None,
        typer.Option(help="the version's verification report (riskclass verify): must PASS"),
    ] = None,
    min_test_auc: Annotated[
        float | None, typer.Option(help="least test AUC (default: the config's)")
    ] = None,
    max_test_logloss: Annotated[
        float | None, typer.Option(help="most test log-loss (default: the config's)")
    ] = None,
    min_auc: Annotated[float | None, typer.Option(help="the report's checks: least AUC")] = None,
    min_top_lift: Annotated[
        float | None, typer.Option(help="the report's checks: least lift of the top class")
    ] = None,
    max_score_psi: Annotated[
        float | None, typer.Option(help="the report's checks: most PSI of the score")
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
        promote_limits = {"min_test_auc": min_test_auc, "max_test_logloss": max_test_logloss}
        verify_limits = {
            "min_auc": min_auc,
            "min_top_lift": min_top_lift,
            "max_score_psi": max_score_psi,
        }
        cfg = overridden(
            cfg,
            _thresholds(cfg, "promote", promote_limits) | _thresholds(cfg, "verify", verify_limits),
        )
        decision = run_promote(
            cfg, load_config(cfg.class_scheme, ClassScheme), log, version, user, verification
        )
    except (ConfigError, PromoteError) as exc:
        fail(str(exc))
    from service import audit

    audit.record(
        AUDIT_LOG,
        decision.entry["user"],
        "promote",
        f"{cfg.mlflow.registered_model} v{decision.to_version}",
        outcome=decision.entry["decision"],
        log_seq=decision.entry["seq"],
    )
    for name, c in decision.checks.items():
        mark = "[green]pass[/]" if c.passed else "[red]fail[/]"
        console.print(f"{mark} {name}: {_check_value(c.value)} ({c.threshold})")
    if not decision.promoted:
        fail(f"version {decision.to_version} not promoted; the refusal is logged in {log}")
    console.print(
        f"version [bold]{decision.to_version}[/] is now @champion (was {decision.from_version}); logged in {log}"
    )


def _check_value(value: Any) -> str:
    """A promotion check's value as printed: rates of a list, text as is, else 3 decimals."""
    if isinstance(value, list):
        return ", ".join(f"{v:.1%}" for v in value)
    if isinstance(value, str):
        return value
    return f"{value:.3f}"
