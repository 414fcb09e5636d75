"""`riskclass features` and `riskclass feature-docs` from the command line."""

from __future__ import annotations

import json

import pyarrow.parquet as pq
from typer.testing import CliRunner

from pipelines.cli import app
from tests.features.tiny import d, firms, write

runner = CliRunner()


def test_one_month_and_a_range(tmp_path) -> None:  # type: ignore[no-untyped-def]
    src = write(
        tmp_path / "interim",
        {
            "enterprises": firms("E1", "E2"),
            "penalties": [{"uscc": "E1", "decision_date": d("2026-05-01")}],
        },
    )
    out = tmp_path / "features"
    r = runner.invoke(
        app,
        [
            "features",
            "--source",
            str(src),
            "--out",
            str(out),
            "--as-of",
            "2026-10",
            "--summary-out",
            str(tmp_path / "s.json"),
        ],
    )
    assert r.exit_code == 0, r.output
    assert [p.name for p in out.glob("*.parquet")] == ["2026-10.parquet"]
    summary = json.loads((tmp_path / "s.json").read_text())
    assert summary["months"]["2026-10"]["enterprises"] == 2
    assert "judicial" in summary["absent_tables"]
    assert summary["missing_share_latest"]["jud_enforcement_open"] == 1.0

    r = runner.invoke(
        app,
        [
            "features",
            "--source",
            str(src),
            "--out",
            str(out),
            "--from",
            "2026-04",
            "--to",
            "2026-06",
        ],
    )
    assert r.exit_code == 0, r.output
    assert sorted(p.stem for p in out.glob("*.parquet")) == [
        "2026-04",
        "2026-05",
        "2026-06",
        "2026-10",
    ]
    assert pq.read_table(out / "2026-04.parquet").column("pen_count_12m").to_pylist() == [0.0, 0.0]
    assert pq.read_table(out / "2026-05.parquet").column("pen_count_12m").to_pylist() == [1.0, 0.0]


def test_bad_arguments_are_refused_clearly(tmp_path) -> None:  # type: ignore[no-untyped-def]
    src = write(tmp_path / "interim", {"enterprises": firms("E1")})
    base = ["features", "--source", str(src), "--out", str(tmp_path / "f")]
    r = runner.invoke(app, [*base, "--as-of", "2026-13"])
    assert r.exit_code == 2 and "YYYY-MM" in r.output
    r = runner.invoke(app, [*base, "--as-of", "2026-10", "--from", "2026-01", "--to", "2026-02"])
    assert r.exit_code == 2 and "not both" in r.output
    r = runner.invoke(app, [*base, "--from", "2026-05", "--to", "2026-01"])
    assert r.exit_code == 2 and "empty" in r.output
    r = runner.invoke(app, [*base])
    assert r.exit_code == 2 and "--as-of" in r.output
    r = runner.invoke(
        app,
        [
            "features",
            "--source",
            str(tmp_path / "nowhere"),
            "--as-of",
            "2026-10",
            "--out",
            str(tmp_path / "f"),
        ],
    )
    assert r.exit_code == 2 and "enterprises" in r.output


def test_feature_docs_command(tmp_path) -> None:  # type: ignore[no-untyped-def]
    r = runner.invoke(app, ["feature-docs", "--out", str(tmp_path / "f.md")])
    assert r.exit_code == 0
    assert "特征目录" in (tmp_path / "f.md").read_text(encoding="utf-8")
