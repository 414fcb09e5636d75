"""Column-wise accumulation of generated records, with deferred updates.

Records are appended month by month as numpy columns; a later event can fill in a field
of an earlier record (a removal date, an end date) by row number. Nothing is converted
to Arrow until the chunk is finished.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from simulator.calendar import NULL_DAY

#: One column of records: day numbers, amounts, flags or strings (object arrays).
Column = npt.NDArray[Any]


class EventLog:
    """The records of one chunk, table by table, as numpy column parts."""

    def __init__(self) -> None:
        self._parts: dict[str, list[dict[str, Column]]] = defaultdict(list)
        self._count: dict[str, int] = defaultdict(int)
        self._updates: dict[str, list[tuple[str, npt.NDArray[np.int64], Column]]] = defaultdict(
            list
        )

    def add(self, table: str, **columns: object) -> npt.NDArray[np.int64]:
        """Append records; scalars are broadcast. Returns the new rows' numbers."""
        size = max((len(v) for v in columns.values() if isinstance(v, np.ndarray)), default=0)
        if size == 0:
            return np.empty(0, dtype=np.int64)
        part = {
            k: (v if isinstance(v, np.ndarray) else np.full(size, v)) for k, v in columns.items()
        }
        for k, v in part.items():
            if len(v) != size:
                raise ValueError(f"{table}.{k}: {len(v)} values for {size} records")
        self._parts[table].append(part)
        start = self._count[table]
        self._count[table] += size
        return np.arange(start, start + size, dtype=np.int64)

    def update(self, table: str, column: str, rows: npt.NDArray[np.int64], values: object) -> None:
        """Set ``column`` of earlier records ``rows`` (applied in order at the end)."""
        if len(rows) == 0:
            return
        vals = values if isinstance(values, np.ndarray) else np.full(len(rows), values)
        self._updates[table].append((column, rows.copy(), np.asarray(vals).copy()))

    def columns(self, table: str) -> dict[str, Column]:
        parts = self._parts.get(table, [])
        if not parts:
            return {}
        out = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
        for column, rows, values in self._updates.get(table, []):
            out[column][rows] = values
        return out


def _arrow(values: Column, dtype: str) -> pa.Array:
    """A generated column as Arrow, typed as the contract says (NULL_DAY and NaN are null)."""
    if dtype == "date":
        v = np.asarray(values, dtype=np.int64)
        mask = v == NULL_DAY
        return pa.array(np.where(mask, 0, v).astype(np.int32), type=pa.date32(), mask=mask)
    if dtype == "float":
        v = np.asarray(values, dtype=np.float64)
        return pa.array(v, type=pa.float64(), mask=np.isnan(v))
    if dtype == "int":
        v = np.asarray(values, dtype=np.float64)
        mask = np.isnan(v)
        return pa.array(np.where(mask, 0, v).astype(np.int64), type=pa.int64(), mask=mask)
    if dtype == "bool":
        v = np.asarray(values)
        if v.dtype == np.float64:
            mask = np.isnan(v)
            return pa.array(np.where(mask, 0, v).astype(bool), type=pa.bool_(), mask=mask)
        return pa.array(v.astype(bool), type=pa.bool_())
    v = np.asarray(values, dtype=object)
    mask = (
        np.array([x is None or x == "" for x in v], dtype=bool)
        if len(v)
        else np.zeros(0, dtype=bool)
    )
    return pa.array(np.where(mask, "", v).astype(str), type=pa.string(), mask=mask)
