"""All feature definitions together: the catalog, the blocks, and `build_month`.

>>> from features.definitions import CATALOG, MODEL_FEATURES
>>> len(MODEL_FEATURES) >= 80
True
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from contextlib import AbstractContextManager

import duckdb
import pyarrow as pa

from features import base, dynamic, engine, relations, social, supervision
from features.catalog import Feature, check_catalog
from features.config import FeaturesConfig
from features.derived import DerivedSpec, derive
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


def full_catalog(derived: DerivedSpec | None = None) -> tuple[Feature, ...]:
    """The catalog with the features derived from the bureau's own columns (`features.derived`)
    after it: what a feature file built with ``derived`` holds, in column order."""
    if not derived:
        return CATALOG
    extra, _ = derive(derived)
    catalog = CATALOG + extra
    check_catalog(catalog)
    return catalog


def lookup(derived: DerivedSpec | None = None) -> dict[str, Feature]:
    """Every feature by name, derived ones included."""
    return {f.name: f for f in full_catalog(derived)}


def month_batches(
    con: duckdb.DuckDBPyConnection,
    month: str,
    cfg: FeaturesConfig,
    tables: Iterable[str],
    derived: DerivedSpec | None = None,
    coverage: Mapping[str, dt.date] | None = None,
) -> AbstractContextManager[pa.RecordBatchReader]:
    """The features of ``month`` as a stream of record batches sorted by ``uscc`` (with the
    features ``derived`` from the bureau's own columns after the catalog's). ``coverage``:
    the first day each table's records cover (``availability.json``); none: not censored."""
    extra, blocks = derive(derived) if derived else ((), ())
    return engine.month_batches(
        con,
        month,
        cfg,
        tables,
        CATALOG + extra,
        BLOCKS + blocks,
        base.population,
        coverage=coverage,
    )


def build_month(
    con: duckdb.DuckDBPyConnection,
    month: str,
    cfg: FeaturesConfig,
    tables: Iterable[str],
    derived: DerivedSpec | None = None,
    coverage: Mapping[str, dt.date] | None = None,
) -> pa.Table:
    """Features of every enterprise of the population at the end of ``month`` (``YYYY-MM``)."""
    with month_batches(con, month, cfg, tables, derived, coverage) as reader:
        return reader.read_all()
