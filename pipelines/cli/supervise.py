"""Commands that turn a classified month into supervision: ``report``, ``plan``, ``warn``,
``simulate-loop`` (the synthetic province's monthly loop) and ``summary``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal, cast

import typer
from rich.table import Table

from contract.months import Month
from pipelines.cli.common import (
    ClassifiedMonthOpt,
    FeaturesOpt,
    InterimOpt,
    ModelConfigOpt,
    OutputsOpt,
    console,
    fail,
    month_option,
    pct1,
    progress,
)
from pipelines.config import ConfigError, load_config
from pipelines.paths import CAMPAIGNS, DATA, MODEL_CONFIG, OUTPUTS, REPORT_CONFIG, WARNING_CONFIG
from pipelines.render.wording import BANNER_ZH

if TYPE_CHECKING:
    from pipelines.render.names import Lang


def report(
    uscc: Annotated[
        list[str] | None, typer.Argument(help="USCC(s) to report on; or select with the options")
    ] = None,
    as_of: Annotated[Month | None, month_option("data month YYYY-MM (classified)")] = None,
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
    outputs: OutputsOpt = OUTPUTS.root,
    features_dir: FeaturesOpt = DATA.features,
    interim: Annotated[Path, typer.Option(help="ingested tables (the registry)")] = DATA.interim,
    config: ModelConfigOpt = MODEL_CONFIG,
    report_config: Annotated[
        Path, typer.Option(help="report configuration (YAML)")
    ] = REPORT_CONFIG,
    scheme: Annotated[
        Path | None,
        typer.Option(
            help="class scheme the month was classified with (default: the model config's)"
        ),
    ] = None,
    workers: Annotated[
        int,
        typer.Option(
            help="processes writing a batch's reports (0: one per core); the pages are the same"
        ),
    ] = 0,
    chunk: Annotated[
        int, typer.Option(help="reports built together (a batch's unit of work)", min=1)
    ] = 500,
) -> None:
    """Reports a regulator can read: class, main risk points, what the enterprise can do.

    Internal to the bureau (内部参考): never publish them or give them to the enterprise.

    Examples: [bold]riskclass report 91440103MA5XXXXXX1 --as-of 2026-10[/];
    [bold]riskclass report --as-of 2026-10 --class D --division 440103[/]
    """
    from models.classes import ClassScheme
    from models.config import ModelConfig
    from pipelines.classify import ClassifyError
    from pipelines.report import ReportConfig, ReportError, ReportMonth, write_reports

    if not as_of:
        fail("report: --as-of MONTH is required")
    if lang not in ("zh", "en"):
        fail(f"report: --lang must be zh or en, not {lang!r}")
    if fmt not in ("html", "pdf"):
        fail(f"report: --format must be html or pdf, not {fmt!r}")
    try:
        cfg = load_config(config, ModelConfig)
        rcfg = load_config(report_config, ReportConfig)
        sch = load_config(scheme or cfg.class_scheme, ClassScheme)
        ctx = ReportMonth.load(as_of, cfg, rcfg, sch, features_dir, interim, outputs)
        chosen = ctx.select(uscc or (), klass, division, industry, sample, seed, limit)
        if not chosen:
            fail("report: no enterprise matches the selection")
        with progress() as bar:
            task = bar.add_task("reports", total=len(chosen))
            run = write_reports(
                ctx,
                chosen,
                cast("Lang", lang),
                cast(Literal["html", "pdf"], fmt),
                out,
                on_progress=lambda n: bar.advance(task, n),
                chunk=chunk,
                workers=workers if workers > 0 else len(os.sched_getaffinity(0)),
            )
    except (ConfigError, ReportError, ClassifyError) as exc:
        fail(str(exc))
    console.print(f"{len(run.paths):,} report(s) (internal, not for publication)")
    if run.index is not None:
        console.print(f"index: [bold]{run.index}[/]", soft_wrap=True)  # a path stays whole
    console.print(f"report: [bold]{run.paths[0]}[/]", soft_wrap=True)


def plan(
    as_of: ClassifiedMonthOpt,
    campaign: Annotated[
        Path, typer.Option(help="campaign (YAML), e.g. configs/campaigns/routine.yaml")
    ],
    seed: Annotated[
        int, typer.Option(help="the published seed: the same seed redraws the same list")
    ],
    roster: Annotated[
        Path | None, typer.Option(help="inspectors (CSV: inspector_id, name, unit, conflicts)")
    ] = None,
    outputs: OutputsOpt = OUTPUTS.root,
    interim: InterimOpt = DATA.interim,
    config: ModelConfigOpt = MODEL_CONFIG,
    scheme: Annotated[
        Path | None, typer.Option(help="class scheme (default: the model config's)")
    ] = None,
    division: Annotated[
        str | None,
        typer.Option(
            help="a county (or city prefix) planning for itself: its firms only, strata by "
            "division; the plan is <campaign>-<division>"
        ),
    ] = None,
    features_dir: Annotated[
        Path, typer.Option("--features", help="monthly features (a targeted campaign's rule)")
    ] = DATA.features,
    targets: Annotated[
        Path | None,
        typer.Option(help="targeted campaign: file of USCCs (default: its enterprises_file)"),
    ] = None,
) -> None:
    """Draw the double-random inspection list of a month (CSV and XLSX for the platform), with
    the firms due a visit (due.csv); or list a targeted campaign's firms (定向/专项).

    Examples: [bold]riskclass plan --as-of 2026-10 --campaign configs/campaigns/routine.yaml --seed 20261101[/];
    a county's own plan: [bold]riskclass plan --as-of 2026-10 --campaign configs/campaigns/county_routine.yaml --seed 20261101 --division 440106[/];
    a special campaign: [bold]riskclass plan --as-of 2026-10 --campaign configs/campaigns/targeted_food.yaml --seed 1[/]
    """
    from models.classes import ClassScheme
    from models.config import ModelConfig
    from models.sampling import Campaign, PlanError
    from pipelines.plan import run_plan

    try:
        cfg = load_config(config, ModelConfig)
        sch = load_config(scheme or cfg.class_scheme, ClassScheme)
        run = run_plan(
            as_of,
            load_config(campaign, Campaign),
            sch,
            seed,
            outputs,
            interim,
            roster,
            division=division,
            features=features_dir,
            targets=targets,
        )
    except (ConfigError, PlanError) as exc:
        fail(str(exc))
    s = run.summary
    t = Table(title=f"plan {s['plan_id']}: {s['inspections']:,} enterprises, {s['rows']:,} items")
    for col in ("stratum", "enterprises", "drawn", "inclusion probability"):
        t.add_column(col, justify="left" if col == "stratum" else "right")
    for name, st in s["strata"].items():
        p = st["inclusion_probability"]
        shown = "targeted (none)" if p is None else f"{p:.2%}"
        t.add_row(name, f"{st['size']:,}", f"{st['drawn']:,}", shown)
    console.print(t)
    console.print(f"excluded (inspected recently, not operating): {s['excluded']:,}")
    due = s["due"]
    console.print(
        f"due a visit (yearly frequency): {due['enterprises']:,}, in this plan {due['in_plan']:,}"
        f" (list: {run.folder / 'due.csv'})",
        soft_wrap=True,
    )
    modes = ", ".join(f"{k} {v:,}" for k, v in s["visits_by_check_mode"].items())
    console.print(f"visits by check mode: {modes}; departments: {', '.join(s['departments'])}")
    if s["trigger"]:
        console.print(f"targeted ({s['trigger']}): {s['selection']}", soft_wrap=True)
    console.print(f"plan (internal): [bold]{run.folder / 'plan.csv'}[/]", soft_wrap=True)


#: The campaign the loop draws by, unless told otherwise.
ROUTINE_CAMPAIGN = CAMPAIGNS / "routine.yaml"

#: How the loop's table names the inspection policies it compares.
POLICY_NAMES = {"uniform": "uniform", "rules": "indicator points", "model": "model"}


def simulate_loop(
    to: Annotated[str, typer.Option(help="last month of the loop YYYY-MM (simulated)")],
    months: Annotated[int, typer.Option(help="months the loop runs")] = 12,
    retrain_every: Annotated[int, typer.Option(help="retrain every N months")] = 3,
    seed: Annotated[int, typer.Option(help="seed of the draws and the outcomes")] = 0,
    campaign: Annotated[
        Path, typer.Option(help="campaign (YAML): the class rates")
    ] = ROUTINE_CAMPAIGN,
    truth: Annotated[Path, typer.Option(help="the simulator's hidden truth")] = DATA.truth,
    features_dir: FeaturesOpt = DATA.features,
    interim: InterimOpt = DATA.interim,
    out: Annotated[Path, typer.Option(help="outputs/loop/<to>/ goes here")] = OUTPUTS.root,
    config: ModelConfigOpt = MODEL_CONFIG,
) -> None:
    """Run the synthetic province's monthly loop with the model in it; compare policies.

    Each month: classify, draw, let the hidden truth decide what inspectors find, feed the
    results back, verify; retrain every N months. Uniform random inspection, the indicator
    points (rules) and the model draw the same number of inspections.

    Example: [bold]riskclass simulate-loop --to 2026-10 --months 12 --retrain-every 3 --seed 1[/]
    """
    from models.sampling import PlanError
    from pipelines.simulate_loop import LoopError, load_inputs, run_loop

    try:
        cfg, sch, camp, weights = load_inputs(config, campaign)
        with progress() as bar:
            task = bar.add_task("loop", total=months)

            def step(message: str) -> None:
                bar.update(task, description=message)
                if message.endswith("inspect"):
                    bar.advance(task)

            r = run_loop(
                cfg,
                sch,
                camp,
                weights,
                features_dir,
                interim,
                truth,
                out,
                to,
                months,
                retrain_every,
                seed,
                progress=step,
            )
    except (ConfigError, LoopError, PlanError) as exc:
        fail(str(exc))
    s = r.summary
    t = Table(
        title=f"problems found per 100 inspections, {s['months'][0]}..{s['months'][1]}, same budget"
    )
    for col in ("policy", "inspections", "found", "per 100", "95% CI", "expected", "lift"):
        t.add_column(col, justify="left" if col == "policy" else "right", no_wrap=True)
    for policy, v in s["policies"].items():
        t.add_row(
            POLICY_NAMES[policy],
            f"{v['inspections']:,}",
            f"{v['problems']:,}",
            f"{v['per_100']:.1f}",
            f"{v['low']:.1f}–{v['high']:.1f}",
            f"{v['expected_per_100']:.1f}",
            f"{v['lift_over_uniform']:.2f}×",
        )
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


def summary(
    as_of: ClassifiedMonthOpt,
    outputs: OutputsOpt = OUTPUTS.root,
    config: ModelConfigOpt = MODEL_CONFIG,
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
        fail(str(exc))
    c, v = s.classes, s.verification
    title = f"{as_of}: {c.enterprises:,} enterprises, model version {c.model_version}"
    t = Table(title=title)
    for col in ("class", "share", "", "hit rate (1/p)", "95% CI", "inspections", "lift"):
        t.add_column(col, justify="left" if col in ("class", "") else "right", no_wrap=True)
    rates = v.class_final.hit_rates if v else {}
    for k in s.order:
        share = c.class_shares[k]
        r = rates.get(k)
        bar = "█" * round(12 * share)
        t.add_row(
            k,
            f"{share:.1%}",
            bar,
            pct1(r.weighted if r else None),
            f"{pct1(r.low)}–{pct1(r.high)}" if r else "–",
            f"{r.inspections:,}" if r else "–",
            f"{v.class_final.lift.get(k) or float('nan'):.2f}" if v else "–",
        )
    console.print(t)
    if v:
        colour = "green" if v.verdict == "PASS" else "red"
        console.print(
            f"verification {v.window[0]}..{v.window[1]} (model version "
            f"{v.model.version}): [bold {colour}]{v.verdict}[/], AUC {v.auc:.3f}, "
            f"{s.top_class}:{next(iter(rates), '?')} ratio {v.class_final.top_to_bottom:.1f}",
            soft_wrap=True,
        )
        for line in s.failed_checks:  # what failed, and by how much (issue 19)
            console.print(f"FAILED {line}", soft_wrap=True, markup=False, style="red")
        if not v.passed:
            console.print(
                "验证未通过：该模型版本不得设为正式使用版本 / verification FAILED: this version "
                "is not to be promoted (riskclass promote refuses it)",
                soft_wrap=True,
                markup=False,
            )
        console.print(s.plain_baseline, soft_wrap=True, markup=False)
        if s.risk_points:
            console.print(s.risk_points, soft_wrap=True, markup=False)
    else:
        console.print("verification: none for this month (riskclass verify)")
    if s.versions_differ and v:  # they differ only when the month was verified
        console.print(
            f"[yellow]note:[/] the month was classified by model version {c.model_version}, "
            f"verified with version {v.model.version}"
        )
    loop = s.loop
    if loop:
        p = loop["policies"]
        console.print(
            f"monthly loop {loop['months'][0]}..{loop['months'][1]}, problems per 100 "
            f"inspections at one budget: uniform {p['uniform']['per_100']:.1f}, indicator points "
            f"{p['rules']['per_100']:.1f}, model {p['model']['per_100']:.1f} "
            f"({p['model']['low']:.1f}–{p['model']['high']:.1f})",
            soft_wrap=True,
        )
    for extra in (s.followup, s.collection):
        if extra:
            console.print(extra, soft_wrap=True, markup=False)
    for u in s.updates:
        e = u.get("effects", {})
        console.print(
            f"within-month update {u['date']}: {u['enterprises_named']:,} enterprises named, "
            f"overrides applied at once {e.get('applied', 0):,} (model score at month end only)",
            soft_wrap=True,
        )
    where = [
        ("verification report", s.verification_html),
        (f"a class-{s.top_class} report", s.top_class_report),
        *(("inspection plan", p) for p in s.plans),
    ]
    for label, path in where:
        if path:
            console.print(f"{label}: [bold]{path}[/]", soft_wrap=True)
    console.print(f"MLflow UI: [bold]{s.mlflow_ui}[/]")
    console.print(
        "staff service: [bold]riskclass users add --username admin --role admin[/] "
        "(once), then [bold]make serve[/]  # http://127.0.0.1:8000",
        soft_wrap=True,
    )
    console.print(f"[dim]{BANNER_ZH} (internal, not for publication)[/]")


def warn(
    as_of: ClassifiedMonthOpt,
    config: Annotated[Path, typer.Option(help="warning rules (YAML)")] = WARNING_CONFIG,
    model_config: ModelConfigOpt = MODEL_CONFIG,
    outputs: OutputsOpt = OUTPUTS.root,
    features_dir: FeaturesOpt = DATA.features,
    interim: InterimOpt = DATA.interim,
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
        run = run_warn(
            as_of,
            load_config(config, WarningConfig),
            load_config(cfg.class_scheme, ClassScheme),
            outputs,
            features_dir,
            interim,
        )
    except (ConfigError, WarnError, ValueError) as exc:
        fail(str(exc))
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
