"""Commands that face the public and enterprises: ``publish`` (inspection results of a round
and dormant firms, with no class in them) and ``remind`` (risk reminders to enterprises)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal, cast

import typer

from contract.months import Month
from pipelines.cli.common import InterimOpt, OutputsOpt, console, fail, month_option
from pipelines.config import ConfigError, load_config
from pipelines.paths import CLASS_SCHEMES, CONFIGS, DATA, OUTPUTS

#: The outreach configuration (reminders, dormant firms, publication naming).
REMIND_CONFIG = CONFIGS / "remind.yaml"

RemindConfigOpt = Annotated[
    Path, typer.Option(help="reminder, dormancy and publication rules (YAML)")
]


def publish(
    plan: Annotated[
        Path | None,
        typer.Option(help="a round's plan folder, outputs/<month>/plans/<campaign>"),
    ] = None,
    plan_id: Annotated[
        str | None,
        typer.Option(help="a round by its plan id (a platform's round with no plan folder here)"),
    ] = None,
    dormant: Annotated[
        bool, typer.Option("--dormant", help="the dormant-firm list (休眠企业) instead")
    ] = False,
    as_of: Annotated[
        Month | None, month_option("month YYYY-MM (for --dormant and --plan-id)")
    ] = None,
    task_name: Annotated[
        str | None, typer.Option(help="抽查任务名称 (default: the month and 双随机抽查)")
    ] = None,
    task_no: Annotated[
        str | None,
        typer.Option(help="抽查任务编号 (default: --plan-id, or a neutral number for --plan)"),
    ] = None,
    config: RemindConfigOpt = REMIND_CONFIG,
    interim: InterimOpt = DATA.interim,
    outputs: OutputsOpt = OUTPUTS.root,
) -> None:
    """Publication files with no class, score or risk point in them (CSV with BOM, XLSX).

    Inspection results of a round in the publicity system's layout, or the dormant-firm list.
    Written under outputs/outreach/<month>/publication/.

    Examples: [bold]riskclass publish --plan outputs/2026-10/plans/routine[/];
    [bold]riskclass publish --dormant --as-of 2026-10[/]
    """
    from features.reminders import OutreachConfig
    from pipelines.publish import (
        PublishError,
        class_limited,
        public_task_no,
        publish_dormant,
        publish_inspections,
        read_plan,
    )

    chosen = sum(x is not None for x in (plan, plan_id)) + int(dormant)
    if chosen != 1:
        fail("publish: give exactly one of --plan FOLDER, --plan-id ID or --dormant")
    try:
        cfg = load_config(config, OutreachConfig)
        if dormant:
            if as_of is None:
                fail("publish: --dormant needs --as-of MONTH")
            run = publish_dormant(str(as_of), cfg, interim, outputs)
            console.print(f"{run.summary['listed']:,} dormant of {run.summary['operating']:,}")
        else:
            if plan is not None:
                record = read_plan(plan)
                pid, month = record["plan_id"], record["month"]
                limited = class_limited(record, _sampled_classes(record))
                if limited:
                    fail(
                        f"publish: plan {plan} was drawn from some classes only; publishing its "
                        "results would disclose the class of every firm listed (rule: only rounds "
                        "drawn from every class are published)"
                    )
                number = task_no or public_task_no(pid, month)
            else:
                if as_of is None:
                    fail("publish: --plan-id needs --as-of MONTH (the month it is published for)")
                pid, month = str(plan_id), str(as_of)
                number = task_no or pid
                # a round drawn here, named by its id: the same rules as --plan
                for found in sorted(Path(outputs).glob("*/plans/*/plan.json")):
                    record = read_plan(found.parent)
                    if record["plan_id"] != pid:
                        continue
                    if class_limited(record, _sampled_classes(record)):
                        fail(
                            f"publish: plan {pid} was drawn from some classes only; publishing "
                            "its results would disclose the class of every firm listed (rule: "
                            "only rounds drawn from every class are published)"
                        )
                    number = task_no or public_task_no(pid, month)
            # a neutral name: a campaign's own name can say which classes it drew
            name = task_name or cfg.publish.task_name_template.format(
                month=f"{month[:4]}年{int(month[5:7])}月", campaign="双随机抽查"
            )
            run = publish_inspections(pid, month, name, cfg, interim, outputs, task_no=number)
            s = run.summary
            console.print(
                f"{s['rows']:,} rows ({s['enterprises']:,} enterprises) of {s['records']:,} "
                f"records; {s['rejected_records']:,} rejected (rejected.csv)"
            )
    except (ConfigError, PublishError) as exc:
        fail(str(exc))
    for f in run.files:
        console.print(f"[bold]{f}[/]", soft_wrap=True)


def remind(
    as_of: Annotated[Month, month_option("data month YYYY-MM (facts as of its last day)")],
    uscc: Annotated[
        list[str] | None, typer.Option("--uscc", help="an enterprise (repeat for several)")
    ] = None,
    division: Annotated[
        str | None, typer.Option(help="every enterprise of a division (e.g. 440106)")
    ] = None,
    fmt: Annotated[
        str, typer.Option("--format", help="html (default), pdf (one combined file) or both")
    ] = "html",
    config: RemindConfigOpt = REMIND_CONFIG,
    interim: InterimOpt = DATA.interim,
    outputs: OutputsOpt = OUTPUTS.root,
) -> None:
    """Risk reminders to enterprises (风险提醒): only facts from their own records and what they
    can do; never a class, score or the model. Enterprises with nothing to remind get none.

    Written under outputs/outreach/<month>/reminders/<division>/: one HTML per enterprise,
    index.html, index.csv, remind.json and, with pdf, reminders.pdf (a page per enterprise).

    Examples: [bold]riskclass remind --as-of 2026-10 --division 440106 --format both[/];
    [bold]riskclass remind --as-of 2026-10 --uscc 91440106MA5XXXXXX1 --format pdf[/]
    """
    from features.reminders import OutreachConfig
    from pipelines.remind import RemindError, run_remind
    from pipelines.report import ReportError, to_pdf

    if bool(uscc) == bool(division):
        fail("remind: give --uscc or --division (one of them)")
    if fmt not in ("html", "pdf", "both"):
        fail(f"remind: --format must be html, pdf or both, not {fmt!r}")
    try:
        cfg = load_config(config, OutreachConfig)
        run = run_remind(
            str(as_of),
            cfg,
            interim,
            outputs,
            usccs=uscc or (),
            division=division,
            fmt=cast(Literal["html", "pdf", "both"], fmt),
            printer=to_pdf,
        )
    except (ConfigError, RemindError, ReportError) as exc:
        fail(str(exc))
    s = run.summary
    console.print(
        f"{s['with_notice']:,} notice(s) for {s['operating']:,} operating enterprise(s) "
        f"({s['nothing_to_remind']:,} with nothing to remind, {s['not_operating']:,} not operating)"
    )
    if run.index is not None:
        console.print(f"index: [bold]{run.index}[/]", soft_wrap=True)
    if run.pdf is not None:
        console.print(f"pdf: [bold]{run.pdf}[/]", soft_wrap=True)
    if not s["with_notice"]:
        console.print("nothing to remind: no notice written")


def _sampled_classes(record: dict[str, object]) -> list[str]:
    """The classes the plan's scheme samples (a minimum rate), from configs/classes/<scheme>.yaml."""
    from models.classes import ClassScheme

    scheme = CLASS_SCHEMES / f"{record.get('scheme', 'henan')}.yaml"
    if not scheme.is_file():
        fail(f"publish: the plan's class scheme {scheme} is not found")
    loaded = load_config(scheme, ClassScheme)
    return [c.code for c in loaded.classes if c.min_sampling_rate is not None]
