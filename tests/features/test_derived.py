"""Features derived from the bureau's own indicators and pass-through columns (issue 18)."""

from __future__ import annotations

import math
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from features.config import DerivedConfig
from features.definitions import full_catalog
from features.derived import DerivedSpec, Source, derive, slug
from pipelines.features import derived_path, run_features
from pipelines.frames import file_derived
from pipelines.paths import features_file
from tests.features.tiny import config, d, firms, write

FIRMS = [f"E{i:03d}" for i in range(30)]


def _indicators(rows: list[tuple[str, str, float | None, str | None, str, str]]) -> pa.Table:
    """(uscc, indicator, value, value_text, indicator_date, received_date) rows."""
    cols = list(zip(*rows, strict=True)) if rows else [[]] * 6
    return pa.table(
        {
            "uscc": pa.array(cols[0], pa.string()),
            "indicator": pa.array(cols[1], pa.string()),
            "group": pa.array([None] * len(rows), pa.string()),
            "value": pa.array(cols[2], pa.float64()),
            "value_text": pa.array(cols[3], pa.string()),
            "unit": pa.array([None] * len(rows), pa.string()),
            "indicator_date": pa.array([d(x) for x in cols[4]], pa.date32()),
            "source": pa.array(["税务"] * len(rows), pa.string()),
            "received_date": pa.array([d(x) for x in cols[5]], pa.date32()),
        }
    )


@pytest.fixture()
def delivered(tmp_path: Path) -> Path:
    folder = write(
        tmp_path / "interim",
        {"enterprises": firms(*FIRMS), "annual_reports": []},
    )
    rows: list[tuple[str, str, float | None, str | None, str, str]] = []
    for i, u in enumerate(FIRMS):
        if i == 0:
            continue  # E000 has no indicator at all
        # VAT paid every quarter of 2026 (E001 also one in 2024, outside 12 months)
        for m in ("01", "04", "07", "10"):
            rows.append((u, "增值税", float(i), None, f"2026-{m}-15", f"2026-{m}-20"))
        rows.append((u, "arrears", None, "是" if i % 3 == 0 else "否", "2026-06-30", "2026-07-01"))
        rows.append(
            (
                u,
                "sentiment_source",
                None,
                ["weibo", "news", "forum"][i % 3],
                "2026-05-01",
                "2026-05-01",
            )
        )
    rows.append(("E001", "增值税", 100.0, None, "2024-01-15", "2024-01-20"))
    # received after the month end: never counts, and never makes a feature exist
    rows.append(("E002", "增值税", 1000.0, None, "2026-10-20", "2026-11-05"))
    rows += [("E003", "rare", 1.0, None, "2026-01-01", "2026-01-01")]
    pq.write_table(_indicators(rows), folder / "indicators.parquet")
    # a pass-through column on the registry (numbers) and one identifier (never a feature)
    reg = pq.read_table(folder / "enterprises.parquet")
    reg = reg.append_column("x_employees", pa.array([float(i) if i else None for i in range(30)]))
    reg = reg.append_column("x_org_code", pa.array([f"O{i}" for i in range(30)]))
    pq.write_table(reg, folder / "enterprises.parquet")
    return folder


def _rows(out: Path, month: str) -> dict[str, dict[str, object]]:
    table = pq.read_table(features_file(out, month)).to_pylist()
    return {
        r["uscc"]: {k: None if isinstance(v, float) and math.isnan(v) else v for k, v in r.items()}
        for r in table
    }


