"""Stage `simulate`: generate the synthetic province and write it as the contract's tables.

Layout written (each table a folder of Parquet parts, one part per chunk, which DuckDB,
pandas and Spark all read as one table)::

    <out>/<table>/part-00000.parquet ...        the raw data a bureau would hand over
    <truth_out>/<table>/part-00000.parquet ...  the hidden truth: read only for evaluation
                                                (train's oracle AUC, simulate-loop), never to classify
    <summary_out>                               summary.json (figures printed by the CLI)
    <messy_out>/                                optional corrupted copy (`write_messy`)

Folders are replaced atomically: a run that dies leaves the previous output intact.

The simulator is a client of the contract; this package is the pipeline's one door to it:
`load_simulator_config` reads ``configs/simulator.yaml``, `run_simulate` writes the province,
`write_messy` (`pipelines.simulate.messy`) its corrupted copy, `write_research_dataset`
(`simulator.research`) an anonymised, labelled research extract (issue 18).
"""

from __future__ import annotations

import logging
import multiprocessing
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from contract.tables import SIMULATED
from pipelines.config import load_config
from pipelines.io import atomic_directory, write_json, write_parquet
from pipelines.paths import SIMULATOR_CONFIG
from pipelines.simulate.messy import write_messy
from simulator.config import SimulatorConfig
from simulator.engine import ChunkStats, chunk_sizes, simulate_chunk
from simulator.research import write_research_dataset
from simulator.summary import SimulationSummary, summarise

log = logging.getLogger(__name__)

__all__ = [
    "load_simulator_config",
    "run_simulate",
    "write_messy",
    "write_research_dataset",
    "write_update_delivery",
]

Progress = Callable[[int, int], None]


def load_simulator_config(path: Path = SIMULATOR_CONFIG) -> SimulatorConfig:
    """The simulator's configuration (``configs/simulator.yaml``), validated; raises
    `pipelines.config.ConfigError` naming the file and key when it is not valid."""
    return load_config(path, SimulatorConfig)


@dataclass(frozen=True)
class _Job:
    cfg: SimulatorConfig
    months: int
    chunk_index: int
    size: int
    seed: int
    raw_dir: Path
    truth_dir: Path


def _run_chunk(job: _Job) -> tuple[ChunkStats, dict[str, int]]:
    result = simulate_chunk(job.cfg, job.months, job.chunk_index, job.size, job.seed)
    part = f"part-{job.chunk_index:05d}.parquet"
    rows: dict[str, int] = {}
    for name, table in result.tables.items():
        write_parquet(table, job.raw_dir / name / part)
        rows[name] = table.num_rows
    for name, table in result.truth.items():
        write_parquet(table, job.truth_dir / name / part)
    return result.stats, rows


def run_simulate(
    cfg: SimulatorConfig,
    *,
    enterprises: int,
    months: int,
    seed: int,
    out: Path,
    truth_out: Path,
    summary_out: Path | None = None,
    workers: int = 2,
    progress: Progress | None = None,
) -> SimulationSummary:
    """Generate ``enterprises`` firms over ``months`` months ending ``cfg.end_month``."""
    if enterprises < 1:
        raise ValueError("simulate: --enterprises must be at least 1")
    if months < 1:
        raise ValueError("simulate: --months must be at least 1")
    if Path(out).resolve() == Path(truth_out).resolve():
        raise ValueError("simulate: the truth must go to a folder apart from the raw data")
    sizes = chunk_sizes(enterprises, cfg.chunk_size)
    stats: ChunkStats | None = None
    rows: dict[str, int] = dict.fromkeys(SIMULATED, 0)
    with atomic_directory(Path(out)) as raw_dir, atomic_directory(Path(truth_out)) as truth_dir:
        for name in SIMULATED:
            (raw_dir / name).mkdir()
        for name in ("enterprise_months", "enterprises", "inspections"):
            (truth_dir / name).mkdir()
        jobs = [
            _Job(cfg, months, i, size, seed, raw_dir, truth_dir) for i, size in enumerate(sizes)
        ]
        if workers <= 1 or len(jobs) == 1:
            results = map(_run_chunk, jobs)
            stats = _collect(results, rows, len(jobs), progress)
        else:
            ctx = multiprocessing.get_context("spawn")
            with ProcessPoolExecutor(max_workers=min(workers, len(jobs)), mp_context=ctx) as pool:
                stats = _collect(pool.map(_run_chunk, jobs), rows, len(jobs), progress)
    assert stats is not None
    summary = summarise(stats, enterprises, seed, rows)
    if summary_out is not None:
        write_json(summary.to_dict(), Path(summary_out))
    log.info("simulated %d enterprises in %d chunks", enterprises, len(sizes))
    return summary


def _collect(
    results: Iterable[tuple[ChunkStats, dict[str, int]]],
    rows: dict[str, int],
    total: int,
    progress: Progress | None,
) -> ChunkStats:
    merged: ChunkStats | None = None
    for done, (chunk_stats, chunk_rows) in enumerate(results, start=1):
        merged = chunk_stats if merged is None else merged.merge(chunk_stats)
        for name, count in chunk_rows.items():
            rows[name] += count
        if progress is not None:
            progress(done, total)
    assert merged is not None
    return merged


def write_update_delivery(
    raw: Path, out: Path, month: str, date: object, seed: int
) -> dict[str, int]:
    """A within-month delivery for the demo province (`simulator.updates`): new serious-list
    entries, heavy penalties and court records of real enterprises of ``raw``'s registry,
    received by ``date`` (a `datetime.date` in the month after ``month``), written to
    ``out/<table>.parquet`` typed as the contract says; rows per table
    (`riskclass update-demo-delivery`, then `riskclass update`)."""
    import datetime as dt

    import pandas as pd
    import pyarrow as pa

    from contract.tables import TABLES
    from simulator.updates import delivery

    if not isinstance(date, dt.date):
        raise TypeError("date must be a datetime.date")
    cols = ["uscc", "established_date", "deregistered_date", "revoked_date"]
    registry = pd.read_parquet(Path(raw) / "enterprises", columns=cols)
    types = {"string": pa.string(), "date": pa.date32(), "float": pa.float64(),
             "bool": pa.bool_(), "int": pa.int64()}  # fmt: skip
    Path(out).mkdir(parents=True, exist_ok=True)
    counts = {}
    for name, frame in delivery(registry, month, date, seed).items():
        schema = pa.schema([(c.name, types[c.dtype]) for c in TABLES[name].columns])
        write_parquet(pa.Table.from_pandas(frame, schema=schema, preserve_index=False),
                      Path(out) / f"{name}.parquet")  # fmt: skip
        counts[name] = len(frame)
    return counts


def write_case_actions(raw: Path, out: Path, seed: int) -> int:
    """The demo's case-system export (`simulator.followup`): actions on the problems found in
    ``raw``'s inspections, dated up to the last inspection received, written as a formula-safe
    CSV to ``out`` (the demo: ``data/raw_cases/actions.csv``, read by ``riskclass cases
    import``); returns the rows written."""
    import pandas as pd

    from pipelines.io import write_csv
    from simulator.followup import case_actions

    cols = ["inspection_id", "inspection_date", "problem_found", "problem_category",
            "received_date"]  # fmt: skip
    insp = pd.read_parquet(Path(raw) / "inspections", columns=cols)
    end = pd.to_datetime(insp["received_date"]).max().date()
    actions = case_actions(insp, end, seed)
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    write_csv(actions, Path(out))
    return len(actions)
