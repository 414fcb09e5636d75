"""What every command of the CLI shares: the console, the progress bar, the clean failure,
``--as-of`` parsed into a :class:`~contract.months.Month`, and the options several commands
take (one help text each; their defaults come from :mod:`pipelines.paths`)."""

from __future__ import annotations

import getpass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

from contract.months import Month
from pipelines.config import ConfigError, load_config
from pipelines.paths import OUTPUTS

if TYPE_CHECKING:
    from service.config import ServiceConfig

console = Console()

#: The service's audit trail (service.audit); commands that change accounts or models record there.
AUDIT_LOG = OUTPUTS.audit_log


def progress() -> Progress:
    """The progress bar every long step shows."""
    return Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    )


def fail(message: str) -> NoReturn:
    """Print ``error: message`` and exit with code 2 (no traceback)."""
    # soft_wrap: a message names files; a path broken across lines cannot be copied or searched.
    # escape: "[rule: ...]" in a message is text, not Rich markup (unescaped, Rich swallowed it)
    console.print(f"[bold red]error:[/] {escape(message)}", soft_wrap=True)
    raise typer.Exit(code=2)


def who(by: str | None) -> str:
    """The person a command acts for: ``--by``/``--user``, else the login name."""
    return by or getpass.getuser()


def pct(x: float | None) -> str:
    """A rate as a whole percentage; a class without an inspection has no rate."""
    return "–" if x is None or x != x else f"{x:.0%}"


def pct1(x: float | None) -> str:
    """A rate as a percentage with one decimal; ``–`` when there is none."""
    return "–" if x is None or x != x else f"{x:.1%}"


def load_service_config(path: Path) -> ServiceConfig:
    """The staff service's settings, or a clean failure naming the file and the key."""
    from service.config import ServiceConfig

    try:
        return load_config(path, ServiceConfig)
    except ConfigError as exc:
        fail(str(exc))


# ---------------------------------------------------------------------------------- months
def month(text: str) -> Month:
    """``--as-of`` as a :class:`Month`; a bad value is typer's usual "Invalid value" error."""
    try:
        return Month(text)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None


def month_option(help: str) -> Any:
    """An ``--as-of`` option parsed into a :class:`Month` (shown as ``<str>``, as before)."""
    return typer.Option(parser=month, metavar="<str>", help=help)


#: A month that has been classified (report, plan, summary, warn).
ClassifiedMonthOpt = Annotated[Month, month_option("data month YYYY-MM (classified)")]

# ------------------------------------------------------------------ options several commands share
FeaturesOpt = Annotated[Path, typer.Option("--features", help="feature files (one per month)")]
OutputsOpt = Annotated[Path, typer.Option(help="where classify wrote outputs/<month>/")]
InterimOpt = Annotated[Path, typer.Option(help="ingested tables (the registry, inspections)")]
ModelConfigOpt = Annotated[Path, typer.Option(help="model configuration (YAML)")]
IngestConfigOpt = Annotated[Path, typer.Option(help="ingestion configuration (YAML)")]
TruthOpt = Annotated[Path, typer.Option(help="the simulator's hidden truth")]
AccountsOpt = Annotated[Path, typer.Option(help="accounts database (SQLite)")]
ServiceConfigOpt = Annotated[
    Path, typer.Option(help="the staff service's settings: proxies, logins, four eyes, anchors")
]
ByOpt = Annotated[str | None, typer.Option(help="who does it (default: the login name)")]
DeciderOpt = Annotated[str, typer.Option(help="the deciding administrator's account name")]