def test_indicators_and_passthrough_become_point_in_time_features(
    delivered: Path, tmp_path: Path
) -> None:
    out = tmp_path / "features"
    report = run_features(config(), delivered, out, ["2026-10"])
    spec = report.derived
    keys = {s.key for s in spec.sources}
    assert keys == {
        "indicators:增值税",
        "indicators:arrears",
        "indicators:sentiment_source",
        "enterprises.x_employees",
    }
    skipped = dict(spec.skipped)
    assert "fewer than" in skipped["indicators:rare"]
    assert "enterprises.x_org_code" not in keys and "enterprises.x_org_code" not in skipped
    # the spec is kept beside the files and in every file's metadata
    assert derived_path(out).is_file()
    assert file_derived(features_file(out, "2026-10")) == spec
    rows = _rows(out, "2026-10")
    vat = f"ind_{slug('增值税')}"
    e1, e2, e0 = rows["E001"], rows["E002"], rows["E000"]
    assert e1[f"{vat}_n_12m"] == 4 and e1[f"{vat}_n_36m"] == 5
    assert e1[f"{vat}_sum_12m"] == 4.0 and e1[f"{vat}_max_36m"] == 100.0
    assert e1[f"{vat}_last"] == 1.0
    assert e1[f"{vat}_days_since"] == (d("2026-10-31") - d("2026-10-15")).days
    # the record received in November is not known at the end of October
    assert e2[f"{vat}_max_12m"] == 2.0 and e2[f"{vat}_n_12m"] == 4
    # a firm without any record: counts are true zeros, every other statistic missing
    assert e0[f"{vat}_n_12m"] == 0 and e0[f"{vat}_sum_12m"] is None
    assert e0[f"{vat}_last"] is None and e0[f"{vat}_days_since"] is None
    # yes/no words are a flag; other text is a category with per-category counts
    assert rows["E003"]["ind_arrears_text_share_12m"] == 1.0
    assert rows["E004"]["ind_arrears_text_share_12m"] == 0.0
    assert rows["E004"]["ind_sentiment_source_text_last"] == "news"
    assert rows["E004"]["ind_sentiment_source_text_news_n_12m"] == 1
    assert rows["E004"]["ind_sentiment_source_text_weibo_n_12m"] == 0
    assert rows["E004"]["x_enterprises_employees"] == 4.0
    assert e0["x_enterprises_employees"] is None


def test_derived_features_are_in_the_catalog_with_their_origin(
    delivered: Path, tmp_path: Path
) -> None:
    report = run_features(config(), delivered, tmp_path / "f", ["2026-10"])
    catalog = {f.name: f for f in full_catalog(report.derived)}
    f = catalog[f"ind_{slug('增值税')}_sum_12m"]
    assert "增值税" in f.zh and "indicators" in f.zh_desc and f.direction == 0
    assert catalog["x_enterprises_employees"].group == "base"
    # the file holds exactly the catalog's columns, in order
    names = pq.read_schema(features_file(tmp_path / "f", "2026-10")).names
    assert names == ["uscc", *catalog]


def test_the_spec_is_kept_between_runs_and_rediscovered_on_request(
    delivered: Path, tmp_path: Path
) -> None:
    out = tmp_path / "f"
    first = run_features(config(), delivered, out, ["2026-10"])
    # a new indicator arrives: the kept spec keeps the columns stable ...
    extra = _indicators([(u, "patents", 1.0, None, "2026-09-01", "2026-09-01") for u in FIRMS])
    table = pa.concat_tables([pq.read_table(delivered / "indicators.parquet"), extra])
    pq.write_table(table, delivered / "indicators.parquet")
    again = run_features(config(), delivered, out, ["2026-10"])
    assert again.derived == first.derived and again.catalog == first.catalog
    # ... until asked to look again (a new catalog fingerprint: models must be retrained)
    fresh = run_features(config(), delivered, out, ["2026-10"], rediscover=True)
    assert "indicators:patents" in {s.key for s in fresh.derived.sources}
    assert fresh.catalog != first.catalog


def test_a_configured_direction_and_an_exclusion(delivered: Path, tmp_path: Path) -> None:
    cfg = config(
        derived=DerivedConfig(
            directions={"indicators:增值税": -1}, exclude=("indicators:sentiment_source",)
        )
    )
    report = run_features(cfg, delivered, tmp_path / "f", ["2026-10"])
    catalog = {f.name: f for f in full_catalog(report.derived)}
    vat = f"ind_{slug('增值税')}"
    assert catalog[f"{vat}_sum_12m"].direction == -1
    assert catalog[f"{vat}_n_12m"].direction == 0  # a count says nothing about the direction
    assert "indicators:sentiment_source" in dict(report.derived.skipped)


def test_no_delivered_extras_leave_the_catalog_and_its_fingerprint_alone(tmp_path: Path) -> None:
    from pipelines.features import catalog_fingerprint

    folder = write(tmp_path / "interim", {"enterprises": firms(*FIRMS)})
    report = run_features(config(), folder, tmp_path / "f", ["2026-10"])
    assert not report.derived and report.catalog == catalog_fingerprint(config())
    assert not derived_path(tmp_path / "f").exists()


def test_spec_round_trips() -> None:
    spec = DerivedSpec(
        (Source("indicators", "x'y", "category", "social", "x'y", ("a", "b"), text=True),),
        (12,),
        (("indicators:z", "free text"),),
    )
    assert DerivedSpec.from_json(spec.to_json()) == spec
    feats, blocks = derive(spec)
    assert feats and blocks  # a quote in a code is escaped in the SQL
