"""`riskclass`: the command line. It owns printing and progress bars; stages log.

This module makes the typer ``app`` (the entry point ``pipelines.cli:app``), its callback and
the list of commands, in the order ``riskclass --help`` shows them. The commands live by what
they work on: :mod:`~pipelines.cli.data` (simulate, ingest, features, feedback, the docs),
:mod:`~pipelines.cli.model` (train, classify, verify, promote), :mod:`~pipelines.cli.supervise`
(report, plan, simulate-loop, summary, warn), :mod:`~pipelines.cli.records` (seal, audit) and
:mod:`~pipelines.cli.staff` (users, serve), :mod:`~pipelines.cli.cases` (the follow-up of problems
found), :mod:`~pipelines.cli.update` (within-month updates), :mod:`~pipelines.cli.outreach` (publication
and reminders) and :mod:`~pipelines.cli.platform` (the bulk export), :mod:`~pipelines.cli.interim` (the interim
store's states: history, compact, vacuum) and :mod:`~pipelines.cli.spark` (a standalone Spark
cluster on this machine); :mod:`~pipelines.cli.common` holds what they share.
Each command imports its stage when it runs, so ``--help`` stays fast.
"""

from __future__ import annotations

import logging
from typing import Annotated

import typer

from pipelines.cli import (
    cases,
    data,
    interim,
    model,
    outreach,
    platform,
    records,
    spark,
    staff,
    supervise,
    update,
)
from pipelines.environment import no_telemetry

app = typer.Typer(
    help="Enterprise credit-risk classification for market-regulation bureaus (企业信用风险分类).",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="rich",
)


@app.callback()
def main(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="log progress details")] = False,
) -> None:
    no_telemetry()
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )


app.command()(data.simulate)
app.command("simulate-research")(data.simulate_research)
app.command()(data.ingest)
app.command("preview-source")(data.preview_source)
app.command("contract-docs")(data.contract_docs)
app.command()(data.features)
app.command("feature-docs")(data.feature_docs)
app.command()(model.train)
app.command()(model.classify)
app.command()(supervise.report)
app.command()(supervise.plan)
app.command()(data.feedback)
app.command("simulate-loop")(supervise.simulate_loop)
app.command()(supervise.summary)
app.command()(model.verify)
app.command()(supervise.warn)
app.command()(model.promote)
app.command()(update.update)
app.command("update-demo-delivery")(update.update_demo_delivery)
app.command()(outreach.publish)
app.command()(outreach.remind)
app.command("export")(platform.export)
app.add_typer(cases.cases_app, name="cases")
app.add_typer(interim.interim_app, name="interim")
app.command("spark-cluster")(spark.spark_cluster)
app.command()(records.seal)
app.command()(staff.serve)
app.add_typer(staff.users_app, name="users")
app.add_typer(records.audit_app, name="audit")
