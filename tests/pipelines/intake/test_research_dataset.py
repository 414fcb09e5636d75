"""An anonymised, labelled research data set ingested with configuration only (issue 18).

`simulator.research.write_research_dataset` writes a small extract (opaque ids, no registry
beyond them, annual reports, tax records, news sentiment, a wide table of yearly counts, a
label per enterprise); ``configs/sources/examples/research/`` holds what a user writes for
it: one source mapping per file and an ingest overlay (``id_scheme: opaque``,
``registry: ids_only``, the tables the extract lacks declared unavailable). The extract is
generated, ingested and turned into features once per module; each test checks one promise.
Also here: the mapping options the set needs (``unpivot``, ``period``, ``blank_texts``, a
unit on the indicators' value) and ``extends:`` of configuration files.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from contract.tables import TABLES
from features.definitions import CATALOG
from pipelines.cli import app
from pipelines.config import ConfigError, load_config
from pipelines.ingest import run_ingest
from pipelines.intake.config import IngestConfig
from pipelines.intake.readers import StructuralError
from pipelines.intake.sources import ColumnMapping, SourceMapping, ValueMapper, load_sources
from simulator.research import FILES, write_research_dataset
from tests.conftest import ROOT
from tests.interim import has_quarantine, has_table, read_quarantine, read_table

#: The tests share one ingested extract (module fixture): ``make test`` keeps them on one worker.
pytestmark = pytest.mark.xdist_group("research_dataset")

EXAMPLE = ROOT / "configs" / "sources" / "examples" / "research"
ENTERPRISES = 600
AS_OF = "2025-06"
#: The registry columns the extract does not have (everything but the id; the name is the id).
REGISTRY_ABSENT = {c.name for c in TABLES["enterprises"].columns if c.name not in ("uscc", "name")}
UNAVAILABLE = {
    "changes",
    "penalties",
    "abnormal_list",
    "serious_dishonest_list",
    "persons",
    "inspections",
}
INGESTED = {"enterprises", "annual_reports", "indicators"}
#: the labelled snapshot: given to `riskclass train --labels`, never ingested
LABELS = "标签.csv"


def research_config() -> IngestConfig:
    """The example overlay as a user runs it, its sources folder made absolute (the CLI
    reads it relative to the working directory, the repository root)."""
    cfg = load_config(EXAMPLE / "ingest.yaml", IngestConfig)
    assert cfg.sources is not None
    return cfg.model_copy(update={"sources": str(ROOT / cfg.sources)})


@dataclass
class Run:
    delivery: Path
    out: Path
    features: Path
    summary: dict[str, object]
    printed: str  # what ingest and features printed
    feature_summary: dict[str, Any]


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    """The extract generated, then ingested and turned into features by the commands a user
    runs from the repository root, with the example configuration only."""
    root = tmp_path_factory.mktemp("research")
    delivery, out, feats = root / "delivery", root / "interim", root / "features"
    summary = write_research_dataset(delivery, enterprises=ENTERPRISES, seed=3)
    runner = CliRunner()
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(ROOT)  # sources: in the overlay is relative to the working directory
        ingest = runner.invoke(
            app,
            ["ingest", "--source", str(delivery), "--out", str(out), "--as-of", AS_OF,
             "--config", str(EXAMPLE.relative_to(ROOT) / "ingest.yaml")],
        )  # fmt: skip
        assert ingest.exit_code == 0, ingest.output
        features = runner.invoke(
            app,
            ["features", "--source", str(out), "--out", str(feats), "--as-of", AS_OF,
             "--summary-out", str(root / "features.json")],
        )  # fmt: skip
        assert features.exit_code == 0, features.output
    fsum = json.loads((root / "features.json").read_text(encoding="utf-8"))
    return Run(delivery, out, feats, summary, ingest.output + features.output, fsum)


def _rows(path: Path) -> list[list[str]]:
    """The data rows of a CSV of the extract (decoded as the engine does: BOM, else GB18030)."""
    data = path.read_bytes()
    text = data[3:].decode("utf-8") if data.startswith(b"\xef\xbb\xbf") else data.decode("gb18030")
    return list(csv.reader(text.splitlines()))[1:]


def _recon(run: Run) -> dict[str, Any]:
    data = json.loads((run.out / "reconciliation.json").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


# --------------------------------------------------------------------------- the generator
def test_generator_is_deterministic(tmp_path: Path) -> None:
    """Same seed, same bytes (truth included); another seed, other files."""
    for name, seed in (("a", 0), ("b", 0), ("c", 1)):
        write_research_dataset(tmp_path / name, enterprises=150, seed=seed)
    names = sorted(
        p.relative_to(tmp_path / "a").as_posix() for p in (tmp_path / "a").rglob("*.csv")
    )
    assert names == sorted([*FILES, "truth/latent_risk.csv"])
    for n in names:
        assert (tmp_path / "a" / n).read_bytes() == (tmp_path / "b" / n).read_bytes(), n
    assert (tmp_path / "a" / "标签.csv").read_bytes() != (tmp_path / "c" / "标签.csv").read_bytes()


def test_generated_files_are_shaped_like_a_research_extract(run: Run) -> None:
    d = run.delivery
    assert (d / "企业名单.csv").read_bytes().startswith("\ufeff企业ID\r\n".encode())
    assert all(len(r) == 1 for r in _rows(d / "企业名单.csv")), "the list holds the ids only"
    with pytest.raises(UnicodeDecodeError):
        (d / "年报.csv").read_bytes().decode("utf-8")  # GB18030, as Excel saves it
    reports = _rows(d / "年报.csv")
    years = {r[1] for r in reports}
    assert years == {str(y) for y in range(2019, 2025)}
    assert len({r[0] for r in reports}) < ENTERPRISES, "some firms never filed a report"
    assert any("企业选择不公示" in r for r in reports)
    taxes = {r[1] for r in _rows(d / "纳税记录.csv")}
    assert {"增值税", "企业所得税", "个人所得税", "印花税", "城建税"} <= taxes
    news = {r[0] for r in _rows(d / "舆情.csv")}
    assert 0 < len(news) < ENTERPRISES, "not every firm has news"
    labels = [int(r[1]) for r in _rows(d / "标签.csv")]
    assert len(labels) == ENTERPRISES and 0.12 < sum(labels) / len(labels) < 0.3
    truth = pd.read_csv(d / "truth" / "latent_risk.csv")
    assert len(truth) == ENTERPRISES and truth["label"].tolist() == labels
    assert run.summary["files"] == {f: len(_rows(d / f)) for f in FILES}


# --------------------------------------------------------------------------- ingestion
def test_example_mappings_claim_every_file(run: Run) -> None:
    mappings = load_sources(EXAMPLE / "sources")
    claimed = {f: [m.source for m in mappings if m.matches(f)] for f in FILES}
    assert all(len(v) == (f != LABELS) for f, v in claimed.items()), claimed
    recon = _recon(run)
    assert recon["unused_sources"] == []
    # the truth is never read, and the labels are no table (train --labels reads them)
    assert sorted(recon["unknown_files"]) == sorted(["truth", LABELS])


def test_every_table_present_and_counts_reconcile(run: Run) -> None:
    recon = _recon(run)
    assert recon["unaccounted_rows"] == 0
    tables = recon["tables"]
    assert {t: v["status"] for t, v in tables.items()} == {
        t: "ingested" if t in INGESTED else "unavailable" if t in UNAVAILABLE else "absent"
        for t in TABLES
    }
    for t, v in tables.items():
        assert v["rows_read"] == v["accepted"] + v["quarantined"], t
        assert has_table(run.out, t) == (t in INGESTED), t
    assert tables["enterprises"]["accepted"] == ENTERPRISES
    # only the faults the extract carries: repeated tax rows, news of firms not on the list
    assert set(tables["indicators"]["quarantined_by_rule"]) == {"duplicate", "unknown_enterprise"}
    assert sum(v["quarantined"] for v in tables.values()) == tables["indicators"]["quarantined"]


def test_every_file_rows_read_equal_accepted_plus_quarantined(run: Run) -> None:
    """Per file of the delivery: its data rows (for the wide table: its non-blank cells)
    = accepted rows + quarantined rows that name it."""
    accepted: dict[str, int] = {}
    quarantined: dict[str, int] = {}
    for table in INGESTED:
        frame = read_table(run.out, table, columns=["_source_file"])
        for f, n in frame["_source_file"].value_counts().items():
            accepted[str(f)] = accepted.get(str(f), 0) + int(n)
        if has_quarantine(run.out, table):
            for f, n in read_quarantine(run.out, table)["source_file"].value_counts().items():
                quarantined[str(f)] = quarantined.get(str(f), 0) + int(n)
    files = _recon(run)["tables"]["indicators"]["source"]["files"]
    wide = next(f["unpivot"] for f in files if f["file"].endswith("司法_品牌_专利.csv"))
    for name in FILES:
        if name == LABELS:
            continue
        rows = len(_rows(run.delivery / name))
        if name == "司法_品牌_专利.csv":
            assert wide["file_rows"] == rows and wide["cells"] == 4 * rows
            rows = wide["cells"] - wide["blank_cells"]
            assert wide["rows"] == rows and wide["blank_cells"] > 0
        got = accepted.get(name, 0) + quarantined.get(name, 0)
        assert got == rows, (name, accepted.get(name), quarantined.get(name), rows)


def test_registry_of_ids_only_is_accepted_with_nulls(run: Run) -> None:
    reg = read_table(run.out, "enterprises")
    assert len(reg) == ENTERPRISES and reg["uscc"].str.fullmatch(r"E\d{7}").all()
    assert (reg["name"] == reg["uscc"]).all(), "an anonymised registry's name is its id"
    for col in REGISTRY_ABSENT:
        assert reg[col].isna().all(), f"{col} was invented"
    note = _recon(run)["tables"]["enterprises"]["source"]["registry"]
    assert note["scheme"] == "ids_only" and set(note["columns_absent"]) == REGISTRY_ABSENT
    availability = json.loads((run.out / "availability.json").read_text(encoding="utf-8"))
    assert availability["registry"] == note
    assert "the registry carries identifiers only" in " ".join(run.printed.split())
    assert set(availability["unavailable"]) == UNAVAILABLE
    results = _recon(run)["tables"]["enterprises"]["expectations"]["results"]
    assert not [k for k in results if k.startswith("expect_column_values_to_not_be_null(")
                and k != "expect_column_values_to_not_be_null(uscc)"]  # fmt: skip


def test_simulate_research_command(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["simulate-research", "--out", str(tmp_path), "--enterprises", "40", "--seed", "2"]
    )
    assert result.exit_code == 0, result.output
    assert "label prevalence" in result.output and "riskclass ingest" in result.output
    assert sorted(p.name for p in tmp_path.glob("*.csv")) == sorted(FILES)


def test_the_same_registry_is_refused_without_ids_only(run: Run, tmp_path: Path) -> None:
    cfg = research_config().model_copy(update={"registry": "full"})
    with pytest.raises(StructuralError, match="required column enterprises"):
        run_ingest(cfg, run.delivery, tmp_path / "interim", as_of=AS_OF)


def test_indicators_from_each_source(run: Run) -> None:
    ind = read_table(run.out, "indicators")
    codes = ind.groupby("_source_name")["indicator"].agg(set).to_dict()
    assert set(codes) == {"research_tax", "research_news", "research_counts"}
    assert codes["research_news"] == {"news_sentiment"}
    assert codes["research_counts"] == {
        "judgments",
        "judgments_as_defendant",
        "trademarks",
        "patents",
    }
    assert {"tax_vat", "tax_corporate_income", "tax_individual_income", "tax_stamp"} <= codes[
        "research_tax"
    ]
    tax = ind[ind["_source_name"] == "research_tax"]
    assert (tax["unit"] == "万元").all() and set(tax["value_text"].dropna()) == {"arrears"}
    assert (tax["indicator_date"].map(lambda d: (d + pd.Timedelta(days=1)).day) == 1).all()
    # amounts in 元 in the file, 万元 stored: the totals agree
    rows = _rows(run.delivery / "纳税记录.csv")
    total = sum(float(r[3]) for r in {tuple(r) for r in rows})  # exact repeats counted once
    assert tax["value"].sum() * 10000 == pytest.approx(total, rel=1e-9)
    news = ind[ind["_source_name"] == "research_news"]
    assert news["value"].between(-1, 1).all() and news["source"].notna().all()
    counts = ind[ind["_source_name"] == "research_counts"]
    assert (counts["indicator_date"].map(lambda d: (d.month, d.day)) == (12, 31)).all()


def test_labels_are_not_dressed_up_as_inspections(run: Run) -> None:
    assert not has_table(run.out, "inspections")
    availability = json.loads((run.out / "availability.json").read_text(encoding="utf-8"))
    assert "train --labels" in availability["unavailable"]["inspections"]


# --------------------------------------------------------------------------- features
def test_features_build_with_registry_features_missing(run: Run) -> None:
    assert run.feature_summary["months"] == {AS_OF: {"enterprises": ENTERPRISES}}
    assert set(UNAVAILABLE) <= set(run.feature_summary["absent_tables"])
    assert "tables not delivered" in run.printed
    frame = read_table(run.features, AS_OF)
    assert len(frame) == ENTERPRISES
    base = [f.name for f in CATALOG if f.group == "base"]
    assert base
    filled = [c for c in base if frame[c].notna().any()]
    assert not filled, f"registry-derived features not missing (NaN): {filled}"


# --------------------------------------------------------------------------- the options
def test_extends_builds_on_a_base_file(tmp_path: Path) -> None:
    (tmp_path / "base.yaml").write_text("a: 1\nb: [1, 2]\nc: x\n", encoding="utf-8")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "over.yaml").write_text("extends: ../base.yaml\nb: [3]\n", encoding="utf-8")
    (tmp_path / "loop.yaml").write_text("extends: loop.yaml\n", encoding="utf-8")
    from pydantic import BaseModel

    class M(BaseModel):
        a: int
        b: list[int]
        c: str

    assert load_config(tmp_path / "sub" / "over.yaml", M) == M(a=1, b=[3], c="x")
    with pytest.raises(ConfigError, match="cycle"):
        load_config(tmp_path / "loop.yaml", M)
    overlay = yaml.safe_load((EXAMPLE / "ingest.yaml").read_text(encoding="utf-8"))
    assert overlay["extends"] == "../../../ingest.yaml"
    cfg = load_config(EXAMPLE / "ingest.yaml", IngestConfig)
    base = load_config(ROOT / "configs" / "ingest.yaml", IngestConfig)
    assert (cfg.id_scheme, cfg.registry, base.registry) == ("opaque", "ids_only", "full")
    assert cfg.bounds == base.bounds and cfg.column_aliases == base.column_aliases


def _mapping(**extra: Any) -> SourceMapping:
    return SourceMapping.model_validate(
        {"source": "s", "table": "indicators", "files": ["x.csv"], **extra}
    )


def test_unpivot_is_checked() -> None:
    cols = {"商标数": "trademarks"}
    assert _mapping(unpivot={"columns": cols}).unpivot is not None
    with pytest.raises(ValueError, match="not a column of indicators"):
        _mapping(unpivot={"columns": cols, "name": "kind"})
    with pytest.raises(ValueError, match="comes from the unpivoted cells"):
        _mapping(unpivot={"columns": cols}, columns={"value": {"from": "数值"}})
    with pytest.raises(ValueError, match="also mapped"):
        _mapping(unpivot={"columns": cols}, columns={"unit": {"from": "商标数"}})
    with pytest.raises(ValueError, match="not a text column"):
        _mapping(unpivot={"columns": cols, "name": "value", "value": "value_text"})
    assert _mapping(unpivot={"columns": cols}, columns={"value": {"unit": "元"}}).unpivot


def test_period_and_units_of_the_indicators_value() -> None:
    with pytest.raises(ValueError, match="period applies to date columns"):
        _mapping(columns={"value": {"from": "v", "period": "last_day"}})
    period = ValueMapper(
        ColumnMapping.model_validate({"from": "p", "period": "last_day"}), False, None, "t"
    )
    assert [period(t)[0] for t in ("202402", "2024年3月", "2023", "2024-03-05")] == [
        "2024-02-29", "2024-03-31", "2023-12-31", "2024-03-05"]  # fmt: skip
    yuan = ColumnMapping.model_validate({"from": "v", "unit": "元"})
    # the indicators' value has no unit of its own: a bare number in 万元
    assert ValueMapper(yuan, False, None, "t", bare=True)("12345.6") == ("1.23456", "unit")
    # an amount column reads the unit itself
    assert ValueMapper(yuan, False, None, "t")("12345.6") == ("12345.6元", "unit")
