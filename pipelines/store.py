"""The interim store: the validated contract tables, as every reader opens them.

Readers never spell out where a table's files are: they ask this module for a
:class:`TableSnapshot` (its Parquet files, its schema, a DuckDB scan expression, an Arrow table)
of the current state or of the state the pipeline had at an earlier month (time travel).

Why Delta Lake (through the maintained ``deltalake`` binding, delta-rs):

* an open format both engines read without an extension: a Delta table's data files are plain
  Parquet, so DuckDB's ``read_parquet`` and Spark read the files a snapshot names directly (no
  Delta extension, nothing downloaded at run time);
* ACID commits: a table changes by one atomic commit to its ``_delta_log``, so a run killed
  mid-write leaves the previous version intact;
* versions: every commit is a version that can still be read, which gives time travel (what the
  pipeline knew at an earlier month) without copying the history each month;
* a merge by predicate (``DeltaTable.merge``) and partition pruning in a maintained library,
  instead of hand-written file juggling, so that a month's delivery rewrites only the files
  that hold the records it changes.

Layout of an interim folder::

    <interim>/<table>/                 one Delta table per contract table (event tables
                                       partitioned by ``_year``, the event date's year; the
                                       partition column lives in the path, not in the files)
    <interim>/quarantine/<table>/      the rejected rows of every delivery (a Delta table)
    <interim>/_state/<n>.json          state ``n``: each table's Delta version, the run, its
                                       ``as_of`` month, and the folder of its side files
    <interim>/_state/<n>/              that state's reconciliation.json, availability.json,
                                       review/ and validation/
    <interim>/_state/current.json      the current state (replaced atomically, last)
    <interim>/reconciliation.json ...  copies of the current state's side files, for people

A run's Delta commits become visible together: readers read the versions the current state
names, so a run killed between two table commits is invisible, and the next run first restores
every table whose latest version is past the recorded one (:func:`recover`).

A folder in the old single-file layout (``<interim>/<table>.parquet``, no ``_state``) is still
read; the next ingest migrates it.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.dataset as pads
import pyarrow.parquet as pq

from contract.months import months_between
from contract.tables import TABLES

#: The folder of the state records, and the current state's record in it.
STATE_DIR = "_state"
CURRENT = "current.json"
#: The partition column of event tables: the year of the event date (0 when it has none).
PARTITION = "_year"
#: Side files of a state (in ``_state/<n>/``, copied to the interim folder for people).
SIDE_FILES = ("reconciliation.json", "availability.json")
SIDE_FOLDERS = ("review", "validation")


class StoreError(ValueError):
    """The interim folder cannot give what was asked (no such state, a broken record)."""


def _literal(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


_DUCK_TYPES = {
    pa.string(): "VARCHAR",
    pa.large_string(): "VARCHAR",
    pa.int64(): "BIGINT",
    pa.int32(): "INTEGER",
    pa.float64(): "DOUBLE",
    pa.date32(): "DATE",
    pa.bool_(): "BOOLEAN",
}


@dataclass(frozen=True)
class TableSnapshot:
    """One contract table at one state: its Parquet files (absolute paths, plain Parquet that
    DuckDB, pyarrow and Spark all read) and the store version it was taken at.

    ``partitions`` gives, file by file, the value of the partition column (``_year``) the file
    belongs to (None when the table is not partitioned); writers use it to read only the
    partitions a delivery touches."""

    name: str
    files: tuple[str, ...]
    version: int | None = None
    table_schema: pa.Schema | None = field(default=None, compare=False, repr=False)
    partitions: tuple[int | None, ...] = field(default=(), compare=False, repr=False)

    def sql(self, files: Iterable[str] | None = None) -> str:
        """A DuckDB table expression over the snapshot's files (columns a file lacks: NULL).

        ``read_parquet`` over the files themselves, not an Arrow-dataset scan: as fast as a
        single file, with DuckDB's own projection and filter pushdown."""
        chosen = list(self.files if files is None else files)
        if not chosen:
            schema = self.schema()
            cols = ", ".join(
                f'NULL::{_DUCK_TYPES.get(f.type, "VARCHAR")} AS "{f.name}"' for f in schema
            )
            return f"(SELECT {cols or 'NULL AS _none'} LIMIT 0)"
        listed = ", ".join(_literal(f) for f in chosen)
        return f"read_parquet([{listed}], union_by_name = true, hive_partitioning = false)"

    def schema(self) -> pa.Schema:
        """The table's columns (the partition column, which lives in the path, excluded)."""
        if self.table_schema is not None:
            return self.table_schema
        if not self.files:
            return pa.schema([])
        return pa.unify_schemas([pq.read_schema(f) for f in self.files])

    def arrow(self, columns: list[str] | None = None) -> pa.Table:
        schema = self.schema()
        if not self.files:
            empty = schema.empty_table()
            return empty.select(columns) if columns is not None else empty
        dataset = pads.dataset(list(self.files), schema=schema, format="parquet")
        return dataset.to_table(columns=columns)

    def pandas(self, columns: list[str] | None = None) -> pd.DataFrame:
        return self.arrow(columns).to_pandas()

    def num_rows(self) -> int:
        return sum(pq.ParquetFile(f).metadata.num_rows for f in self.files)


