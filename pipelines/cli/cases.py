"""``riskclass cases ...``: the follow-up of problems found, to their disposal (issue 20).

Every problem found opens a case (``open``); a case is referred to a named department
(``refer``), acknowledged by it (in an ``import``), and closed with a disposal (``close``);
``overdue`` and ``list`` show where things stand. The store is ``outputs/cases/cases.sqlite``
(`pipelines.cases`); exported lists are formula-safe CSV/XLSX.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from contract.months import Month
from pipelines.cli.common import ByOpt, console, fail, month_option, who
from pipelines.paths import DATA, OUTPUTS

if TYPE_CHECKING:
    import pandas as pd

    from models.cases import CasesConfig
    from pipelines.cases import CaseStore

cases_app = typer.Typer(
    help="follow-up of problems found: open, refer, close, import, overdue, list (后续处置)",
    no_args_is_help=True,
)

StoreOpt = Annotated[
    Path | None, typer.Option(help="case store (default outputs/cases/cases.sqlite)")
]
ConfigOpt = Annotated[Path, typer.Option(help="cases configuration (YAML)")]
CaseOpt = Annotated[str, typer.Option("--case", help="case id (<inspection_id>:<item>)")]
DateOpt = Annotated[str, typer.Option("--date", help="the date it was done, YYYY-MM-DD")]
DivisionOpt = Annotated[
    str | None, typer.Option(help="division code or prefix (4401: a city, 440103: a county)")
]
OutOpt = Annotated[Path | None, typer.Option(help="also write the list here (.csv or .xlsx)")]

_CONFIG = Path("configs/cases.yaml")


def _store(store: Path | None, must_exist: bool = False) -> CaseStore:
    from pipelines.cases import CaseStore, store_path

    path = store or store_path(OUTPUTS.root)
    if must_exist and not path.is_file():
        fail(f"cases: no case store at {path} (run riskclass cases open --as-of MONTH first)")
    return CaseStore(path)


def _config(path: Path) -> CasesConfig:
    from pipelines.cases import load_cases_config
    from pipelines.config import ConfigError

    try:
        return load_cases_config(path)
    except ConfigError as exc:
        fail(str(exc))


def _export(frame: pd.DataFrame, out: Path | None) -> None:

    from pipelines.io import write_csv, write_xlsx

    if out is None:
        return
    if out.suffix.lower() == ".xlsx":
        write_xlsx(frame, out, sheet_name="cases")
    elif out.suffix.lower() == ".csv":
        write_csv(frame, out)
    else:
        fail(f"cases: --out {out}: give a .csv or .xlsx file")
    console.print(f"written: [bold]{out}[/]", soft_wrap=True)


def _show(frame: pd.DataFrame, title: str, limit: int) -> None:
    import pandas as pd

    table = Table(title=title)
    for c in frame.columns:
        table.add_column(str(c))
    for row in frame.head(limit).itertuples(index=False):
        table.add_row(*("" if pd.isna(v) else str(v) for v in row))
    console.print(table)
    if len(frame) > limit:
        console.print(f"... {len(frame) - limit:,} more (use --out for all)")


@cases_app.command("open")
def open_(
    as_of: Annotated[Month, month_option("open the cases of problems received by this month end")],
    interim: Annotated[Path, typer.Option(help="ingested tables (inspections)")] = DATA.interim,
    store: StoreOpt = None,
) -> None:
    """Open a case for every problem found in the inspections received by the month end.
    Idempotent: a case already open is left alone.

    Example: [bold]riskclass cases open --as-of 2026-10[/]
    """
    from pipelines.cases import CasesError

    s = _store(store)
    try:
        r = s.open_from_interim(interim, as_of)
    except CasesError as exc:
        fail(str(exc))
    console.print(
        f"problems found: {r.problems:,}; cases opened now: {r.opened:,}; "
        f"already open before: {r.already:,}"
    )


def _act(
    store: Path | None,
    config: Path,
    case: str,
    action: str,
    date: str,
    by: str | None,
    department: str | None = None,
    disposal: str | None = None,
) -> None:
    from pipelines.cases import CaseError

    s = _store(store, must_exist=True)
    cfg = _config(config)
    try:
        state = s.act(
            cfg,
            case,
            action,
            date,
            who(by),
            department=department,
            disposal=disposal,
        )
    except CaseError as exc:
        fail(str(exc))
    console.print(f"case {case}: {action} recorded; now {state}")


@cases_app.command("refer")
def refer(
    case: CaseOpt,
    to: Annotated[str, typer.Option("--to", help="department code or Chinese name (cases.yaml)")],
    date: DateOpt,
    by: ByOpt = None,
    store: StoreOpt = None,
    config: ConfigOpt = _CONFIG,
) -> None:
    """Refer a case to the department responsible (属于其他部门职责的要及时移交).

    Example: [bold]riskclass cases refer --case JC2026100000000001:food_safety --to health
    --date 2026-11-03 --by zhang[/]
    """
    _act(store, config, case, "refer", date, by, department=to)


@cases_app.command("acknowledge")
def acknowledge(
    case: CaseOpt,
    date: DateOpt,
    by: ByOpt = None,
    store: StoreOpt = None,
    config: ConfigOpt = _CONFIG,
) -> None:
    """Record that the department referred to has taken the case (签收).

    Example: [bold]riskclass cases acknowledge --case JC2026100000000001:food_safety
    --date 2026-11-05 --by li[/]
    """
    _act(store, config, case, "acknowledge", date, by)


@cases_app.command("close")
def close(
    case: CaseOpt,
    disposal: Annotated[str, typer.Option(help="disposal code or Chinese label (cases.yaml)")],
    date: DateOpt,
    by: ByOpt = None,
    store: StoreOpt = None,
    config: ConfigOpt = _CONFIG,
) -> None:
    """Close a case with its disposal and the date of the disposal.

    Example: [bold]riskclass cases close --case JC2026100000000001:licence --disposal rectified
    --date 2026-11-20 --by zhang[/]
    """
    _act(store, config, case, "close", date, by, disposal=disposal)


@cases_app.command("import")
def import_(
    file: Annotated[Path, typer.Argument(help="actions exported by a case system (.csv/.xlsx)")],
    by: ByOpt = None,
    rejected: Annotated[
        Path | None,
        typer.Option(help="rejected rows with their reason (default <file>.rejected.csv)"),
    ] = None,
    store: StoreOpt = None,
    config: ConfigOpt = _CONFIG,
) -> None:
    """Apply a case system's export: columns case_id (or inspection_id [+ item]), action
    (refer/acknowledge/close or 移交/签收/办结), department, disposal, date [, by]. Rejected
    rows are kept with their reason; rows = accepted + already recorded + rejected. Exits
    non-zero when fewer than min_accepted_share of the rows go through.

    Example: [bold]riskclass cases import data/raw_cases/actions.csv[/]
    """
    from pipelines.cases import CasesError, import_actions, read_actions
    from pipelines.io import write_csv

    s = _store(store, must_exist=True)
    cfg = _config(config)
    try:
        frame = read_actions(file)
    except CasesError as exc:
        fail(str(exc))
    r = import_actions(s, frame, cfg, who(by), source=file.name)
    console.print(
        f"{file}: {r.rows:,} rows = {r.accepted:,} accepted + {r.already:,} already recorded "
        f"+ {len(r.rejected):,} rejected",
        soft_wrap=True,
    )
    if len(r.rejected):
        path = rejected or file.with_name(file.name + ".rejected.csv")
        write_csv(r.rejected, path)
        console.print(f"rejected rows with their reason: [bold]{path}[/]", soft_wrap=True)
        for reason in r.rejected["reason"].head(3):
            console.print(f"  {reason}", soft_wrap=True, markup=False)
    share = (r.accepted + r.already) / r.rows if r.rows else 0.0
    if share < cfg.min_accepted_share:
        fail(
            f"cases import: {file}: only {share:.0%} of the rows went through "
            f"(rule: at least {cfg.min_accepted_share:.0%}, configs/cases.yaml min_accepted_share)"
        )


@cases_app.command("overdue")
def overdue(
    as_of: Annotated[
        str, typer.Option(help="the date to count to, YYYY-MM-DD (or a month: its end)")
    ],
    division: DivisionOpt = None,
    out: OutOpt = None,
    store: StoreOpt = None,
    config: ConfigOpt = _CONFIG,
) -> None:
    """The cases past their state's deadline (configs/cases.yaml deadlines), most overdue first.

    Example: [bold]riskclass cases overdue --as-of 2026-12-31 --division 440103 --out late.xlsx[/]
    """

    day = _as_of(as_of)
    s = _store(store, must_exist=True)
    cfg = _config(config)
    late = s.overdue(cfg, day, division)
    console.print(f"{len(late):,} overdue case(s) on {day}")
    cols = [
        "case_id",
        "division_code",
        "state",
        "state_since",
        "due_date",
        "days_overdue",
        "department",
    ]
    _show(late[cols], "overdue cases", 20)
    _export(late, out)


@cases_app.command("list")
def list_(
    division: DivisionOpt = None,
    state: Annotated[
        str | None, typer.Option(help="open, referred, acknowledged or closed")
    ] = None,
    out: OutOpt = None,
    store: StoreOpt = None,
) -> None:
    """The cases (of a division, in a state).

    Example: [bold]riskclass cases list --division 440103 --state referred --out referred.csv[/]
    """
    from models.cases import STATES

    if state is not None and state not in STATES:
        fail(f"cases list: --state must be one of {', '.join(STATES)}, not {state!r}")
    s = _store(store, must_exist=True)
    frame = s.cases(division, state)
    counts = frame["state"].value_counts().to_dict()
    console.print(f"{len(frame):,} case(s): " + ", ".join(f"{k} {v:,}" for k, v in counts.items()))
    cols = ["case_id", "division_code", "state", "state_since", "department", "disposal"]
    _show(frame[cols], "cases", 20)
    _export(frame, out)


def _as_of(text: str) -> dt.date:
    try:
        return Month(text).end if len(text) == 7 else dt.date.fromisoformat(text)
    except ValueError:
        fail(f"cases: --as-of {text!r} is not a date (YYYY-MM-DD) or a month (YYYY-MM)")


@cases_app.command("demo-actions")
def demo_actions(
    raw: Annotated[Path, typer.Option(help="the simulated raw data")] = DATA.raw,
    out: Annotated[Path, typer.Option(help="the action file to write")] = Path(
        "data/raw_cases/actions.csv"
    ),
    seed: Annotated[int, typer.Option(help="seed of the actions")] = 7,
) -> None:
    """The demo province's case-system export (simulated): referrals, acknowledgements and
    disposals of the problems found, for [bold]riskclass cases import[/].

    Example: [bold]riskclass cases demo-actions --raw data/raw --out data/raw_cases/actions.csv[/]
    """
    from pipelines.simulate import write_case_actions

    if not (raw / "inspections").is_dir():
        fail(f"cases demo-actions: {raw / 'inspections'}: not found (run riskclass simulate)")
    n = write_case_actions(raw, out, seed)
    console.print(f"{n:,} actions written: [bold]{out}[/]", soft_wrap=True)
