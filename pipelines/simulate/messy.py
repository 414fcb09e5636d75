"""Write the `--messy` copy of a simulated province: CSV in three encodings, spreadsheets,
title rows, Chinese headers, mixed date formats, and row faults (see `simulator.messy`),
plus `manifest.json` listing every injected fault by table and row.

The files are raw on purpose (not formula-safe): they are corrupted test input for
ingestion, read back as data, not exports for people."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from contract.tables import SIMULATED, TABLES
from pipelines.io import atomic_directory, atomic_write, reproducible_zip, write_json
from simulator.config import SimulatorConfig
from simulator.messy import REPAIRABLE, MessyFile, corrupt_table


def read_table(raw: Path, name: str) -> pd.DataFrame:
    """One contract table from a folder of Parquet parts (or a single Parquet file)."""
    folder, single = raw / name, raw / f"{name}.parquet"
    path = folder if folder.is_dir() else single
    return pd.read_parquet(path)


def _write_file(mf: MessyFile, folder: Path) -> None:
    path = folder / mf.file_name
    if mf.file_format == "xlsx":
        frame = mf.frame.copy()
        if mf.date_format == "excel_serial":
            for col in frame.columns:
                if _is_date_column(mf, col):
                    frame[col] = pd.to_numeric(frame[col], errors="coerce").astype("Int64")

        def write_xlsx(tmp: Path) -> None:
            with pd.ExcelWriter(tmp, engine="openpyxl") as xw:
                start = len(mf.title_rows)
                frame.to_excel(xw, index=False, startrow=start, sheet_name="Sheet1")
                ws = xw.sheets["Sheet1"]
                for i, line in enumerate(mf.title_rows, start=1):
                    ws.cell(row=i, column=1, value=line)
            reproducible_zip(tmp)  # no wall-clock times inside: same seed, same bytes

        atomic_write(path, write_xlsx)
        return
    buf = io.StringIO()
    for line in mf.title_rows:
        buf.write(line + "\n")
    mf.frame.to_csv(buf, index=False)  # raw on purpose: corrupted test input, not an export
    data = buf.getvalue().encode(mf.encoding)
    atomic_write(path, lambda tmp: tmp.write_bytes(data))


def _is_date_column(mf: MessyFile, col: str) -> bool:
    spec = TABLES[mf.table]
    names = {c.name for c in spec.columns if c.dtype == "date"} | {
        c.zh for c in spec.columns if c.dtype == "date"
    }
    return col in names


def write_messy(
    cfg: SimulatorConfig,
    raw: Path,
    out: Path,
    seed: int,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, object]:
    """Corrupt every table under ``raw`` into ``out``; returns the manifest."""
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(10**6,)))
    registry = read_table(raw, "enterprises")
    manifest: dict[str, object] = {"seed": seed, "source": str(raw), "tables": {}}
    tables: dict[str, object] = {}
    with atomic_directory(Path(out)) as folder:
        for i, name in enumerate(SIMULATED):
            mf = corrupt_table(name, read_table(raw, name), registry, cfg.messy, rng, i)
            _write_file(mf, folder)
            faults = {
                k: v
                for k, v in mf.faults.items()
                if k not in ("bad_vocabulary_column", "duplicate_of", "natural_key_duplicate_of")
            }
            tables[name] = {
                "file": mf.file_name,
                "format": mf.file_format,
                "encoding": mf.encoding,
                "title_rows": len(mf.title_rows),
                "chinese_headers": mf.chinese_headers,
                "date_format": mf.date_format,
                "rows": len(mf.frame),
                "faults": {k: len(v) for k, v in faults.items()},
                "fault_rows": faults,
                "repairable_faults": sorted(REPAIRABLE & set(faults)),
                "copies_of": {
                    "duplicate": mf.faults["duplicate_of"],
                    "natural_key_duplicate": mf.faults["natural_key_duplicate_of"],
                },
            }
            if progress is not None:
                progress(i + 1, len(SIMULATED))
        manifest["tables"] = tables
        write_json(manifest, folder / "manifest.json")
    return manifest
