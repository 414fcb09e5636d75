"""Commands for the double-random platform: ``export`` (a month's classes for its 名录库, in one
file with its checksum). The platform's live interface is the service's JSON API
(``/api/v1``, `service.api`), with tokens from ``riskclass users add-service``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from pipelines.cli.common import (
    AUDIT_LOG,
    ClassifiedMonthOpt,
    InterimOpt,
    OutputsOpt,
    console,
    fail,
    who,
)
from pipelines.paths import DATA, OUTPUTS


def export(
    as_of: ClassifiedMonthOpt,
    out: Annotated[
        Path | None, typer.Option(help="folder (default outputs/export/<month>)")
    ] = None,
    outputs: OutputsOpt = OUTPUTS.root,
    interim: InterimOpt = DATA.interim,
    user: Annotated[
        str | None, typer.Option(help="who exports (default: the login name); audited")
    ] = None,
) -> None:
    """The whole province's classes of a month in one Parquet file, with SHA256SUMS.

    Per enterprise: USCC, name, division, industry, class, scheme, data month (no score, no
    risk point). Internal: hand it to the platform over the bureau's own channel; check it
    there with `sha256sum -c SHA256SUMS`.

    The classes are those in force now: the month's, with its within-month updates applied
    (`riskclass update`), as the service and the API serve them. The file is written outside
    the sealed month folder (a re-export after an update must not break the month's seal), and
    the export is audited.

    Example: [bold]riskclass export --as-of 2026-10 --out outputs/export/2026-10/[/]
    """
    from pipelines.export import ExportError, run_export

    month = str(as_of)
    target = out if out is not None else Path(outputs) / "export" / month
    try:
        run = run_export(month, outputs, interim, target)
    except ExportError as exc:
        fail(str(exc))
    from service import audit

    audit.record(AUDIT_LOG, who(user), "export_classes", month, outcome=f"{run.rows} rows")
    console.print(
        f"{run.rows:,} enterprises of {month} -> [bold]{run.path}[/]\n"
        f"sha256 {run.sha256} ({run.sums})",
        soft_wrap=True,
    )
