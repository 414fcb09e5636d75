"""The catalog is complete, agrees with the files, and renders to docs/features.md."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from contract.tables import GROUPS, TABLES
from features.catalog import UNITS, CatalogError, Feature, check_catalog
from features.definitions import BLOCKS, BY_NAME, CATALOG, KEY_COLUMNS, MODEL_FEATURES
from features.engine import Window, block_aliases, feature_sql
from pipelines.feature_docs import render
from tests.features.tiny import config, d, firms, write

ROOT = Path(__file__).resolve().parents[2]


def test_at_least_80_features_and_8_per_group() -> None:
    assert len(MODEL_FEATURES) >= 80
    per_group = Counter(BY_NAME[n].group for n in MODEL_FEATURES)
    assert set(per_group) == set(GROUPS)
    assert min(per_group.values()) >= 8, per_group


def test_every_entry_is_complete() -> None:
    check_catalog(CATALOG)  # raises on a gap
    for f in CATALOG:
        assert f.unit in UNITS
        assert set(f.sources) <= set(TABLES), f.name
        assert "enterprises" in f.sources, f.name
    with pytest.raises(CatalogError, match="defined twice"):
        check_catalog((BY_NAME["revoked"], BY_NAME["revoked"]))
    broken = Feature(
        "x_y",
        "base",
        "中",
        "en",
        "说明",
        "desc",
        "count",
        "1",
        ("enterprises",),
        template_zh="{nope}",
        template_en="{nope}",
    )
    with pytest.raises(CatalogError, match="unknown features"):
        check_catalog((broken,))


def test_features_name_the_tables_their_blocks_need() -> None:
    """A feature whose source table is absent is NaN: its `sources` must cover its blocks'."""
    blocks = {b.alias: b for b in BLOCKS}
    w = Window("2026-10", config(), frozenset(TABLES))

    def needed(alias: str) -> set[str]:
        b = blocks[alias]
        return set(b.sources).union(*(needed(n) for n in b.needs))

    for f in CATALOG:
        for alias in block_aliases(feature_sql(f, w)):
            assert needed(alias) <= set(f.sources), (f.name, alias)
            assert blocks[alias].joined, f"{f.name} reads {alias}, which is not joined"


def test_templates_render_with_real_values(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Every sentence formats with a real row (no unknown placeholder, no bad format spec)."""
    row = {
        f.name: (d("2026-01-01") if f.kind == "date" else "x" if f.kind == "category" else 1.5)
        for f in CATALOG
    }
    for f in CATALOG:
        for template in (f.template_zh, f.template_en):
            if template:
                template.format(value=row[f.name], **row)


def test_output_columns_are_the_catalog(tmp_path) -> None:  # type: ignore[no-untyped-def]
    folder = write(tmp_path / "t", {"enterprises": firms("E1")})
    from features.definitions import build_month
    from pipelines.features import connect, register_sources, source_tables

    cfg = config()
    con = connect(cfg)
    tables = source_tables(folder)
    register_sources(con, tables)
    table = build_month(con, "2026-10", cfg, tables)
    assert table.column_names == [*KEY_COLUMNS, *(f.name for f in CATALOG)]
    kinds = {"number": "double", "flag": "double", "category": "string", "date": "date32[day]"}
    for f in CATALOG:
        assert str(table.schema.field(f.name).type) == kinds[f.kind], f.name


def test_the_demo_file_columns_are_the_catalog(tmp_path, small_features) -> None:  # type: ignore[no-untyped-def]
    folder, _ = small_features
    for path in sorted(folder.glob("*.parquet")):
        schema = pq.read_schema(path)
        assert schema.names == [*KEY_COLUMNS, *(f.name for f in CATALOG)]
        assert schema.metadata[b"riskclass.month"].decode() == path.stem


def test_docs_are_current() -> None:
    """docs/features.md is generated; regenerate with `make docs` after changing a feature."""
    assert (ROOT / "docs" / "features.md").read_text(encoding="utf-8") == render()


def test_docs_name_every_feature() -> None:
    text = render()
    for f in CATALOG:
        assert f"`{f.name}`" in text
    assert re.search(rf"\*\*{len(MODEL_FEATURES)} features\*\*", text)


def test_one_connection_gives_the_same_months_in_any_order(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Building a month leaves no state behind that changes the next one (pipelines build
    a training history on one connection)."""
    from features.definitions import build_month
    from pipelines.features import connect, register_sources, source_tables

    folder = write(
        tmp_path,
        {
            "enterprises": firms("E1", "E2"),
            "penalties": [{"uscc": "E1", "decision_date": d("2026-05-01")}],
            "abnormal_list": [{"uscc": "E2", "listed_date": d("2025-02-01")}],
        },
    )
    cfg = config()
    con = connect(cfg)
    tables = source_tables(folder)
    register_sources(con, tables)
    months = ["2026-10", "2025-01", "2026-05", "2026-10"]
    built = [build_month(con, m, cfg, tables) for m in months]
    assert built[0].equals(built[3])
    assert built[0] != built[1]
    fresh = {}
    for month in set(months):
        c = connect(cfg)
        register_sources(c, tables)
        fresh[month] = build_month(c, month, cfg, tables)
    for month, table in zip(months, built, strict=True):
        assert table.equals(fresh[month]), month
