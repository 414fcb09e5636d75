"""Monthly deliveries cut from the simulator's raw files, as a bureau receives them.

The simulator writes a province's whole history at once (``raw/<table>/*.parquet``). An
incremental intake is measured on what really arrives each month: the records received within
the month (their ``received_date``), plus the registry as it stands at the month's end (the
registry is re-delivered whole every month). `cut_history` gives everything received by the end
of a month, the start of a store that then takes the month's deliveries (`cut_month`).

Used by ``benchmarks/bench_ingest.py --incremental`` and ``benchmarks/bench_month.py``.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from contract.months import month_end, parse_month
from contract.tables import TABLES

#: The registry is delivered whole, as it stands at the month's end.
REGISTRY = "enterprises"


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _source(raw: Path, name: str) -> str | None:
    folder, single = Path(raw) / name, Path(raw) / f"{name}.parquet"
    if folder.is_dir() and any(folder.glob("*.parquet")):
        return f"read_parquet({_lit((folder / '*.parquet').as_posix())})"
    if single.is_file():
        return f"read_parquet({_lit(single.as_posix())})"
    return None


def _cut(raw: Path, out: Path, month: str, since: str | None) -> dict[str, int]:
    """Rows received by the end of ``month`` (and after the end of ``since``, when given);
    the registry's enterprises established by the end of ``month``. Returns rows per table."""
    end = month_end(*parse_month(month)).isoformat()
    start = month_end(*parse_month(since)).isoformat() if since else None
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    counts: dict[str, int] = {}
    con = duckdb.connect()
    try:
        for name, spec in TABLES.items():
            src = _source(raw, name)
            if src is None:
                continue
            if name == REGISTRY:
                cond = f"established_date <= DATE {_lit(end)}"
            elif spec.received_date:
                cond = f"{spec.received_date} <= DATE {_lit(end)}"
                if start is not None:
                    cond += f" AND {spec.received_date} > DATE {_lit(start)}"
            else:  # a table without a receipt date is delivered whole
                cond = "TRUE"
            target = out / f"{name}.parquet"
            con.execute(
                f"COPY (SELECT * FROM {src} WHERE {cond}) TO {_lit(target.as_posix())} "
                "(FORMAT parquet, COMPRESSION zstd)"
            )
            ((n,),) = con.execute(
                f"SELECT count(*) FROM read_parquet({_lit(target.as_posix())})"
            ).fetchall()
            counts[name] = int(n)
    finally:
        con.close()
    return counts


def cut_history(raw: Path, out: Path, month: str) -> dict[str, int]:
    """Every record received by the end of ``month``, and the registry as it stands then."""
    return _cut(raw, out, month, None)


def cut_month(raw: Path, out: Path, month: str) -> dict[str, int]:
    """The delivery of ``month``: the records received within it, and the whole registry as it
    stands at its end."""
    y, m = parse_month(month)
    previous = f"{y - 1:04d}-12" if m == 1 else f"{y:04d}-{m - 1:02d}"
    return _cut(raw, out, month, previous)