# ---------------------------------------------------------------------- Delta tables


def table_dir(interim: Path, name: str) -> Path:
    """Where table ``name`` of an interim folder lives (a Delta table; as
    `pipelines.paths.table` names it)."""
    return Path(interim) / name


def quarantine_dir(interim: Path, name: str) -> Path:
    """Where the rejected rows of table ``name`` live (a Delta table)."""
    return Path(interim) / "quarantine" / name


def legacy_file(interim: Path, name: str) -> Path:
    """The old single-file layout's ``<interim>/<name>.parquet``."""
    return Path(interim) / f"{name}.parquet"


def is_delta(path: Path) -> bool:
    return (Path(path) / "_delta_log").is_dir()


def delta_snapshot(path: Path, name: str, version: int | None = None) -> TableSnapshot:
    """The Delta table at ``path`` as of ``version`` (the latest when None)."""
    from deltalake import DeltaTable

    dt = DeltaTable(str(path), version=version)
    parts = list(dt.metadata().partition_columns)
    schema = pa.schema(dt.schema().to_arrow())
    schema = pa.schema([f for f in schema if f.name not in parts])
    actions = pa.table(dt.get_add_actions(flatten=True))
    rel = actions.column("path").to_pylist()
    col = f"partition.{PARTITION}"
    values: list[Any] = (
        actions.column(col).to_pylist() if col in actions.column_names else [None] * len(rel)
    )
    root = Path(path).resolve()
    pairs = sorted(
        (str(root / _unquote(r)), None if v is None else int(v))
        for r, v in zip(rel, values, strict=True)
    )
    return TableSnapshot(
        name,
        tuple(f for f, _ in pairs),
        dt.version(),
        schema,
        tuple(v for _, v in pairs),
    )


def _unquote(rel: str) -> str:
    from urllib.parse import unquote

    return unquote(rel)


def latest_version(path: Path) -> int | None:
    """The latest committed version of the Delta table at ``path`` (None: no table)."""
    if not is_delta(path):
        return None
    from deltalake import DeltaTable

    return int(DeltaTable(str(path)).version())


# ---------------------------------------------------------------------- state records


@dataclass(frozen=True)
class State:
    """One consistent state of an interim folder: what a run (or a compaction) left."""

    n: int
    run: str
    as_of: str | None
    kind: str
    tables: dict[str, int]
    rows: dict[str, int]
    quarantine: dict[str, int]
    withheld: dict[str, int]
    side: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "run": self.run,
            "as_of": self.as_of,
            "kind": self.kind,
            "tables": dict(sorted(self.tables.items())),
            "rows": dict(sorted(self.rows.items())),
            "quarantine": dict(sorted(self.quarantine.items())),
            "withheld": dict(sorted(self.withheld.items())),
            "side": self.side,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> State:
        return cls(
            int(d["n"]),
            str(d["run"]),
            None if d.get("as_of") is None else str(d["as_of"]),
            str(d.get("kind", "ingest")),
            {str(k): int(v) for k, v in dict(d.get("tables", {})).items()},
            {str(k): int(v) for k, v in dict(d.get("rows", {})).items()},
            {str(k): int(v) for k, v in dict(d.get("quarantine", {})).items()},
            {str(k): int(v) for k, v in dict(d.get("withheld", {})).items()},
            str(d.get("side", "")),
        )


def state_dir(interim: Path) -> Path:
    return Path(interim) / STATE_DIR


