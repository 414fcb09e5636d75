"""The interim store: the validated contract tables, as every reader opens them.

Readers never spell out where a table's files are: they ask this module for a
:class:`TableSnapshot` (its Parquet files, its schema, a DuckDB scan expression, an Arrow table)
of the current state or of the state the pipeline had at an earlier month (time travel).

(Placeholder implementation over the single-file layout ``<interim>/<table>.parquet``; the
incremental Delta Lake layout replaces it behind the same interface.)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from contract.tables import TABLES


def _literal(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


@dataclass(frozen=True)
class TableSnapshot:
    """One contract table at one state: its Parquet files (absolute paths, plain Parquet that
    DuckDB, pyarrow and Spark all read) and the store version it was taken at."""

    name: str
    files: tuple[str, ...]
    version: int | None = None

    def sql(self) -> str:
        """A DuckDB table expression over the snapshot's files (columns a file lacks: NULL)."""
        if not self.files:
            return f"(SELECT * FROM {self.name}_empty WHERE FALSE)"
        files = ", ".join(_literal(f) for f in self.files)
        return f"read_parquet([{files}], union_by_name = true)"

    def schema(self) -> pa.Schema:
        return pq.read_schema(self.files[0])

    def arrow(self, columns: list[str] | None = None) -> pa.Table:
        return pq.ParquetDataset(list(self.files)).read(columns=columns)

    def pandas(self, columns: list[str] | None = None) -> pd.DataFrame:
        return self.arrow(columns).to_pandas()

    def num_rows(self) -> int:
        return sum(pq.ParquetFile(f).metadata.num_rows for f in self.files)


def open_table(interim: Path, name: str, as_of: str | None = None) -> TableSnapshot | None:
    """Table ``name`` of the interim folder (None when it was never delivered)."""
    path = Path(interim) / f"{name}.parquet"
    if not path.is_file():
        return None
    return TableSnapshot(name, (str(path.resolve()),))


def open_tables(interim: Path, as_of: str | None = None) -> dict[str, TableSnapshot]:
    """Every contract table present in the interim folder, by name."""
    found = {name: open_table(interim, name, as_of) for name in TABLES}
    return {name: snap for name, snap in found.items() if snap is not None}
