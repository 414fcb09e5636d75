"""All feature definitions together: the catalog, the blocks, and `build_month`.

>>> from features.definitions import CATALOG, MODEL_FEATURES
>>> len(MODEL_FEATURES) >= 80
True
"""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import AbstractContextManager

import duckdb
import pyarrow as pa

from features import base, dynamic, engine, relations, social, supervision
from features.catalog import Feature, check_catalog
from features.config import FeaturesConfig
from features.engine import Block

_MODULES = (base, dynamic, supervision, relations, social)

#: Every feature and context column, grouped in report order (base ... social).
CATALOG: tuple[Feature, ...] = tuple(f for m in _MODULES for f in m.FEATURES)
#: The names the model learns from.
MODEL_FEATURES: tuple[str, ...] = tuple(f.name for f in CATALOG if f.role == "model")
BLOCKS: tuple[Block, ...] = tuple(b for m in _MODULES for b in m.BLOCKS)
BY_NAME = {f.name: f for f in CATALOG}
#: Columns of a feature file besides the catalog's.
KEY_COLUMNS = ("uscc",)

check_catalog(CATALOG)


def month_batches(
    con: duckdb.DuckDBPyConnection, month: str, cfg: FeaturesConfig, tables: Iterable[str]
) -> AbstractContextManager[pa.RecordBatchReader]:
    """The features of ``month`` as a stream of record batches sorted by ``uscc``."""
    return engine.month_batches(con, month, cfg, tables, CATALOG, BLOCKS, base.population)


def build_month(
    con: duckdb.DuckDBPyConnection, month: str, cfg: FeaturesConfig, tables: Iterable[str]
) -> pa.Table:
    """Features of every enterprise of the population at the end of ``month`` (``YYYY-MM``)."""
    return engine.build_month(con, month, cfg, tables, CATALOG, BLOCKS, base.population)