def _read_state(path: Path) -> State:
    try:
        return State.from_dict(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise StoreError(
            f"{path}: not a readable state record ({exc}) [rule: store state]"
        ) from None


def current_state(interim: Path) -> State | None:
    """The state readers see now (None: a folder never ingested in the Delta layout)."""
    path = state_dir(interim) / CURRENT
    return _read_state(path) if path.is_file() else None


def states(interim: Path) -> list[State]:
    """Every state kept in the folder, oldest first."""
    folder = state_dir(interim)
    if not folder.is_dir():
        return []
    found = [
        _read_state(p) for p in folder.glob("*.json") if p.stem.isdigit() and p.name != CURRENT
    ]
    return sorted(found, key=lambda s: s.n)


def find_state(interim: Path, as_of: str | None = None, state: int | None = None) -> State | None:
    """The current state; or the state after the last run whose ``as_of`` <= ``as_of``; or
    state number ``state``. A month before every recorded run is an error naming the months
    recorded, never a silent fall back to the current state."""
    if as_of is None and state is None:
        return current_state(interim)
    cur = current_state(interim)
    kept = [s for s in states(interim) if cur is None or s.n <= cur.n]
    if state is not None:
        for s in kept:
            if s.n == state:
                return s
        raise StoreError(
            f"{interim}: no state {state} is kept (states: {', '.join(str(s.n) for s in kept) or 'none'}) "
            "[rule: store state]"
        )
    assert as_of is not None
    months_between(as_of, as_of)  # validates YYYY-MM
    eligible = [s for s in kept if s.as_of is not None and s.as_of <= as_of]
    if not eligible:
        if not kept and current_state(interim) is None:
            return None  # the old layout: it has no history to travel in
        recorded = sorted({s.as_of for s in kept if s.as_of})
        raise StoreError(
            f"{interim}: no state as of {as_of}; the runs recorded cover "
            f"{', '.join(recorded) or 'no dated month'} [rule: store time travel]"
        )
    return eligible[-1]


def commit_state(interim: Path, state: State) -> None:
    """Write state ``n`` and make it current (one atomic rename: readers switch at once)."""
    folder = state_dir(interim)
    folder.mkdir(parents=True, exist_ok=True)
    text = json.dumps(state.to_dict(), ensure_ascii=False, indent=2, sort_keys=True) + "\n"
    record = folder / f"{state.n}.json"
    tmp = folder / f".{state.n}.json.tmp"
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, record)
    tmp = folder / f".{CURRENT}.tmp"
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, folder / CURRENT)


def next_number(interim: Path) -> int:
    found = [s.n for s in states(interim)]
    cur = current_state(interim)
    if cur is not None:
        found.append(cur.n)
    return max(found, default=0) + 1


def recover(interim: Path) -> list[str]:
    """Undo what a killed or refused run committed past the current state: every Delta table
    whose latest version is past the recorded one is restored to it (``DeltaTable.restore``, a
    new commit with the recorded content); a table the state does not know is removed. Returns
    the tables put back."""
    from deltalake import DeltaTable

    interim = Path(interim)
    cur = current_state(interim)
    fixed: list[str] = []
    recorded = {} if cur is None else {**cur.tables, **cur.withheld}
    quarantined = {} if cur is None else cur.quarantine
    for name in TABLES:
        for path, known in (
            (table_dir(interim, name), recorded),
            (quarantine_dir(interim, name), quarantined),
        ):
            latest = latest_version(path)
            if latest is None:
                continue
            if name not in known:
                shutil.rmtree(path)  # created by a run that never became a state
                fixed.append(str(path.relative_to(interim)))
            elif latest != known[name]:
                dt = DeltaTable(str(path))
                if _content_differs(path, known[name], latest):
                    dt.restore(known[name])
                fixed.append(str(path.relative_to(interim)))
    return fixed


def _content_differs(path: Path, recorded: int, latest: int) -> bool:
    """Whether the latest version holds other files than the recorded one (a restore
    already made, or a compaction recorded later, needs no second restore)."""
    return set(delta_snapshot(path, "", recorded).files) != set(
        delta_snapshot(path, "", latest).files
    )


# ---------------------------------------------------------------------- readers


def open_table(
    interim: Path, name: str, as_of: str | None = None, state: int | None = None
) -> TableSnapshot | None:
    """Table ``name`` of the interim folder at the current state (or at the state the
    pipeline had after the last run whose ``as_of`` <= ``as_of``, or at state number
    ``state``); None when that state has no such table (never delivered, or withheld)."""
    interim = Path(interim)
    found = find_state(interim, as_of, state)
    if found is None:
        legacy = legacy_file(interim, name)
        if legacy.is_file():
            path = str(legacy.resolve())
            return TableSnapshot(name, (path,), None, pq.read_schema(path))
        return None
    if name not in found.tables:
        return None
    return delta_snapshot(table_dir(interim, name), name, found.tables[name])


def open_tables(
    interim: Path, as_of: str | None = None, state: int | None = None
) -> dict[str, TableSnapshot]:
    """Every contract table present in the interim folder at that state, by name."""
    interim = Path(interim)
    found = find_state(interim, as_of, state)
    names = TABLES if found is None else [n for n in TABLES if n in found.tables]
    out = {n: open_table(interim, n, as_of, state) for n in names}
    return {n: snap for n, snap in out.items() if snap is not None}


