"""Reading an interim folder in tests the way every reader does: through `pipelines.store`
(the tables are Delta tables, not single files)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from pipelines import store


def snapshot(interim: Path, name: str, as_of: str | None = None) -> store.TableSnapshot:
    """Table ``name`` at the current state (or as of a month); fails when it is missing."""
    snap = store.open_table(Path(interim), name, as_of)
    assert snap is not None, f"table {name} is missing from {interim}"
    return snap


def read_table(
    interim: Path, name: str, columns: list[str] | None = None, as_of: str | None = None
) -> pd.DataFrame:
    """Table ``name`` as pandas (the store's snapshot)."""
    return snapshot(interim, name, as_of).pandas(columns)


def table_sql(interim: Path, name: str) -> str:
    """A DuckDB table expression over table ``name``."""
    return snapshot(interim, name).sql()


def has_table(interim: Path, name: str) -> bool:
    return store.open_table(Path(interim), name) is not None


def read_quarantine(interim: Path, name: str) -> pd.DataFrame:
    """The rejected rows of table ``name`` (every delivery's)."""
    snap = store.open_quarantine(Path(interim), name)
    assert snap is not None, f"no rejected rows of {name} in {interim}"
    return snap.pandas()


def has_quarantine(interim: Path, name: str) -> bool:
    return store.open_quarantine(Path(interim), name) is not None
