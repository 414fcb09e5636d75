"""Commands of the interim store (`pipelines.store`, issue 21 item 1): ``history`` (the states
a folder keeps: run, month, each table's Delta version and rows), ``compact`` (small files
merged, recorded as a new state) and ``vacuum`` (files no kept state needs removed)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from pipelines.cli.common import console, fail
from pipelines.paths import DATA

interim_app = typer.Typer(
    help="the interim store: its states (history), compaction, vacuum (中间数据版本)",
    no_args_is_help=True,
)

FolderOpt = Annotated[Path, typer.Option("--interim", help="the interim folder (Delta tables)")]


@interim_app.command("history")
def history(interim: FolderOpt = DATA.interim) -> None:
    """The states the folder keeps, oldest first: n, run, as_of, each table's version and rows."""
    from pipelines import store

    try:
        found = store.describe(interim)
    except store.StoreError as exc:
        fail(str(exc))
    if not found:
        fail(f"{interim}: no state recorded (never ingested, or the old single-file layout)")
    t = Table("n", "kind", "run", "as_of", "tables (version / rows)", title=f"states of {interim}")
    for s in found:
        tables = "; ".join(
            f"{name} v{v} / {s['rows'].get(name, 0):,}" for name, v in s["tables"].items()
        )
        mark = " (current)" if s["current"] else ""
        t.add_row(f"{s['n']}{mark}", s["kind"], s["run"], s["as_of"] or "-", tables)
    console.print(t)


@interim_app.command("compact")
def compact(
    interim: FolderOpt = DATA.interim,
    target_size: Annotated[
        int | None, typer.Option(help="target file size in bytes (delta-rs default when unset)")
    ] = None,
) -> None:
    """Merge each table's small files (delta-rs optimize.compact; records unchanged), recorded
    as a new state with the same run and month: readers then scan few files."""
    from pipelines import store

    try:
        state = store.compact(interim, target_size)
    except store.StoreError as exc:
        fail(str(exc))
    if state is None:
        fail(f"{interim}: no state recorded: nothing to compact")
    console.print(
        f"compacted: the current state is now {state.n} ({state.kind}, as of {state.as_of})"
    )


@interim_app.command("vacuum")
def vacuum(
    keep_months: Annotated[
        int, typer.Option(help="keep the states of the last N months (the current one always)")
    ],
    interim: FolderOpt = DATA.interim,
) -> None:
    """Remove the data files no kept state needs, and the records of the states dropped: time
    travel then reaches back N months. The current state is never removed."""
    from pipelines import store

    try:
        result = store.vacuum(interim, keep_months)
    except store.StoreError as exc:
        fail(str(exc))
    console.print(
        f"kept states {result['kept']}; dropped {result['dropped'] or 'none'}; "
        f"{result['files_removed']:,} data files removed"
    )