def open_quarantine(
    interim: Path, name: str, as_of: str | None = None, state: int | None = None
) -> TableSnapshot | None:
    """The rejected rows of table ``name`` at that state (None: none were ever rejected)."""
    interim = Path(interim)
    found = find_state(interim, as_of, state)
    if found is None:
        legacy = legacy_file(interim / "quarantine", name)
        if legacy.is_file():
            path = str(legacy.resolve())
            return TableSnapshot(name, (path,), None, pq.read_schema(path))
        return None
    if name not in found.quarantine:
        return None
    return delta_snapshot(quarantine_dir(interim, name), name, found.quarantine[name])


def side_file(interim: Path, name: str, as_of: str | None = None, state: int | None = None) -> Path:
    """A side file of that state (``reconciliation.json``, ``availability.json``, ``review``,
    ``validation``): the state's own copy, so that it matches the tables read; in the old
    layout, the file in the interim folder."""
    interim = Path(interim)
    found = find_state(interim, as_of, state)
    if found is None or not found.side:
        return interim / name
    return interim / found.side / name


def describe(interim: Path) -> list[dict[str, Any]]:
    """Every kept state with its tables' versions and rows (``riskclass interim history``)."""
    cur = current_state(interim)
    out = []
    for s in states(interim):
        out.append(
            {
                **s.to_dict(),
                "current": cur is not None and s.n == cur.n,
            }
        )
    return out


# ---------------------------------------------------------------------- maintenance


def compact(interim: Path, target_size: int | None = None) -> State | None:
    """Compact every table of the current state (delta-rs ``optimize.compact``: small files
    merged, content unchanged) and record the result as a new state with the same run and
    ``as_of``, so that readers scan few files. Earlier states stay readable."""
    from deltalake import DeltaTable

    interim = Path(interim)
    recover(interim)
    cur = current_state(interim)
    if cur is None:
        return None
    tables = dict(cur.tables)
    for name in cur.tables:
        dt = DeltaTable(str(table_dir(interim, name)))
        dt.optimize.compact(target_size=target_size)
        tables[name] = int(DeltaTable(str(table_dir(interim, name))).version())
    quarantine = dict(cur.quarantine)
    for name in cur.quarantine:
        dt = DeltaTable(str(quarantine_dir(interim, name)))
        dt.optimize.compact(target_size=target_size)
        quarantine[name] = int(DeltaTable(str(quarantine_dir(interim, name))).version())
    if tables == cur.tables and quarantine == cur.quarantine:
        return cur  # nothing to compact
    state = State(
        next_number(interim),
        cur.run,
        cur.as_of,
        "compact",
        tables,
        cur.rows,
        quarantine,
        cur.withheld,
        cur.side,
    )
    commit_state(interim, state)
    return state


def kept_states(all_states: list[State], current: State, keep_months: int) -> list[State]:
    """The states ``vacuum`` keeps: the current one, and those whose ``as_of`` is within
    ``keep_months`` months of the current state's ``as_of`` (counting it)."""
    if keep_months < 0:
        raise StoreError(f"vacuum: --keep-months must be 0 or more, got {keep_months}")
    if current.as_of is None:
        return [s for s in all_states if s.n == current.n]
    first = months_between("1900-01", current.as_of)[-keep_months] if keep_months else None
    return [
        s
        for s in all_states
        if s.n == current.n
        or (first is not None and s.as_of is not None and first <= s.as_of <= current.as_of)
    ]


def vacuum(interim: Path, keep_months: int) -> dict[str, Any]:
    """Remove the data files no kept state needs (delta-rs ``vacuum`` with the kept states'
    versions; no retention by wall-clock age), and the records and side folders of the states
    dropped. The current state is always kept."""
    from deltalake import DeltaTable

    interim = Path(interim)
    recover(interim)
    cur = current_state(interim)
    if cur is None:
        return {"kept": [], "dropped": [], "files_removed": 0}
    all_states = states(interim)
    keep = kept_states(all_states, cur, keep_months)
    keep_n = {s.n for s in keep}
    removed = 0
    for name in TABLES:
        for path, versions in (
            (
                table_dir(interim, name),
                sorted(
                    {v for s in keep if (v := s.tables.get(name, s.withheld.get(name))) is not None}
                ),
            ),
            (
                quarantine_dir(interim, name),
                sorted({v for s in keep if (v := s.quarantine.get(name)) is not None}),
            ),
        ):
            if not is_delta(path):
                continue
            files = DeltaTable(str(path)).vacuum(
                retention_hours=0,
                dry_run=False,
                enforce_retention_duration=False,
                keep_versions=versions,
            )
            removed += len(files)
    dropped = [s for s in all_states if s.n not in keep_n]
    sides_kept = {s.side for s in keep}
    for s in dropped:
        (state_dir(interim) / f"{s.n}.json").unlink(missing_ok=True)
        if s.side and s.side not in sides_kept:
            shutil.rmtree(interim / s.side, ignore_errors=True)
    return {
        "kept": sorted(keep_n),
        "dropped": [s.n for s in dropped],
        "files_removed": removed,
    }
