"""`riskclass preview-source`: a mapping tried on one file explains the header it found,
each column's fate, the value coverage of every mapping and the rows that would be
quarantined, and writes nothing but its JSON (issue 17)."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pipelines.cli import app
from pipelines.config import load_config
from pipelines.ingest import run_ingest
from pipelines.intake.config import IngestConfig
from pipelines.intake.preview import preview
from pipelines.intake.sources import load_sources
from simulator.exports import write_case
from tests.conftest import ROOT

CASES = Path(__file__).resolve().parent / "real_exports"
pytestmark = pytest.mark.xdist_group("preview")


@pytest.fixture(scope="module")
def wide(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The 27-column export, and an interim folder holding its registry."""
    root = tmp_path_factory.mktemp("preview")
    delivery = root / "delivery"
    write_case("wide_export", delivery)
    export = next(delivery.glob("行政处罚信息_双公示_*.csv"))
    # the registry alone, ingested as a bureau would have it before the new export arrives
    registry_only = root / "registry_delivery"
    registry_only.mkdir()
    for f in delivery.iterdir():
        if f != export:
            shutil.copy2(f, registry_only / f.name)
    (registry_only / "penalties.csv").write_text(
        "uscc,decision_no,penalty_kind,cause,decision_date,amount,minor,repaired_date,received_date\n",
        encoding="utf-8",
    )
    cfg = load_config(ROOT / "configs" / "ingest.yaml", IngestConfig)
    run_ingest(cfg, registry_only, root / "interim", as_of="2025-07")
    return {"export": export, "interim": root / "interim", "root": root}


def test_preview_explains_header_columns_values_and_rows(wide: dict[str, Path]) -> None:
    cfg = load_config(ROOT / "configs" / "ingest.yaml", IngestConfig)
    mapping = load_sources(CASES / "wide_export" / "sources")[0]
    before = sorted(p.name for p in wide["root"].rglob("*"))
    p = preview(
        cfg,
        wide["export"],
        mapping,
        registry=wide["interim"],
        as_of="2025-07",
        delivery_date=dt.date(2025, 7, 3),
    ).to_dict()
    # the header: found under its title rows although only a few of 27 headers are the contract's
    assert p["header"]["row"] > 1 and p["header"]["verdict"] == "clear"
    assert p["header"]["non_empty_cells"] == 27
    fates = {c["header"]: c for c in p["columns"]}
    assert len(fates) == 27
    assert "mapped" in {c["fate"] for c in fates.values()}
    assert any(c["fate"].startswith("ignored") for c in fates.values())
    assert any(c.get("by") == "source mapping" for c in fates.values())
    assert not p["missing_required"]
    # value coverage: every rewritten column, each distinct text with what it became and how
    assert "penalty_kind" in p["values"]
    kinds = p["values"]["penalty_kind"]
    assert all(e["valid_code"] for e in kinds if e["value"] is not None)
    assert sum(e["rows"] for e in kinds) == p["rows"]["read"]
    # the rows: what ingestion would do, reconciled, with the reasons of the quarantined ones
    rows = p["rows"]
    assert rows["read"] == rows["accepted"] + rows["quarantined"] == 12
    assert rows["quarantined_by_rule"] == {"filtered": 2}
    assert len(p["quarantine_sample"]) == 2
    assert all(e["reason_zh"] and e["reason_en"] for e in p["quarantine_sample"])
    # nothing was written beside the inputs
    assert sorted(p.name for p in wide["root"].rglob("*")) == before


def test_cli_preview_writes_only_its_json(wide: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "preview.json"
    result = CliRunner().invoke(
        app,
        [
            "preview-source",
            str(wide["export"]),
            "--mapping",
            str(CASES / "wide_export" / "sources" / "tianhe_shuanggongshi.yaml"),
            "--registry",
            str(wide["interim"]),
            "--as-of",
            "2025-07",
            "--delivery-date",
            "2025-07-03",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "header: row" in result.output and "values of penalty_kind" in result.output
    data = json.loads(out.read_text(encoding="utf-8"))
    assert data["table"] == "penalties" and data["rows"]["read"] == 12
    assert list(tmp_path.iterdir()) == [out]


def test_cli_preview_refuses_a_broken_mapping(wide: dict[str, Path], tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("table: penalties\nfiles: ['*']\ncolumns: {amount: {from: x, unit: 斤}}\n")
    result = CliRunner().invoke(app, ["preview-source", str(wide["export"]), "--mapping", str(bad)])
    assert result.exit_code == 2
    assert "columns.amount.unit" in result.output and "[rule: source mapping]" in result.output


def test_cli_preview_without_a_mapping_names_the_options(wide: dict[str, Path]) -> None:
    result = CliRunner().invoke(app, ["preview-source", str(wide["export"])])
    assert result.exit_code == 2
    assert "--mapping" in result.output and "--table" in result.output
